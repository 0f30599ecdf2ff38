// One more kind in the change feed, `agent_work`: what an agent's sign of life answers may have changed — a task
// of the agent was created, deleted, changed status or was released by its fleet task's rollout (`held`), or the
// agent's own status changed (an operator's
// maintenance, the sweeper turning it offline). Each process keeps, per agent, what its last written sign of life
// answered (agent-protocol.sign-of-life.ts) and answers the next one from it while its write goes on in the
// background; a change of this kind drops that agent's entry, so the next answer is read from PostgreSQL again.
// The heartbeats' own writes (`last_seen`) are not of this kind: they change nothing a heartbeat answers.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function note_agent_work_of_tasks() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into change_feed (kind, subject) select distinct 'agent_work', agent_id::text from new_rows where agent_id is not null;
      elsif tg_op = 'DELETE' then
        insert into change_feed (kind, subject) select distinct 'agent_work', agent_id::text from old_rows where agent_id is not null;
      else
        insert into change_feed (kind, subject)
          select distinct 'agent_work', n.agent_id::text from new_rows n join old_rows o on o.id = n.id
           where n.agent_id is not null and (n.status is distinct from o.status or n.held is distinct from o.held);
      end if;
      return null;
    end $$`.execute(db);
  // A transition table belongs to one event, so each event has its trigger.
  await sql`create trigger tasks_agent_work_inserted after insert on tasks referencing new table as new_rows for each statement execute function note_agent_work_of_tasks()`.execute(db);
  await sql`create trigger tasks_agent_work_deleted after delete on tasks referencing old table as old_rows for each statement execute function note_agent_work_of_tasks()`.execute(db);
  await sql`create trigger tasks_agent_work_updated after update on tasks referencing new table as new_rows old table as old_rows for each statement execute function note_agent_work_of_tasks()`.execute(db);
  await sql`
    create function note_agent_status_change() returns trigger language plpgsql as $$
    begin
      insert into change_feed (kind, subject) values ('agent_work', new.id::text);
      return null;
    end $$`.execute(db);
  // A row trigger with a WHEN clause costs a heartbeat's UPDATE nothing: the function runs only on a change of status.
  await sql`create trigger agents_status_changed after update on agents for each row when (old.status is distinct from new.status) execute function note_agent_status_change()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger agents_status_changed on agents`.execute(db);
  await sql`drop function note_agent_status_change()`.execute(db);
  await sql`drop trigger tasks_agent_work_updated on tasks`.execute(db);
  await sql`drop trigger tasks_agent_work_deleted on tasks`.execute(db);
  await sql`drop trigger tasks_agent_work_inserted on tasks`.execute(db);
  await sql`drop function note_agent_work_of_tasks()`.execute(db);
  await sql`delete from change_feed where kind = 'agent_work'`.execute(db);
}
