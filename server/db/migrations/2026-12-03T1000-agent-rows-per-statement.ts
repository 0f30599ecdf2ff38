// The change feed's `agent_row` changes are written once per statement instead of once per row: a statement-level
// trigger with a transition table inserts every changed agent's id in one INSERT … SELECT. What the feed holds is
// the same (one change per updated or deleted agent); what it costs is not: the heartbeats of a fleet are written
// a few hundred agents per UPDATE (server/db/batcher.ts), and a row trigger ran its function for each of them
// (about half of such an UPDATE's time on PostgreSQL 15).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop trigger agents_row_change on agents`.execute(db);
  await sql`
    create function note_agent_rows_changed() returns trigger language plpgsql as $$
    begin
      insert into change_feed (kind, subject) select 'agent_row', id::text from changed_rows;
      return null;
    end $$`.execute(db);
  // A transition table belongs to one event, so updates and deletions each have their trigger.
  await sql`create trigger agents_rows_updated after update on agents referencing old table as changed_rows for each statement execute function note_agent_rows_changed()`.execute(db);
  await sql`create trigger agents_rows_deleted after delete on agents referencing old table as changed_rows for each statement execute function note_agent_rows_changed()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger agents_rows_deleted on agents`.execute(db);
  await sql`drop trigger agents_rows_updated on agents`.execute(db);
  await sql`drop function note_agent_rows_changed()`.execute(db);
  await sql`create trigger agents_row_change after update or delete on agents for each row execute function note_row_change('agent_row')`.execute(db);
}
