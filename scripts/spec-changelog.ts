// npm run spec:changelog -- <from-ref> [<to-ref>] [--prepend CHANGELOG.md]
// Prints what changed in the contract for clients between two refs (the working tree when <to-ref> is
// left out), grouped by resource; --prepend also puts that section at the top of the changelog file.
import { parseArgs } from 'node:util';
import { prependSection, renderChangelog } from './spec-diff/changelog.ts';
import { loadSpec, RefError, WORKING_TREE } from './spec-diff/load.ts';
import { buildReport } from './spec-diff/report.ts';

const USAGE = 'usage: npm run spec:changelog -- <from-ref> [<to-ref>] [--prepend CHANGELOG.md]';

function fail(message: string): never {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: `spec:changelog: ${message}` })}\n`);
  process.exit(2);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { prepend: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const [from, to] = positionals;
  if (!from) fail(USAGE);
  try {
    const section = renderChangelog(buildReport(loadSpec(from), loadSpec(to ?? WORKING_TREE)));
    process.stdout.write(section);
    if (values.prepend) prependSection(values.prepend, section);
  } catch (error) {
    fail(error instanceof RefError ? error.message : (error as Error).message);
  }
}

main();
