import { expect, test } from 'vitest';
import { createOpsdeckClient, OpsdeckError, unwrap } from '@opsdeck/sdk';
import { fakeFetch, json, meta } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';

async function rejection(promise: Promise<unknown>): Promise<OpsdeckError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpsdeckError);
  return error as OpsdeckError;
}

test('an error envelope becomes an OpsdeckError with every field', async () => {
  const { fetch } = fakeFetch(() =>
    json(422, {
      success: false,
      error: {
        code: 'VAL_INVALID_FORMAT',
        message: 'ip_address must match format "ip"',
        details: [{ field: 'ip_address', message: 'must match format "ip"', value: '192.168.1' }],
        help_url: '/docs#tag/Errors',
      },
      meta: meta('req_from_body'),
    }),
  );
  const client = createOpsdeckClient({ baseUrl, fetch });

  const error = await rejection(
    unwrap(client.POST('/api/v1/agents', { body: { hostname: 'web-1', ip_address: '192.168.1', platform: 'linux' } })),
  );

  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('OpsdeckError');
  expect(error.code).toBe('VAL_INVALID_FORMAT');
  expect(error.message).toBe('ip_address must match format "ip"');
  expect(error.status).toBe(422);
  expect(error.requestId).toBe('req_from_body');
  expect(error.details).toEqual([{ field: 'ip_address', message: 'must match format "ip"', value: '192.168.1' }]);
  expect(error.helpUrl).toBe('/docs#tag/Errors');
});

test('an answer without the envelope still gives an OpsdeckError, its code from the status', async () => {
  const { fetch } = fakeFetch(
    () => new Response('<h1>Not Found</h1>', { status: 404, statusText: 'Not Found', headers: { 'X-Request-ID': 'req_hdr' } }),
  );
  const client = createOpsdeckClient({ baseUrl, fetch });

  const error = await rejection(unwrap(client.GET('/api/v1/system/version')));

  expect(error.code).toBe('RES_NOT_FOUND');
  expect(error.status).toBe(404);
  expect(error.message).toBe('HTTP 404 Not Found');
  expect(error.requestId).toBe('req_hdr');
  expect(error.details).toEqual([]);
  expect(error.helpUrl).toBeUndefined();
});
