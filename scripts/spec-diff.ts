// npm run spec:diff -- <base-ref> [<head-ref>] [--json] [--markdown-out FILE] [--json-out FILE]
//                      [--base-file FILE] [--head-file FILE] [--now ISO-DATE]
// Compares the contract at <base-ref> with the working tree (or <head-ref>), both bundled, and prints the
// report as markdown (or JSON with --json). Exits 1 when there are breaking changes and info.version did
// not get a major bump, 2 when a side cannot be loaded.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadSpec, loadSpecFile, RefError, WORKING_TREE, type LoadedSpec } from './spec-diff/load.ts';
import { renderJson } from './spec-diff/render-json.ts';
import { renderMarkdown } from './spec-diff/render-markdown.ts';
import { buildReport } from './spec-diff/report.ts';

const USAGE = 'usage: npm run spec:diff -- <base-ref> [<head-ref>] [--json] [--markdown-out FILE] [--json-out FILE] [--base-file FILE] [--head-file FILE] [--now DATE]';

function fail(message: string, exitCode = 2): never {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: `spec:diff: ${message}` })}\n`);
  process.exit(exitCode);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      'markdown-out': { type: 'string' },
      'json-out': { type: 'string' },
      'base-file': { type: 'string' },
      'head-file': { type: 'string' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const [baseRef, headRef] = positionals;
  if (!baseRef && !values['base-file']) fail(USAGE);
  const now = values.now ? new Date(values.now) : new Date();
  if (Number.isNaN(now.getTime())) fail(`--now ${values.now} is not a date`);

  let base: LoadedSpec;
  let head: LoadedSpec;
  try {
    base = values['base-file'] ? loadSpecFile(values['base-file']) : loadSpec(baseRef);
    head = values['head-file'] ? loadSpecFile(values['head-file']) : loadSpec(headRef ?? WORKING_TREE);
  } catch (error) {
    fail(error instanceof RefError ? error.message : `cannot load a spec: ${(error as Error).message}`);
  }

  const report = buildReport(base, head, { now });
  const markdown = renderMarkdown(report);
  const json = renderJson(report);
  if (values['markdown-out']) writeFileSync(values['markdown-out'], markdown);
  if (values['json-out']) writeFileSync(values['json-out'], json);
  process.stdout.write(values.json ? json : markdown);
  if (!report.version.ok) process.exitCode = 1;
}

main();
