// Derives everything in generated/ from spec/: the bundled contract (JSON and YAML), the AsyncAPI document of
// the live WebSocket (scripts/asyncapi.ts), the TypeScript types and the self-contained Redoc page. `--out DIR` writes elsewhere (generate:check uses it).
import { extensionsTable } from '../server/extensions.ts';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { stringify } from 'yaml';
import { extensionDate } from '../server/http/extension-date.ts';
import { addCodeSamples } from './code-samples.ts';
import { asyncApiOf } from './asyncapi.ts';

const root = resolve(import.meta.dirname, '..');
const outArg = process.argv.indexOf('--out');
const out = resolve(outArg > 0 ? process.argv[outArg + 1]! : join(root, 'generated'));
const redocly = join(root, 'node_modules', '.bin', 'redocly');
const BANNER = 'GENERATED from spec/ by `npm run generate`. Do not edit: change spec/ and regenerate.';

type Json = Record<string, unknown>;

function log(step: string): void {
  process.stderr.write(`${JSON.stringify({ level: 'info', msg: `generate: ${step}`, out })}\n`);
}

function bundle(): Json {
  const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-bundle-'));
  try {
    const file = join(scratch, 'openapi.json');
    execFileSync(process.execPath, [redocly, 'bundle', join(root, 'spec/openapi.yaml'), '--ext', 'json', '-o', file], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface CatalogueEntry {
  const: string;
  description: string;
  'x-http-status': number;
}

// Redoc renders tag descriptions as markdown, so the error catalogue of the docs is written from
// the ErrorCode schema: the codes stay in one place and the docs cannot fall behind them.
function addErrorCatalogue(spec: Json): void {
  const components = spec.components as { schemas: Record<string, { oneOf?: CatalogueEntry[] }> };
  const codes = components.schemas.ErrorCode?.oneOf;
  if (!codes) throw new Error('spec has no ErrorCode schema with oneOf entries');
  const rows = codes.map((c) => `| \`${c.const}\` | ${c['x-http-status']} | ${c.description} |`);
  const table = ['', '| Code | HTTP status | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
  for (const tag of spec.tags as Array<Json>) {
    if (tag['x-error-catalogue'] === true) tag.description = `${String(tag.description).trimEnd()}\n${table}\n`;
  }
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

const utc = (date: Date) => `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

// A deprecated operation's docs say since when, until when and what replaces it, written from its
// `x-deprecated-at`, `x-sunset` and `x-successor`: the dates live once, in the spec's extensions, which the
// server reads too (server/http/deprecation.ts). The note leads the operation's description.
function addDeprecationNotes(spec: Json): void {
  const operations = Object.entries(spec.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).flatMap(([method, op]) => (HTTP_METHODS.includes(method) ? [{ path, method, op }] : [])),
  );
  const byId = new Map(operations.map((o) => [o.op.operationId, o]));
  for (const { path, method, op } of operations) {
    if (op.deprecated !== true) continue;
    const where = `${method.toUpperCase()} ${path}`;
    const since = extensionDate(where, 'x-deprecated-at', op['x-deprecated-at']);
    const sunset = extensionDate(where, 'x-sunset', op['x-sunset']);
    const successorId = op['x-successor'];
    const successor = successorId === undefined ? undefined : byId.get(successorId);
    if (successorId !== undefined && !successor) throw new Error(`${where}: x-successor ${JSON.stringify(successorId)} is no operationId of the spec`);
    const parts = [`**Deprecated**${since ? ` since ${utc(since)}` : ''}.`];
    if (sunset) parts.push(`**Sunset: ${utc(sunset)}**; from then on it answers \`410 Gone\` (\`RES_GONE\`).`);
    if (successor) parts.push(`Use \`${String(successorId)}\` (\`${successor.method.toUpperCase()} ${successor.path}\`) instead.`);
    op.description = `> ${parts.join(' ')}\n\n${String(op.description ?? '').trimStart()}`;
  }
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  log('bundling spec/openapi.yaml');
  const spec = bundle();
  addErrorCatalogue(spec);
  addDeprecationNotes(spec);
  // Redoc's request samples (curl and the SDK) on every operation: scripts/code-samples.ts.
  addCodeSamples(spec);
  const bundled = { 'x-generated': BANNER, ...spec };
  writeFileSync(join(out, 'openapi.json'), `${JSON.stringify(bundled, null, 2)}\n`);
  writeFileSync(join(out, 'openapi.yaml'), `# ${BANNER}\n${stringify(bundled, { lineWidth: 0 })}`);

  log('writing the AsyncAPI document of the live WebSocket');
  const asyncApi = { 'x-generated': BANNER, ...asyncApiOf(spec) };
  writeFileSync(join(out, 'asyncapi.json'), `${JSON.stringify(asyncApi, null, 2)}\n`);
  writeFileSync(join(out, 'asyncapi.yaml'), `# ${BANNER}\n${stringify(asyncApi, { lineWidth: 0 })}`);

  // The reviewers' table of every x- extension, from the one list the server and the lint check (spec/README.md links it).
  writeFileSync(join(out, 'extensions.md'), `<!-- ${BANNER} -->\n# Opsdeck's OpenAPI extensions\n\nFrom \`server/extensions.ts\`, which the server (at start-up) and \`npm run spec:lint\` (rule \`opsdeck/extensions\`) check every extension against: an unknown one, one in the wrong place or a value of the wrong shape fails both.\n\n${extensionsTable()}\n`);

  log('writing TypeScript types');
  // A request field with a default may be left out, so it stays optional in the types.
  const ast = await openapiTS(bundled as never, { exportType: false, defaultNonNullable: false });
  writeFileSync(join(out, 'openapi.d.ts'), `// ${BANNER}\n${astToString(ast)}`);

  log('building the Redoc page');
  execFileSync(
    process.execPath,
    [redocly, 'build-docs', join(out, 'openapi.json'), '--inlineBundle', '--title', 'Opsdeck API', '-o', join(out, 'docs.html')],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  log('done');
}

await main();
