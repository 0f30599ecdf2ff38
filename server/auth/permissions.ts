// Roles as the contract declares them (`x-roles`, each a set of `x-permissions`). Each operation's one
// required permission is in its security requirements, read into the operation table (operation-table.ts).
import type { components } from '../../generated/openapi.d.ts';
import { rootExtensions } from '../contract.ts';

export type Permission = components['schemas']['Permission'];
export type RoleName = components['schemas']['RoleName'];
export type Role = components['schemas']['Role'];

export const roles: readonly Role[] = Object.entries(rootExtensions['x-roles']).map(([name, role]) => ({
  name: name as RoleName,
  description: role.description,
  permissions: role.permissions as Permission[],
}));

const rolePermissions = new Map(roles.map((r) => [r.name, new Set(r.permissions)]));

export function permissionsOf(role: RoleName): ReadonlySet<Permission> {
  return rolePermissions.get(role) ?? new Set();
}
