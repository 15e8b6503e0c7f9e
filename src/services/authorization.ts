import { failure, success } from '../protocol/errors.ts';
import type { Authorize, IssuanceAction } from './issuance.ts';

/** The entity-permissions service as issuance asks it (src/integrations/entityPermissions.ts answers). */
export interface PermissionsService {
  authorize(request: {
    readonly principalId: string;
    readonly principalType: string;
    readonly entityId: string;
    readonly action: IssuanceAction;
    readonly context: { readonly roles: readonly string[]; readonly [key: string]: unknown };
  }): Promise<
    | {
        readonly ok: true;
        readonly value: { readonly allowed: boolean; readonly reasons: readonly string[] };
      }
    | { readonly ok: false; readonly message: string }
  >;
}

/**
 * Issuance's authorization through the entity-permissions service: allowed, `forbidden` with the
 * service's reasons, or `unavailable` when the service does not answer.
 */
export function authorizeWith(permissions: PermissionsService): Authorize {
  return async ({ principal, action, entityId, context }) => {
    const decided = await permissions.authorize({
      principalId: principal.userId,
      principalType: 'user',
      entityId,
      action,
      context: { ...context, roles: principal.roles },
    });
    if (!decided.ok) return failure('unavailable', decided.message);
    if (decided.value.allowed) return success(undefined);
    const why = decided.value.reasons.join('; ');
    return failure('forbidden', `${action} on ${entityId} is not allowed${why === '' ? '' : `: ${why}`}`);
  };
}
