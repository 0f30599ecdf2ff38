// A fresh installation is usable at once: the first administrator comes from configuration, or is
// made with a one-time password printed at first start. The embedded default also gets demo data:
// two teams, a user of each role and a few agents.
import { sql, type Kysely, type Transaction } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../config.ts';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import { anyUser, insertUser } from '../modules/users/users.repository.ts';
import { hashPassword, oneTimePassword } from './passwords.ts';
import { randomToken, sha256 } from './secrets.ts';
import { secretPrefix } from '../modules/agent-protocol/agent-protocol.service.ts';
import type { RoleName } from './permissions.ts';

const DEMO_PASSWORD = 'opsdeck-demo-password';
/** pg_advisory_xact_lock key of the first start ("opsdeck boot" in ASCII, truncated to 8 bytes). */
const BOOTSTRAP_LOCK = 0x6f7073626f6f7421n;

/**
 * Several processes may start on one empty database at once (WEB_CONCURRENCY, a deployment's first rollout): one
 * of them makes the first users, in a transaction that holds a lock, and the others, once it has committed, find them.
 */
export async function bootstrapIdentity(db: Kysely<Database>, config: Config, log: Logger): Promise<void> {
  if (await anyUser(db)) return;
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
    if (!(await anyUser(trx))) await bootstrapEmpty(trx, config, log);
  });
}

async function bootstrapEmpty(db: Transaction<Database>, config: Config, log: Logger): Promise<void> {
  const adminEmail = config.initialAdminEmail ?? 'admin@opsdeck.local';
  if (config.demoData) {
    await seedDemo(db, adminEmail, config.initialAdminPassword ?? DEMO_PASSWORD);
    log.warn(
      { users: ['admin', 'operator', 'viewer'].map((r) => `${r === 'admin' ? adminEmail : `${r}@opsdeck.local`}`), password: config.initialAdminPassword ? '(OPSDECK_ADMIN_PASSWORD)' : DEMO_PASSWORD },
      'demo data: teams Platform and Payments, a user of each role and a few agents (set OPSDECK_DEMO_DATA=false to start empty)',
    );
    return;
  }
  const password = config.initialAdminPassword ?? oneTimePassword();
  await insertUser(db, { id: uuidv7(), email: adminEmail, name: 'Administrator', role: 'admin', password_hash: await hashPassword(password) });
  if (config.initialAdminPassword) log.info({ email: adminEmail }, 'first start: created the administrator from configuration');
  else log.warn({ email: adminEmail, one_time_password: password }, 'first start: created the administrator; sign in and change this password now');
}

/** A fresh enrollment token for the demo's Platform team, for the simulated hosts; none outside the demo. */
export async function demoEnrollmentToken(db: Kysely<Database>): Promise<string | undefined> {
  const team = await db.selectFrom('teams').select('id').where('name', '=', 'Platform').executeTakeFirst();
  if (!team) return undefined;
  const prefix = secretPrefix('oet');
  const secret = `${prefix}_${randomToken(32)}`;
  await db
    .insertInto('enrollment_tokens')
    .values({ id: uuidv7(), team_id: team.id, name: 'demo fleet', prefix, secret_hash: sha256(secret), max_uses: 100, expires_at: new Date(Date.now() + 3600_000) })
    .execute();
  return secret;
}

async function seedDemo(trx: Transaction<Database>, adminEmail: string, password: string): Promise<void> {
  const passwordHash = await hashPassword(password);
  const teams = { platform: uuidv7(), payments: uuidv7() };
  await trx
    .insertInto('teams')
    .values([
      { id: teams.platform, name: 'Platform', description: 'Runs the shared clusters and the CI runners.' },
      { id: teams.payments, name: 'Payments', description: 'Owns the payment services.' },
    ])
    .execute();
  const people: Array<[string, string, RoleName, string[]]> = [
    [adminEmail, 'Ada Admin', 'admin', [teams.platform, teams.payments]],
    ['operator@opsdeck.local', 'Otto Operator', 'operator', [teams.platform]],
    ['viewer@opsdeck.local', 'Vera Viewer', 'viewer', [teams.payments]],
  ];
  for (const [email, name, role, teamIds] of people) {
    const id = uuidv7();
    await trx.insertInto('users').values({ id, email, name, role, password_hash: passwordHash }).execute();
    await trx.insertInto('team_members').values(teamIds.map((team_id) => ({ team_id, user_id: id }))).execute();
  }
  const hosts: Array<[string, string, 'linux' | 'windows' | 'macos' | 'bsd', string]> = [
    [teams.platform, 'k8s-node-01.platform.example.com', 'linux', '10.10.0.11'],
    [teams.platform, 'k8s-node-02.platform.example.com', 'linux', '10.10.0.12'],
    [teams.platform, 'ci-runner-01.platform.example.com', 'linux', '10.10.1.21'],
    [teams.payments, 'pay-api-01.payments.example.com', 'linux', '10.20.0.11'],
    [teams.payments, 'pay-db-01.payments.example.com', 'bsd', '10.20.0.31'],
  ];
  await trx
    .insertInto('agents')
    .values(hosts.map(([team_id, hostname, platform, ip_address]) => ({ id: uuidv7(), team_id, hostname, platform, ip_address, status: 'offline' as const, tags: ['demo'], last_seen: null })))
    .execute();
}
