// Says once, at the start of `npm test`, which backends the run uses.
import { adminDatabaseUrl, postgresAnswers, redisAnswers, testRedisUrl } from './backends.ts';

export default async function setup(): Promise<void> {
  const [pgUp, redisUp] = await Promise.all([postgresAnswers(), redisAnswers()]);
  const line = {
    level: 'info',
    msg: 'test backends',
    postgresql: pgUp ? adminDatabaseUrl : 'not answering: embedded PGlite',
    redis: redisUp ? testRedisUrl : 'not answering: none',
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  const required = ['1', 'true', 'yes'].includes((process.env.OPSDECK_REQUIRE_EXTERNAL_BACKENDS ?? '').toLowerCase());
  if (required && (!pgUp || !redisUp)) throw new Error('OPSDECK_REQUIRE_EXTERNAL_BACKENDS is set but PostgreSQL or Redis does not answer');
}
