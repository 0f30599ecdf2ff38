import { describe, expect, it } from 'vitest';
import { expressPath } from '../../server/http/operation-table.ts';
import { assertHandlersMatchSpec } from '../../server/http/pipeline.ts';
import { operationsById } from '../../server/contract.ts';

const complete = Object.fromEntries([...operationsById.keys()].map((id) => [id, async () => ({ status: 200 })]));

describe('binding handlers to the spec', () => {
  it('accepts a map with exactly the spec operations', () => {
    expect(() => assertHandlersMatchSpec(complete)).not.toThrow();
    expect(operationsById.size).toBeGreaterThanOrEqual(9);
  });

  it('refuses to start with a missing handler or a handler for no operation', () => {
    const { getAgent: _missing, ...withoutGetAgent } = complete;
    expect(() => assertHandlersMatchSpec(withoutGetAgent)).toThrow(/no handler for getAgent/);
    expect(() => assertHandlersMatchSpec({ ...complete, launchRockets: async () => ({}) })).toThrow(/no operation for launchRockets/);
  });

  it('turns spec paths into express paths', () => {
    expect(expressPath('/api/v1/agents/{agent_id}')).toBe('/api/v1/agents/:agent_id');
  });
});
