// Frozen: sign-in through identity providers. One table of one-time grants: a sign-in's `state` (with its PKCE
// verifier, nonce and redirect URI) between `startOAuthSignIn` and its callback, and the one-time Opsdeck code
// between the callback and `exchangeOAuthCode`. Each is keyed by the SHA-256 of its secret, spent by deleting it
// (so any process can finish a sign-in another began, and only once), and expires.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('oauth_grants')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(8)', (c) => c.notNull().check(sql`kind in ('state', 'code')`))
    .addColumn('provider', 'varchar(16)', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('expires_at', sql`timestamptz(3)`, (c) => c.notNull())
    .addColumn('created_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('oauth_grants_expires_idx').on('oauth_grants').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oauth_grants').execute();
}
