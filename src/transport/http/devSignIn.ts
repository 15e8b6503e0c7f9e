import { z } from 'zod/v4';
import { describeIssues } from '../../protocol/schemas.ts';
import type { Authenticator, Role } from '../auth.ts';
import { errorReply, json, type createRouter } from './router.ts';

/*
 * Development sign-in (issue 20): the trading page's "sign in as" mints a token here, so a person
 * trying the exchange locally needs no script. It answers only when the server runs with
 * NODE_ENV=development: elsewhere it is `not_found`, as if it did not exist, and mints nothing.
 */

const BASE = '/api/v1';
/** How long a development token lives. */
const DEV_TOKEN_TTL = '12h';

export const DevTokenBody = z
  .object({
    userId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'userId: 1-64 of [A-Za-z0-9_-]'),
    roles: z
      .array(z.enum(['trader', 'issuer', 'admin']))
      .min(1)
      .max(3),
  })
  .strict();

export function registerDevSignIn(
  route: ReturnType<typeof createRouter>,
  auth: Authenticator,
  development: boolean,
): void {
  route('post', `${BASE}/dev/token`, { body: true }, async ({ body }) => {
    if (!development)
      return errorReply('not_found', 'development sign-in runs only when NODE_ENV=development');
    const parsed = DevTokenBody.safeParse(body);
    if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
    const roles = [...new Set(parsed.data.roles)] as Role[];
    const token = await auth.mint(parsed.data.userId, roles, DEV_TOKEN_TTL);
    return json(201, { token, userId: parsed.data.userId, roles });
  });
}
