// A `fetch` for the SDK's tests: it records each request (with its body read) and answers from `handler`.
import type { Agent, Meta } from '@opsdeck/sdk';

export interface Recorded {
  request: Request;
  url: URL;
  body: string;
}

export function fakeFetch(handler: (call: Recorded, index: number) => Response | Promise<Response>) {
  const calls: Recorded[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const call = { request, url: new URL(request.url), body: await request.text() };
    calls.push(call);
    return handler(call, calls.length - 1);
  };
  return { fetch, calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export const meta = (requestId = 'req_test'): Meta => ({
  request_id: requestId,
  timestamp: '2026-11-21T10:30:00.000Z',
  api_version: '1.0',
});

export function agent(n: number): Agent {
  return {
    id: `0192f0c1-7c1e-7d3a-9b7e-${String(n).padStart(12, '0')}`,
    team_id: '0192f0a0-0000-7000-8000-00000000000a',
    hostname: `web-${n}.prod.example.com`,
    ip_address: `10.0.4.${n}`,
    platform: 'linux',
    os_version: 'Ubuntu 24.04.1 LTS',
    agent_version: '2.4.1',
    status: 'online',
    tags: ['web'],
    last_seen: '2026-11-21T10:29:41.000Z',
    created_at: '2026-11-02T08:15:00.000Z',
    updated_at: '2026-11-20T17:02:12.000Z',
  };
}

export const ok = (data: unknown): Response => json(200, { success: true, data, meta: meta() });

export const failure = (status: number, code: string, headers: Record<string, string> = {}): Response =>
  json(status, { success: false, error: { code, message: `${code} happened` }, meta: meta() }, headers);
