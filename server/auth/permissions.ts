// Permissions and roles as the contract declares them: each operation's one required permission is
// in its security requirements (`security: []` marks a deliberately public operation), and roles are
// `x-roles`. Nothing here is a second list: it is all read from the bundled spec.
import type { components } from '../../generated/openapi.d.ts';
import { operationsById, spec } from '../contract.ts';

export type Permission = components['schemas']['Permission'];
export type RoleName = components['schemas']['RoleName'];
export type Role = components['schemas']['Role'];

interface SpecExtensions {
  'x-permissions': Record<Permission, string>;
  'x-roles': Record<RoleName, { description: string; permissions: Permission[] }>;
}

const extensions = spec as unknown as SpecExtensions;

export const roles: readonly Role[] = Object.entries(extensions['x-roles']).map(([name, role]) => ({
  name: name as RoleName,
  description: role.description,
  permissions: role.permissions,
}));

const rolePermissions = new Map(roles.map((r) => [r.name, new Set(r.permissions)]));

export function permissionsOf(role: RoleName): ReadonlySet<Permission> {
  return rolePermissions.get(role) ?? new Set();
}

/**
 * The permission each operation requires, or `null` for a public one. Start-up fails when an operation
 * does not say (no operation-level `security`) or its requirements disagree.
 */
export const requiredPermissions: ReadonlyMap<string, Permission | null> = new Map(
  [...operationsById.values()].map(({ operationId, operation }) => {
    const security = operation.security;
    if (!security) throw new Error(`${operationId} must declare its security (\`security: []\` when public)`);
    if (security.length === 0) return [operationId, null];
    const scopes = new Set(security.flatMap((requirement) => Object.values(requirement).flat()));
    const [permission] = scopes;
    if (scopes.size !== 1 || !permission || !(permission in extensions['x-permissions'])) {
      throw new Error(`${operationId} must require exactly one known permission, got ${[...scopes].join(', ') || 'none'}`);
    }
    return [operationId, permission as Permission];
  }),
);
