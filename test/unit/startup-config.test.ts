// A configuration error stops `npm start` with one line that names the variable and exit code 1: no stack
// trace, nothing else printed. The real entry point (server/main.ts) runs as a child process, with a clean
// environment so that the machine's own variables cannot change the outcome.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--conditions=opsdeck-source', 'server/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PGLITE_DIR: 'memory://', OPSDECK_DEMO_AGENTS: '0', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '');
  return { status: result.status, signal: result.signal, lines };
}

const KEY = 'a'.repeat(64);

describe('a configuration error at start-up', { timeout: 90_000 }, () => {
  it.each([
    ['production without JWT_SECRET', { NODE_ENV: 'production', SECRETS_KEY: KEY }, 'JWT_SECRET', 'JWT_SECRET is required in production'],
    ['a JWT_SECRET too short', { JWT_SECRET: 'short' }, 'JWT_SECRET', 'JWT_SECRET must be at least 32 bytes'],
    ['production without SECRETS_KEY', { NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(40) }, 'SECRETS_KEY', 'SECRETS_KEY is required in production'],
    ['a PORT that is not a number', { PORT: 'eighty' }, 'PORT', 'PORT must be an integer from 0 to 65535, got "eighty"'],
    ['an unknown NODE_ENV', { NODE_ENV: 'staging' }, 'NODE_ENV', 'NODE_ENV must be development, test or production'],
    ['a flag that is not a boolean', { VALIDATE_RESPONSES: 'sometimes' }, 'VALIDATE_RESPONSES', 'VALIDATE_RESPONSES must be true or false'],
    // Checked against the spec's policies or other variables, after the configuration is read: still one line.
    ['an unknown field in WEBHOOK_DELIVERY', { WEBHOOK_DELIVERY: '{"max_attempt": 3}' }, 'WEBHOOK_DELIVERY', 'WEBHOOK_DELIVERY: unknown field max_attempt'],
    ['a WEBHOOK_DELIVERY past its bound', { WEBHOOK_DELIVERY: '{"response_excerpt_bytes": 4096}' }, 'WEBHOOK_DELIVERY', 'response_excerpt_bytes must be at most 1024'],
    ['a negative EVENT_STREAM value', { EVENT_STREAM: '{"keepalive_seconds": -1}' }, 'EVENT_STREAM', 'EVENT_STREAM: keepalive_seconds must be a positive number'],
    ['external backends required but not configured', { OPSDECK_REQUIRE_EXTERNAL_BACKENDS: '1' }, 'OPSDECK_REQUIRE_EXTERNAL_BACKENDS', 'DATABASE_URL or REDIS_URL is not'],
  ])('%s: one line naming the variable, exit 1', (_, env, variable, message) => {
    const { status, signal, lines } = start(env);
    expect(signal).toBeNull();
    expect(status).toBe(1);
    expect(lines, lines.join('\n')).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'fatal', service: 'opsdeck', variable });
    expect(line.msg).toContain(message);
    expect(line).not.toHaveProperty('err');
    expect(lines[0]).not.toMatch(/\n|\s+at \S+ \(|\.ts:\d+/);
  });
});
