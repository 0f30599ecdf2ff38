// `npm run seed -- --agents 1000000`: fills DATABASE_URL with a fleet (agents of one team, "Seed fleet",
// whose members are every administrator) with a progress bar; migrations run first.
//   --agents N (default 100000)  --team "Seed fleet"
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { openDatabase } from '../server/db/database.ts';
import { migrateToLatest } from '../server/db/migrator.ts';
import { createLogger } from '../server/logger.ts';
import { seedAgents } from './bench/seed.ts';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '100000' }, team: { type: 'string', default: 'Seed fleet' } } });
const count = Number(values.agents);
if (!Number.isInteger(count) || count < 1 || count > 10_000_000) throw new Error('--agents must be 1 to 10000000');
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must name the PostgreSQL database to fill');

const log = createLogger('info');
const database = await openDatabase({ url, pgliteDir: '', poolMax: 2, timeoutMs: 60_000, log });
try {
  await migrateToLatest(database.db, log);
  const db = database.db;
  const existing = await db.selectFrom('teams').select('id').where(sql`lower(name)`, '=', values.team!.toLowerCase()).executeTakeFirst();
  const teamId = existing?.id ?? uuidv7();
  if (!existing) await db.insertInto('teams').values({ id: teamId, name: values.team!, description: 'Filled by npm run seed.' }).execute();
  const admins = await db.selectFrom('users').select('id').where('role', '=', 'admin').execute();
  if (admins.length > 0) {
    await db.insertInto('team_members').values(admins.map((a) => ({ team_id: teamId, user_id: a.id }))).onConflict((oc) => oc.doNothing()).execute();
  }

  const started = performance.now();
  const bar = (inserted: number, total: number) => {
    const share = inserted / total;
    const rate = Math.round(inserted / ((performance.now() - started) / 1000));
    const line = `[${'#'.repeat(Math.round(share * 30)).padEnd(30, '-')}] ${(share * 100).toFixed(0).padStart(3)}% ${inserted.toLocaleString('en')}/${total.toLocaleString('en')} agents · ${rate.toLocaleString('en')}/s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else if (inserted === total || inserted % Math.max(1, Math.round(total / 20)) < 5_000) log.info({ inserted, total, rate_per_s: rate }, 'seeding');
  };
  const result = await seedAgents(url, teamId, count, 0, bar);
  if (process.stderr.isTTY) process.stderr.write('\n');
  log.info({ team_id: teamId, agents: result.agents, ms: result.ms }, 'seeded');
} finally {
  await database.close();
}
