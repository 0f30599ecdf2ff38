// Reading the deployment files (Dockerfile, compose.yaml, deploy/kubernetes/) as Docker, Compose and Kubernetes
// would, for the tests that check them against the server: no engine runs here, so they are parsed instead.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../server/config.ts';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export const readRootFile = (path: string): string => readFileSync(join(root, path), 'utf8');

// ---- Dockerfile ----

export interface DockerInstruction {
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
}

export interface DockerStage {
  /** The image, with the Dockerfile's global ARG defaults substituted. */
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly DockerInstruction[];
}

/** The Dockerfile's build stages, in order. Comments and parser directives are dropped; `\` continues a line. */
export function parseDockerfile(text: string): DockerStage[] {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    const joined = `${pending}${line}`.trim();
    pending = '';
    if (joined) logical.push(joined);
  }
  const args = new Map<string, string>();
  const stages: { from: string; name: string | undefined; instructions: DockerInstruction[] }[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = match[1]!.toUpperCase();
    const rest = match[2]!.trim();
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2);
      args.set(name!, value ?? '');
    } else if (keyword === 'FROM') {
      const [image, as, name] = rest.split(/\s+/);
      const from = image!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile: ${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword, args: rest });
    }
  }
  return stages;
}

/** The variables an ENV instruction sets (`KEY=value` pairs, or the old `KEY value` form). */
export function envOf(instruction: DockerInstruction): Record<string, string> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(instruction.args)) {
    const [key, ...value] = instruction.args.split(/\s+/);
    return { [key!]: value.join(' ') };
  }
  const env: Record<string, string> = {};
  for (const match of instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = match[2]!;
    env[match[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return env;
}

/** The runtime stage's environment: what every container of the image starts with. */
export function imageEnvironment(stage: DockerStage): Record<string, string> {
  return Object.assign({}, ...stage.instructions.filter((i) => i.keyword === 'ENV').map(envOf)) as Record<string, string>;
}

/** An exec-form (JSON array) command, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const value = JSON.parse(args) as unknown;
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** HEALTHCHECK's options (`--interval=10s` …) and its command (after `CMD`). */
export function healthcheckOf(instruction: DockerInstruction): { options: Record<string, string>; command: string } {
  const match = /^((?:--\S+\s+)*)CMD\s+(.*)$/i.exec(instruction.args);
  if (!match) return { options: {}, command: instruction.args };
  const options = Object.fromEntries(match[1]!.trim().split(/\s+/).filter(Boolean).map((o) => o.replace(/^--/, '').split('=', 2) as [string, string]));
  return { options, command: match[2]! };
}

// ---- compose.yaml ----

/**
 * Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`
 * and `$$`, with `vars` as the environment; a required variable that `vars` lacks throws, as Compose refuses.
 */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])((?:[^}])*))?\}|\$(\w+)/g, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const set = vars[name];
    const empty = set === undefined || (op?.startsWith(':') === true && set === '');
    if (op?.endsWith('?') && empty) throw new Error(`compose: ${name} is required: ${arg}`);
    if (op?.endsWith('-') && empty) return arg ?? '';
    return set ?? '';
  });
}

export interface ComposeService {
  readonly image?: string;
  readonly build?: string | { context?: string };
  readonly command?: string[] | string;
  readonly environment?: Record<string, string | number | boolean | null> | string[];
  readonly ports?: (string | number | { target: number; published?: number | string })[];
  readonly depends_on?: string[] | Record<string, { condition?: string }>;
  readonly healthcheck?: { test?: string[] | string; disable?: boolean; interval?: string; timeout?: string; start_period?: string; retries?: number };
  readonly stop_grace_period?: string;
  readonly restart?: string;
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
}

/** compose.yaml as Compose reads it: YAML merge keys (`<<: *anchor`) applied. */
export function parseCompose(text: string): ComposeFile {
  return parse(text, { merge: true }) as ComposeFile;
}

/** A service's environment as a map (Compose takes a map or a list of KEY=value), interpolated with `vars`. */
export function serviceEnvironment(service: ComposeService, vars: Record<string, string>): Record<string, string> {
  const entries: [string, string][] = Array.isArray(service.environment)
    ? service.environment.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, vars[line] ?? ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(service.environment ?? {}).map(([key, value]) => [key, value === null ? (vars[key] ?? '') : String(value)]);
  return Object.fromEntries(entries.map(([key, value]) => [key, interpolate(value, vars)]));
}

/** Compose's durations (`30s`, `1m30s`, `500ms`) in seconds. */
export function durationSeconds(value: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  let rest = value.trim();
  while (rest) {
    const match = /^(\d+(?:\.\d+)?)(ms|us|h|m|s)/.exec(rest);
    if (!match) throw new Error(`not a duration: ${value}`);
    total += Number(match[1]) * units[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}

// ---- deploy/kubernetes/ ----

export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** Every object of every `.yaml` file under `dir` (files as `{ name: text }`), with the file each came from. */
export function parseKubernetes(files: Record<string, string>): (KubernetesObject & { readonly file: string })[] {
  return Object.entries(files).flatMap(([file, text]) =>
    parseAllDocuments(text).flatMap((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const value = doc.toJS() as KubernetesObject | null;
      return value ? [{ ...value, file }] : [];
    }),
  );
}

export function readKubernetesFiles(dir = 'deploy/kubernetes'): Record<string, string> {
  const files = readdirSync(join(root, dir)).filter((name) => /\.ya?ml$/.test(name)).sort();
  return Object.fromEntries(files.map((name) => [name, readRootFile(join(dir, name))]));
}

// ---- the server's side ----

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.endsWith('.d.mts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every variable `loadConfig` reads for `env`, whatever the values it is given. */
function readByLoadConfig(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recorder = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
  });
  try {
    loadConfig(recorder);
  } catch {
    // a ConfigError still tells which variables were read before it
  }
  return read;
}

/**
 * The environment variables the server reads: every name server/config.ts spells out (as `env.NAME`, `env['NAME']`
 * or a quoted NAME handed to its readers, which also finds the variables it reads only under some condition), every
 * `env.NAME` anywhere else in server/ (a module that reads process.env itself); checked against what `loadConfig`
 * is seen to read through a recording proxy, so a new way of spelling a read in config.ts cannot go unnoticed.
 */
export function serverEnvironmentNames(): { names: Set<string>; readByLoadConfig: Set<string> } {
  const names = new Set<string>();
  const access = /\benv(?:\.([A-Z_][A-Z0-9_]*)|\[\s*['"`]([A-Z_][A-Z0-9_]*)['"`]\s*\])/g;
  for (const file of sourceFiles('server')) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(access)) names.add((match[1] ?? match[2])!);
    if (file.endsWith(`${join('server', 'config.ts')}`)) {
      for (const match of text.matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)['"`]/g)) names.add(match[1]!);
    }
  }
  const read = new Set([
    ...readByLoadConfig({}),
    ...readByLoadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), SECRETS_KEY: '0'.repeat(64), DATABASE_URL: 'postgres://h/d' }),
  ]);
  return { names, readByLoadConfig: read };
}
