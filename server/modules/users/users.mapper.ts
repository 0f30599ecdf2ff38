import type { components } from '../../../generated/openapi.d.ts';
import type { PublicUserRow } from './users.repository.ts';

export type User = components['schemas']['User'];

export function toUser(row: PublicUserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    rate_tier: row.rate_tier,
    active: row.active,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
