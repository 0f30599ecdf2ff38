// Every change to who a credential belongs to, or what it may do, leaves a row in identity_changes, written
// by triggers on the tables it lives in: users (role, active, password, tier, email, deletion), team
// memberships, API keys (revocation, expiry, scopes, deletion), agent keys and agents (team, hostname,
// deletion). Each server process caches resolved callers and reads this feed a few times a second to drop
// what changed (server/auth/caller-cache.ts). Triggers, not application code, so no write path can forget
// to announce a change: a manual UPDATE in psql is seen too. Telemetry writes (last_seen_at, last_used_at)
// do not fire them.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table identity_changes (
      id bigserial primary key,
      kind varchar(16) not null,
      subject varchar(64) not null,
      changed_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`
    create function note_identity_change() returns trigger language plpgsql as $$
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
          insert into identity_changes (kind, subject) values (change_kind, old.user_id::text);
        end if;
      else
        if tg_op = 'DELETE' then change_subject := old.prefix::text; else change_subject := new.prefix::text; end if;
      end if;
      insert into identity_changes (kind, subject) values (change_kind, change_subject);
      return null;
    end $$`.execute(db);
  // A WHEN clause cannot name OLD on an insert or NEW on a delete, so updates and deletes have triggers of their own.
  await sql`
    create trigger users_identity_update after update on users for each row
    when (old.role is distinct from new.role or old.active is distinct from new.active
      or old.password_changed_at is distinct from new.password_changed_at or old.rate_tier is distinct from new.rate_tier
      or old.email is distinct from new.email)
    execute function note_identity_change('user')`.execute(db);
  await sql`create trigger users_identity_delete after delete on users for each row execute function note_identity_change('user')`.execute(db);
  await sql`create trigger team_members_identity after insert or update or delete on team_members for each row execute function note_identity_change('membership')`.execute(db);
  await sql`
    create trigger api_keys_identity_update after update on api_keys for each row
    when (old.revoked_at is distinct from new.revoked_at or old.expires_at is distinct from new.expires_at
      or old.scopes is distinct from new.scopes or old.secret_hash is distinct from new.secret_hash or old.user_id is distinct from new.user_id)
    execute function note_identity_change('api_key')`.execute(db);
  await sql`create trigger api_keys_identity_delete after delete on api_keys for each row execute function note_identity_change('api_key')`.execute(db);
  await sql`
    create trigger agent_keys_identity_update after update on agent_keys for each row
    when (old.revoked_at is distinct from new.revoked_at or old.secret_hash is distinct from new.secret_hash or old.agent_id is distinct from new.agent_id)
    execute function note_identity_change('agent_key')`.execute(db);
  await sql`create trigger agent_keys_identity_delete after delete on agent_keys for each row execute function note_identity_change('agent_key')`.execute(db);
  await sql`
    create trigger agents_identity_update after update on agents for each row
    when (old.team_id is distinct from new.team_id or old.hostname is distinct from new.hostname)
    execute function note_identity_change('agent')`.execute(db);
  await sql`create trigger agents_identity_delete after delete on agents for each row execute function note_identity_change('agent')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [trigger, table] of [
    ['users_identity_update', 'users'],
    ['users_identity_delete', 'users'],
    ['team_members_identity', 'team_members'],
    ['api_keys_identity_update', 'api_keys'],
    ['api_keys_identity_delete', 'api_keys'],
    ['agent_keys_identity_update', 'agent_keys'],
    ['agent_keys_identity_delete', 'agent_keys'],
    ['agents_identity_update', 'agents'],
    ['agents_identity_delete', 'agents'],
  ]) {
    await sql`drop trigger if exists ${sql.raw(trigger!)} on ${sql.raw(table!)}`.execute(db);
  }
  await sql`drop function if exists note_identity_change()`.execute(db);
  await sql`drop table if exists identity_changes`.execute(db);
}
