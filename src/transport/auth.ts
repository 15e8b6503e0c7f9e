import { createHmac, timingSafeEqual, webcrypto } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod/v4';
import { failure, success, type Outcome } from '../protocol/errors.ts';
import { ROLES, type Principal, type Role } from '../services/principal.ts';

export { hasRole, ROLES, type Principal, type Role } from '../services/principal.ts';

const Claims = z.object({
  sub: z.string().min(1).max(128),
  roles: z.array(z.enum(ROLES)).max(ROLES.length),
  exp: z.number().optional(),
});

/** Verifies HS256 JWTs (claims `sub`, `roles`, `exp` honoured) and mints them for development. */
export class Authenticator {
  private readonly key: Uint8Array;
  private cryptoKey: Promise<webcrypto.CryptoKey> | undefined;
  /** Tokens verifyNow accepted (their principals), at most VERIFIED_CACHE_SIZE. */
  private readonly verified = new Map<string, Principal>();

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<Outcome<Principal>> {
    try {
      // The key imported once (jose imports a Uint8Array secret on every call otherwise).
      this.cryptoKey ??= webcrypto.subtle.importKey(
        'raw',
        this.key,
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      const { payload } = await jwtVerify(token, await this.cryptoKey, { algorithms: ['HS256'] });
      return principalOf(payload);
    } catch (error) {
      if (error instanceof errors.JWTExpired) return failure('unauthorized', 'token expired');
      if (error instanceof errors.JOSEError) return failure('unauthorized', `invalid token (${error.code})`);
      throw error;
    }
  }

  /**
   * `verify`, synchronously (node:crypto's HMAC): for the WebSocket upgrade, which must be answered
   * inside uWS's upgrade handler (src/transport/gateway.ts says why). Stricter than jose in one
   * point: a `crit` header is refused. test/unit/auth.test.ts holds it to jose's answers.
   */
  verifyNow(token: string): Outcome<Principal> {
    const cached = this.verified.get(token);
    if (cached !== undefined) {
      // Its signature and claims were checked already: only time can have changed the answer.
      // The same comparison as #check's (exp against whole seconds).
      if (cached.expiresAt !== undefined && cached.expiresAt / 1000 <= Math.floor(Date.now() / 1000)) {
        this.verified.delete(token);
        return failure('unauthorized', 'token expired');
      }
      return success(cached);
    }
    const answer = this.#check(token);
    if (answer.ok) {
      // Bounded: a full cache starts over (a service token posting thousands of times a second
      // is verified once; a flood of distinct valid tokens costs what it did without the cache).
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      this.verified.set(token, answer.value);
    }
    return answer;
  }

  #check(token: string): Outcome<Principal> {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) return invalid('ERR_JWS_INVALID');
    const [head = '', body = '', signature = ''] = parts;
    const header = jsonObjectOf(head);
    if (header === undefined || header.crit !== undefined) return invalid('ERR_JWS_INVALID');
    if (header.alg !== 'HS256') return invalid('ERR_JOSE_ALG_NOT_ALLOWED');
    const expected = createHmac('sha256', this.key).update(`${head}.${body}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return invalid('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    }
    const payload = jsonObjectOf(body);
    if (payload === undefined) return invalid('ERR_JWT_INVALID');
    // jose's claim checks (no clock tolerance): numeric dates, nbf not ahead, exp not reached.
    const { exp, nbf, iat } = payload;
    if ([exp, nbf, iat].some((claim) => claim !== undefined && typeof claim !== 'number')) {
      return invalid('ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof nbf === 'number' && nbf > now) return invalid('ERR_JWT_CLAIM_VALIDATION_FAILED');
    if (typeof exp === 'number' && exp <= now) return failure('unauthorized', 'token expired');
    return principalOf(payload);
  }

  /** A signed token; `expiresIn` like '1h' or seconds. */
  async mint(userId: string, roles: readonly Role[], expiresIn: string | number = '12h'): Promise<string> {
    return new SignJWT({ roles: [...roles] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(this.key);
  }
}

/** Most accepted tokens verifyNow remembers. */
const VERIFIED_CACHE_SIZE = 1_024;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const invalid = (code: string): Outcome<Principal> => failure('unauthorized', `invalid token (${code})`);

/** The JSON object a base64url segment encodes, or undefined. */
function jsonObjectOf(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function principalOf(payload: unknown): Outcome<Principal> {
  const claims = Claims.safeParse(payload);
  if (!claims.success) return failure('unauthorized', 'token claims must be sub (string) and roles');
  const { sub, roles, exp } = claims.data;
  return success({
    userId: sub,
    roles: [...new Set(roles)],
    ...(exp === undefined ? {} : { expiresAt: exp * 1000 }),
  });
}
