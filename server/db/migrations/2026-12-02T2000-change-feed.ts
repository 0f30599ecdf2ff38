// The identity feed becomes the change feed: the same table (renamed change_feed), the same identity triggers,
// and one more kind, `agent_row`: any update or deletion of an agent, telemetry included. Each server process
// keeps the agents it answered (`getAgent`, the hottest read of the fleet) and reads this feed to drop the ones
// that changed, whoever changed them: a request, the sweeper turning silent agents offline, a heartbeat, a
// manual UPDATE in psql (server/db/change-feed.ts, server/db/cached-rows.ts). Inserts need no row: a process
// only keeps agents it has read, and a read never keeps a miss.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table identity_changes rename to change_feed`.execute(db);
  await sql`alter sequence identity_changes_id_seq rename to change_feed_id_seq`.execute(db);
  await sql`alter index identity_changes_pkey rename to change_feed_pkey`.execute(db);
  await sql`
    create or replace function note_identity_change() returns trigger language plpgsql as $$
    declare
      change_kind text := tg_argv[0];
      change_subject text;
    begin
      -- One branch per table: a branch reads only the columns its table has.
      if change_kind = 'user' or change_kind = 'agent' then
        if tg_op = 'DELETE' then change_subject := old.id::text; else change_subject := new.id::text; end if;
      elsif change_kind = 'membership' then
        if tg_op = 'DELETE' then change_subject := old.user_id::text; else change_subject := new.user_id::text; end if;
        if tg_op = 'UPDATE' and old.user_id <> new.user_id then
          insert into change_feed (kind, subject) values (change_kind, old.user_id::text);
        end if;
      else
        if tg_op = 'DELETE' then change_subject := old.prefix::text; else change_subject := new.prefix::text; end if;
      end if;
      insert into change_feed (kind, subject) values (change_kind, change_subject);
      return null;
    end $$`.execute(db);
  await sql`
    create function note_row_change() returns trigger language plpgsql as $$
    begin
      insert into change_feed (kind, subject) values (tg_argv[0], old.id::text);
      return null;
    end $$`.execute(db);
  await sql`create trigger agents_row_change after update or delete on agents for each row execute function note_row_change('agent_row')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists agents_row_change on agents`.execute(db);
  await sql`drop function if exists note_row_change()`.execute(db);
  await sql`delete from change_feed where kind = 'agent_row'`.execute(db);
  await sql`alter index change_feed_pkey rename to identity_changes_pkey`.execute(db);
  await sql`alter sequence change_feed_id_seq rename to identity_changes_id_seq`.execute(db);
  await sql`alter table change_feed rename to identity_changes`.execute(db);
  await sql`
    create or replace function note_identity_change() returns trigger language plpgsql as $$
    declare
      change_kind text := tg_argv[0];
      change_subject text;
    begin
      if change_kind = 'user' or change_kind = 'agent' then
        if tg_op = 'DELETE' then change_subject := old.id::text; else change_subject := new.id::text; end if;
      elsif change_kind = 'membership' then
        if tg_op = 'DELETE' then change_subject := old.user_id::text; else change_subject := new.user_id::text; end if;
        if tg_op = 'UPDATE' and old.user_id <> new.user_id then
          insert into identity_changes (kind, subject) values (change_kind, old.user_id::text);
        end if;
      else
        if tg_op = 'DELETE' then change_subject := old.prefix::text; else change_subject := new.prefix::text; end if;
      end if;
      insert into identity_changes (kind, subject) values (change_kind, change_subject);
      return null;
    end $$`.execute(db);
}
