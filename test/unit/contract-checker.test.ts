// The contract checker must be able to fail: undeclared statuses, wrong shapes and stray bodies are caught.
import { describe, expect, it } from 'vitest';
import { ContractChecker } from '../contract/contract-checker.ts';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const meta = { request_id: 'r1', timestamp: '2026-11-21T10:30:00.000Z', api_version: '1.0' };

describe('ContractChecker', () => {
  it('accepts a declared answer of the right shape', async () => {
    const checker = new ContractChecker();
    await checker.check('GET', '/health/live', json(200, { success: true, data: { status: 'ok', checks: [] }, meta }));
    await checker.check('GET', '/api/v1/agents/{agent_id}', json(404, { success: false, error: { code: 'RES_NOT_FOUND', message: 'x' }, meta }));
    await checker.check('DELETE', '/api/v1/agents/{agent_id}', new Response(null, { status: 204 }));
    expect(checker.violations).toEqual([]);
  });

  it('flags an undeclared status, a wrong shape, an unknown code and an unknown operation', async () => {
    const checker = new ContractChecker();
    await checker.check('GET', '/api/v1/agents/{agent_id}', json(418, {}));
    await checker.check('GET', '/health/live', json(200, { success: true, data: { status: 'fine' }, meta }));
    await checker.check('GET', '/api/v1/agents/{agent_id}', json(404, { success: false, error: { code: 'NOPE', message: 'x' }, meta }));
    await checker.check('GET', '/api/v1/nothing', json(200, {}));
    expect(checker.violations.map((v) => v.status)).toEqual([418, 200, 404, 200]);
  });
});
