import { ROLES, type Role } from '../protocol/messages.ts';

export { ROLES, type Role };

/** Who a request comes from: a verified token's subject and roles (transport/auth.ts checks tokens). */
export interface Principal {
  readonly userId: string;
  readonly roles: readonly Role[];
  /** When the token's `exp` ends this authentication (ms since the epoch); absent without `exp`. */
  readonly expiresAt?: number;
}

/** Roles of PROTOCOL.md (Tokens) do not include one another: an admin is not a trader. */
export function hasRole(principal: Principal | undefined, role: Role): boolean {
  return principal?.roles.includes(role) ?? false;
}
