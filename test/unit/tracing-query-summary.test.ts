// The name and attributes of a PostgreSQL span come from its SQL: the operation and, for the four DML
// statements, the table (Kysely quotes identifiers).
import { describe, expect, it } from 'vitest';
import { summarize } from '../../server/observability/tracing-sdk.ts';

describe('summarize', () => {
  it.each([
    ['select "id", "name" from "agents" where "team_id" = $1', 'SELECT', 'agents'],
    ['insert into "alerts" ("id", "title") values ($1, $2) returning *', 'INSERT', 'alerts'],
    ['update "webhooks" set "active" = $1 where "id" = $2', 'UPDATE', 'webhooks'],
    ['delete from "events" where "id" in (select "id" from "events" limit $1)', 'DELETE', 'events'],
    ['  select pg_try_advisory_xact_lock($1) as locked', 'SELECT', undefined],
    ['with room(webhook_id, free) as (select * from unnest($1::uuid[])) update webhook_deliveries d set x = 1', 'WITH', undefined],
    ['begin', 'BEGIN', undefined],
  ])('%s → %s %s', (sql, operation, table) => {
    expect(summarize(sql)).toEqual({ operation, table });
  });
});
