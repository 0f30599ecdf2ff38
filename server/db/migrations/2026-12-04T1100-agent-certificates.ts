// Frozen: the certificate authority for agents. `certificate_authorities` holds the CA (one row, `agents`): its
// certificate and its private key sealed with the secret box (SECRETS_KEY), inserted if absent by whichever process
// starts first. `agent_certificates` holds every certificate it issued, by random serial number, with its
// revocation. A revocation (or a deletion, with its agent) is written into the change feed (kind `agent_cert`,
// subject the serial number), so every process's caller cache stops accepting it for mutual TLS within the feed's
// ceiling (1 s).
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('certificate_authorities')
    .addColumn('name', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('certificate_pem', 'text', (c) => c.notNull())
    .addColumn('private_key_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('agent_certificates')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('serial_number', 'varchar(40)', (c) => c.notNull().unique())
    .addColumn('fingerprint_sha256', 'char(64)', (c) => c.notNull())
    .addColumn('subject', 'varchar(256)', (c) => c.notNull())
    .addColumn('key_algorithm', 'varchar(16)', (c) => c.notNull())
    .addColumn('key_bits', 'integer', (c) => c.notNull())
    .addColumn('not_before', ts, (c) => c.notNull())
    .addColumn('not_after', ts, (c) => c.notNull())
    .addColumn('pem', 'text', (c) => c.notNull())
    .addColumn('revoked_at', ts)
    .addColumn('revocation_reason', 'varchar(32)')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('agent_certificates_agent_idx').on('agent_certificates').columns(['agent_id', 'created_at']).execute();
  await db.schema.createIndex('agent_certificates_created_idx').on('agent_certificates').columns(['created_at', 'id']).execute();
  await sql`create index agent_certificates_revoked_idx on agent_certificates (not_after) where revoked_at is not null`.execute(db);

  await sql`
    create function note_agent_certificate_change() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        insert into change_feed (kind, subject) values ('agent_cert', old.serial_number);
      else
        insert into change_feed (kind, subject) values ('agent_cert', new.serial_number);
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger agent_certificates_revoked after update on agent_certificates for each row
    when (old.revoked_at is distinct from new.revoked_at or old.agent_id is distinct from new.agent_id or old.not_after is distinct from new.not_after)
    execute function note_agent_certificate_change()`.execute(db);
  await sql`create trigger agent_certificates_deleted after delete on agent_certificates for each row execute function note_agent_certificate_change()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('agent_certificates').execute();
  await sql`drop function note_agent_certificate_change()`.execute(db);
  await db.schema.dropTable('certificate_authorities').execute();
  await sql`delete from change_feed where kind = 'agent_cert'`.execute(db);
}
