// An agent enrolled through the API in the test server's team, as a host does: what the agent-protocol tests act as.
import { expect } from 'vitest';
import { http, newAgent } from './http.ts';
import type { TestServer } from './server.ts';

export async function enrolAgent(server: Pick<TestServer, 'url' | 'teamId' | 'call'>, label: string): Promise<{ agent: { id: string; hostname: string }; key: string }> {
  const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: label } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } });
  expect(res.status, res.text).toBe(201);
  return { agent: res.body.data.agent as { id: string; hostname: string }, key: res.body.data.agent_key as string };
}
