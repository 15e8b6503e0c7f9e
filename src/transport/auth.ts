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

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<Outcome<Principal>> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      const claims = Claims.safeParse(payload);
      if (!claims.success) return failure('unauthorized', 'token claims must be sub (string) and roles');
      const { sub, roles, exp } = claims.data;
      return success({
        userId: sub,
        roles: [...new Set(roles)],
        ...(exp === undefined ? {} : { expiresAt: exp * 1000 }),
      });
    } catch (error) {
      if (error instanceof errors.JWTExpired) return failure('unauthorized', 'token expired');
      if (error instanceof errors.JOSEError) return failure('unauthorized', `invalid token (${error.code})`);
      throw error;
    }
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
