// The one list of x- extensions (server/extensions.ts): its examples hold, the contract conforms, and a
// misspelt or misplaced extension, or a value of the wrong shape, is reported naming it and where it stands.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { spec } from '../../server/contract.ts';
import { documentExtensionProblems, EXTENSIONS, extensionProblems } from '../../server/extensions.ts';

const copy = () => structuredClone(spec) as unknown as Parameters<typeof documentExtensionProblems>[0] & Record<string, unknown>;
const getAgent = (doc: ReturnType<typeof copy>) => (doc.paths!['/api/v1/agents/{agent_id}'] as Record<string, Record<string, unknown>>).get!;

describe('x- extensions', () => {
  it('each declared example satisfies its own schema', () => {
    for (const e of EXTENSIONS) expect(extensionProblems(e.on, { [e.name]: e.example }, e.name), e.name).toEqual([]);
  });

  it('the bundled contract has no unknown, misplaced or malformed extension', () => {
    expect(documentExtensionProblems(spec as never)).toEqual([]);
  });

  it('names a misspelt operation extension and its operation', () => {
    const doc = copy();
    const operation = getAgent(doc);
    operation['x-cache-contrl'] = operation['x-cache-control'];
    delete operation['x-cache-control'];
    expect(documentExtensionProblems(doc)).toEqual([expect.stringMatching(/^getAgent: unknown extension x-cache-contrl/)]);
  });

  it('refuses a value of the wrong type or shape', () => {
    const doc = copy();
    getAgent(doc)['x-audit'] = 'no';
    getAgent(doc)['x-cache-control'] = 'privat';
    (doc['x-rate-limits'] as { tiers: Record<string, unknown> }).tiers.premium = { requests_per_minute: '6000', burst: 1000 };
    const problems = documentExtensionProblems(doc);
    expect(problems).toContainEqual(expect.stringMatching(/^getAgent: x-audit "no" is invalid/));
    expect(problems).toContainEqual(expect.stringMatching(/^getAgent: x-cache-control "privat" is invalid/));
    expect(problems).toContainEqual(expect.stringMatching(/^\(root\): x-rate-limits .* is invalid: \/tiers\/premium\/requests_per_minute must be integer/));
  });

  it('refuses an extension in the wrong place', () => {
    const doc = copy();
    getAgent(doc)['x-roles'] = {};
    expect(documentExtensionProblems(doc)).toEqual([expect.stringMatching(/^getAgent: x-roles belongs on Root, not on Operation/)]);
  });

  it('checks schema-level extensions in nested schemas', () => {
    const doc = copy();
    const codes = (doc.components!.schemas!.ErrorCode as { oneOf: Array<Record<string, unknown>> }).oneOf;
    codes[0]!['x-http-staus'] = 401;
    expect(documentExtensionProblems(doc)).toEqual([expect.stringMatching(/^schema ErrorCode\/oneOf\/0: unknown extension x-http-staus/)]);
  });
});

describe('the definitions themselves', () => {
  it('each schema is valid JSON Schema (the server does not check them again at start-up)', () => {
    const ajv = new Ajv2020({ strict: true });
    for (const definition of EXTENSIONS) {
      expect(ajv.validateSchema(definition.schema), `${definition.name}: ${ajv.errorsText()}`).toBe(true);
    }
  });
});
