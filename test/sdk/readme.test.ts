// The README's "SDK in five lines", run as written (only its baseUrl changed) twice in a row: against a real
// server with the embedded default's demo data (the operator it signs in as), and against the Prism mock.
// Twice, because a reader runs it again: a second run must not fail (409, a hostname taken) or never end (a
// mock whose pages never end).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '@opsdeck/sdk';
import { startPrism, type RunningPrism } from '../../mocks/prism.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const README_URL = 'http://127.0.0.1:8080';

/** The code block of the README's section "The SDK in five lines". */
function fiveLines(): string {
  const section = README.split(/^## /m).find((s) => s.startsWith('The SDK in five lines'));
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```ts block under "## The SDK in five lines"');
  return code;
}

type Run = (sdkModule: typeof sdk, console: { log: (...args: unknown[]) => void }) => Promise<void>;
const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => Run;

/** The README's lines as a function of the SDK and a console, against `baseUrl`; it resolves to what they print. */
async function runFiveLines(baseUrl: string): Promise<string[][]> {
  const code = fiveLines();
  const imports = /^import \{([^}]+)\} from '@opsdeck\/sdk';\n/m;
  expect(code).toMatch(imports);
  expect(code).toContain(`'${README_URL}'`);
  const body = code.replace(imports, 'const {$1} = sdk;\n').replace(`'${README_URL}'`, JSON.stringify(baseUrl));
  const printed: string[][] = [];
  await new AsyncFunction('sdk', 'console', body)(sdk, { log: (...args) => void printed.push(args.map(String)) });
  return printed;
}

describe("the README's SDK in five lines", () => {
  let running: RunningServer | undefined;
  let database: TestDatabase | undefined;
  let prism: RunningPrism | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    // What `npm start` gives a first-time reader: the demo's teams and users (the simulated hosts are left out).
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      PGLITE_DIR: 'memory://',
      OPSDECK_DEMO_DATA: 'true',
      OPSDECK_DEMO_AGENTS: '0',
      VALIDATE_RESPONSES: 'true',
      ...(database.url ? { DATABASE_URL: database.url } : {}),
    });
    running = await startServer(config, createLogger(process.env.LOG_LEVEL ?? 'silent'));
    prism = await startPrism({ readyTimeoutMs: 90_000 });
  }, 150_000);
  afterAll(async () => {
    await running?.stop();
    await database?.drop();
    await prism?.stop();
  }, 30_000);

  it('runs twice against the real server, adding one agent each time', async () => {
    const first = await runFiveLines(running!.url);
    const second = await runFiveLines(running!.url);
    // The operator's team (Platform) has three demo hosts; each run adds one, and marks it.
    expect(first.filter((line) => line[2] === '(new)')).toHaveLength(1);
    expect(second.filter((line) => line[2] === '(new)')).toHaveLength(1);
    expect(second).toHaveLength(first.length + 1);
    expect(second.find((line) => line[2] === '(new)')![0]).not.toBe(first.find((line) => line[2] === '(new)')![0]);
    for (const [hostname, score] of second) {
      expect(hostname).toMatch(/\.platform\.example\.com$|^web-\d+$/);
      expect(Number(score)).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);

  it('runs twice against the mock, each walk ending after the example page', async () => {
    for (let run = 0; run < 2; run += 1) {
      const printed = await runFiveLines(prism!.url);
      expect(printed.map(([hostname]) => hostname)).toEqual(['web-01.prod.example.com', 'db-02.prod.example.com']);
    }
  }, 60_000);
});
