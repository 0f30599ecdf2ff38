// After `tsc -p tsconfig.build.json`: dist/server reads ../generated and ../package.json as the
// sources do, so the contract, the docs and the version travel with the compiled server.
import { cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');
mkdirSync(join(dist, 'generated'), { recursive: true });
for (const file of ['openapi.json', 'openapi.yaml', 'asyncapi.json', 'asyncapi.yaml', 'docs.html']) cpSync(join(root, 'generated', file), join(dist, 'generated', file));
cpSync(join(root, 'package.json'), join(dist, 'package.json'));
