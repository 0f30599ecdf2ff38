// The SDK as a team gets it: `npm pack` in client-sdk/ (its `prepack` builds dist/), the tarball installed into
// a fresh project outside the repository (openapi-fetch comes from the registry, or npm's cache), the usage
// example of client-sdk/README.md type-checked there with the repository's TypeScript under the three
// `moduleResolution`s a project may use, then run by Node 24 (type stripping) against a real server.
import { execFile, type ExecFileOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

const root = resolve(import.meta.dirname, '../..');
const sdkDir = join(root, 'client-sdk');
const README_URL = 'http://127.0.0.1:8080';
const RESOLUTIONS = ['node16', 'nodenext', 'bundler'] as const;

/** Node 24 (type stripping): the one running the tests, else the repository's `node` devDependency. */
const node24 = Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : join(root, 'node_modules/node/bin/node');

/** The environment of a child npm or node: ours without npm's `npm_*` variables (a parent `npm test` sets config there). */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

function run(command: string, args: string[], options: ExecFileOptions & { cwd: string }): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { env: childEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 90_000, ...options }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed in ${options.cwd}: ${error.message}\n${String(stdout)}\n${String(stderr)}`));
      else resolvePromise(String(stdout));
    });
  });
}

/** The first ```ts block under client-sdk/README.md's "## Usage". */
function usageExample(): string {
  const readme = readFileSync(join(sdkDir, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Usage\n'));
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('client-sdk/README.md has no ```ts block under "## Usage"');
  return code;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

type Exports = string | { [condition: string]: Exports };

/** Every (condition path, target) of an `exports` map. */
function exportTargets(exports: Exports, at: string[] = []): Array<[string, string]> {
  if (typeof exports === 'string') return [[at.join(' → '), exports]];
  return Object.entries(exports).flatMap(([key, value]) => exportTargets(value, [...at, key]));
}

/** The project's tsconfig for one resolution: strict, browser and Node alike (no @types/node), libraries checked. */
function tsconfig(resolution: (typeof RESOLUTIONS)[number]): object {
  return {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'es2022',
      lib: ['es2022', 'dom', 'dom.iterable'],
      types: [],
      module: resolution === 'bundler' ? 'esnext' : resolution,
      moduleResolution: resolution,
      // The SDK's declarations are checked too (a broken .d.ts fails here); TypeScript's own lib files are not.
      skipLibCheck: false,
      skipDefaultLibCheck: true,
    },
    files: ['example.ts'],
  };
}

/** tsc -p <config> with the repository's TypeScript, in-process: the diagnostics, and the file '@opsdeck/sdk' resolves to from example.ts. */
function typeCheck(project: string, configName: string): { diagnostics: string[]; sdkTypes: string | undefined } {
  const configPath = join(project, configName);
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!parsed) throw new Error(`${configPath} could not be read`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)].map((d) => {
    const where = d.file && d.start !== undefined ? `${relative(project, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} ` : '';
    return `${where}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  const resolved = ts.resolveModuleName('@opsdeck/sdk', join(project, 'example.ts'), parsed.options, ts.sys, undefined, undefined, ts.ModuleKind.ESNext);
  const files = program.getSourceFiles().map((f) => f.fileName);
  // The program read the package's declarations, and nothing of the repository's SDK.
  if (files.some((f) => f.startsWith(`${sdkDir}${sep}`) || f.startsWith(`${sdkDir}/`))) throw new Error(`${configName}: the program reads the repository's SDK`);
  return { diagnostics, sdkTypes: resolved.resolvedModule?.resolvedFileName };
}

describe('the SDK packed, installed in a fresh project, and its README example', () => {
  let scratch: string;
  let tarball: string;
  let unpacked: string;
  let project: string;
  let database: TestDatabase | undefined;
  let running: RunningServer | undefined;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'opsdeck-sdk-package-'));
    const packing = (async () => {
      // What a team does: pack (prepack builds), then install the tarball into an empty ESM project.
      await run('npm', ['pack', '--pack-destination', scratch], { cwd: sdkDir });
      const packed = readdirSync(scratch).filter((name) => name.endsWith('.tgz'));
      expect(packed).toHaveLength(1);
      tarball = join(scratch, packed[0]!);
      unpacked = join(scratch, 'unpacked');
      mkdirSync(unpacked);
      await run('tar', ['-xzf', tarball, '-C', unpacked], { cwd: scratch });
      project = join(scratch, 'project');
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module' }, null, 2)}\n`);
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tarball], { cwd: project });
      writeFileSync(join(project, 'example.ts'), usageExample());
      for (const resolution of RESOLUTIONS) writeFileSync(join(project, `tsconfig.${resolution}.json`), `${JSON.stringify(tsconfig(resolution), null, 2)}\n`);
    })();
    const serving = (async () => {
      database = await createTestDatabase();
      // What `npm start` gives a first-time reader: the demo's teams and users (the README signs in as its operator).
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
    })();
    await Promise.all([packing, serving]);
  }, 120_000);

  afterAll(async () => {
    // A pack stopped between prepack and postpack leaves the repository's manifest aside: put it back.
    if (existsSync(join(sdkDir, '.tmp', 'package.repository.json'))) await run(node24, ['scripts/pack.ts', 'postpack'], { cwd: sdkDir });
    await running?.stop();
    await database?.drop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 30_000);

  it('packs the built code, a manifest whose exports all lead into the tarball, and its metadata', () => {
    const files = filesUnder(join(unpacked, 'package'));
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package/package.json'), 'utf8')) as Record<string, unknown>;
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/openapi.d.ts']));
    // Nothing of the repository but the build: no sources, no scripts, no tsconfig.
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

    const targets = exportTargets(manifest.exports as Exports);
    expect(targets.length).toBeGreaterThan(0);
    for (const [conditions, target] of targets) {
      expect(conditions, `${conditions} → ${target}`).not.toContain('opsdeck-source');
      expect(files, `exports ${conditions} → ${target}`).toContain(target.replace(/^\.\//, ''));
    }
    expect(files).toContain(String(manifest.types).replace(/^\.\//, ''));
    expect(manifest).toMatchObject({
      name: '@opsdeck/sdk',
      type: 'module',
      license: 'Apache-2.0',
      repository: { type: 'git', url: expect.stringMatching(/github\.com\/opsdeck\/opsdeck/), directory: 'client-sdk' },
      files: ['dist'],
      engines: { node: expect.any(String) },
      sideEffects: false,
      dependencies: { 'openapi-fetch': expect.any(String) },
    });
    expect(manifest).not.toHaveProperty('scripts');
    expect(readFileSync(join(unpacked, 'package/LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
    // Every relative import of the built code stays inside the package (the contract's types were copied in).
    for (const file of files.filter((f) => f.startsWith('dist/'))) {
      const text = readFileSync(join(unpacked, 'package', file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from\s*|import\s*\(?\s*)['"](\.\.?\/[^'"]*)['"]/g)) {
        const target = join('package', file, '..', spec!).replace(/\.js$/, file.endsWith('.d.ts') ? '.d.ts' : '.js');
        expect(existsSync(join(unpacked, target)), `${file} imports ${spec}`).toBe(true);
      }
    }
    // The repository's manifest, with its source condition, is back after the pack.
    const repoManifest = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(repoManifest.exports['.']!['opsdeck-source']).toBe('./src/index.ts');
  });

  it.each(RESOLUTIONS)('type-checks the README example under moduleResolution %s', (resolution) => {
    const { diagnostics, sdkTypes } = typeCheck(project, `tsconfig.${resolution}.json`);
    expect(diagnostics).toEqual([]);
    expect(sdkTypes && relative(project, sdkTypes).split(sep).join('/')).toBe('node_modules/@opsdeck/sdk/dist/index.d.ts');
  });

  it('runs the README example against a real server', async () => {
    const code = usageExample();
    expect(code).toContain(`'${README_URL}'`);
    writeFileSync(join(project, 'run.ts'), code.replace(`'${README_URL}'`, JSON.stringify(running!.url)));
    const output = await run(node24, ['run.ts'], { cwd: project });
    const lines = output.trim().split('\n').map((line) => line.split(' '));
    // The agent it made, read back; the fleet walked (the demo's hosts and that one); the duplicate refused.
    const [hostname, status] = lines[0]!;
    expect(hostname).toMatch(/^web-\d+$/);
    expect(status).toMatch(/^[a-z]+$/);
    expect(lines.slice(1, -1).map(([h]) => h)).toContain(hostname);
    expect(lines.at(-1)).toEqual(['RES_ALREADY_EXISTS', '409', expect.stringMatching(/^req_/)]);
  });
});
