// The feed of identity changes (table identity_changes, written by triggers): what the per-process caller
// cache (server/auth/caller-cache.ts) follows to drop callers that changed.
import { sql } from 'kysely';
import type { IdentityChange, IdentityChangeFeed } from '../../auth/caller-cache.ts';
import type { Executor } from '../../db/executor.ts';

export function identityChangeFeed(db: Executor): IdentityChangeFeed {
  return {
    async latest() {
      const row = await db.selectFrom('identity_changes').select(sql<string | null>`max(id)::text`.as('id')).executeTakeFirst();
      return Number(row?.id ?? 0);
    },
    async since(id, limit) {
      const rows = await db
        .selectFrom('identity_changes')
        .select(['kind', 'subject', sql<string>`id::text`.as('id'), sql<number>`(extract(epoch from (now() - changed_at)) * 1000)::float8`.as('age_ms')])
        .where('id', '>', String(id))
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r): IdentityChange => ({ id: Number(r.id), kind: r.kind, subject: r.subject, ageMs: Number(r.age_ms) }));
    },
    async prune(before) {
      await db.deleteFrom('identity_changes').where('changed_at', '<', before).execute();
    },
  };
}
