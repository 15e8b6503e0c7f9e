import { z } from 'zod/v4';
import { DevTokenBody } from './devSignIn.ts';
import { SystemSnapshotShape } from './system.ts';

/**
 * The descriptions of the web pages' routes (issue 20: http/devSignIn.ts, http/system.ts), spread
 * into OPERATIONS (operations.ts checks their shape).
 */

const BASE = '/api/v1';

export const WEB_OPERATIONS = {
  [`post ${BASE}/dev/token`]: {
    summary: 'Development sign-in: mints a 12 h token for a user id and roles (NODE_ENV=development only)',
    tag: 'operations',
    body: { schema: DevTokenBody },
    ok: {
      status: 201,
      shape: z.object({ token: z.string(), userId: z.string(), roles: z.array(z.string()) }),
    },
    errors: ['not_found'],
  },
  [`get ${BASE}/admin/system`]: {
    summary:
      "Every actor's figures for the visualizer: supervisor and markets, journal writer, durable consumers' cursors and lag, job queues, chain client",
    tag: 'admin',
    ok: { status: 200, shape: SystemSnapshotShape },
  },
} as const;
