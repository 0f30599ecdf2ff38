// Starts a real Opsdeck server in-process on a fresh database, with response validation on.
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, testRedis, type TestDatabase } from './backends.ts';

export interface TestServer extends RunningServer {
  readonly testDatabase: TestDatabase;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const testDatabase = await createTestDatabase();
  const redisUrl = await testRedis();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    PGLITE_DIR: 'memory://',
    VALIDATE_RESPONSES: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    SHUTDOWN_GRACE_MS: '2000',
    ...(testDatabase.url ? { DATABASE_URL: testDatabase.url } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...env,
  });
  const running = await startServer(config, createLogger(config.logLevel));
  return {
    ...running,
    testDatabase,
    async close() {
      await running.stop();
      await testDatabase.drop();
    },
  };
}
