// Type-level tests of @opsdeck/sdk: `tsc` checks this file (it is never run). Each `@ts-expect-error`
// proves the contract's types refuse a mistake; each `expectTypeOf` pins what a result is typed as.
import { expectTypeOf } from 'vitest';
import {
  createOpsdeckClient,
  etagOf,
  getIfChanged,
  IDEMPOTENT_POST_PATHS,
  isPreconditionFailed,
  OpsdeckError,
  paginate,
  pages,
  taskChildren,
  waitForTask,
  rateLimitOf,
  unwrap,
  subscribeEvents,
  connectLive,
  type LiveConnection,
  type LiveError,
  type LiveServerMessage,
  type EventChannel,
  type AgentEvent,
  type PipelineEvent,
  type PipelineRunEvent,
  type AlertEvent,
  type EventSubscription,
  type StreamEvent,
  type TaskEvent,
  type components,
  parseOpsdeckWebhook,
  verifyOpsdeckSignature,
  type WebhookPayload,
  type Agent,
  type AgentFields,
  type AgentV2,
  type ErrorCode,
  type ErrorDetail,
  type ConditionalPath,
  type IdempotentPostPath,
  type ListPath,
  type OpsdeckClient,
  type OpsdeckSession,
  type Pagination,
  type RateLimit,
  type TokenPair,
  type VersionInfo,
} from '@opsdeck/sdk';

declare const agent_id: string;
const client = createOpsdeckClient({ baseUrl: 'https://opsdeck.test', token: () => undefined });

export async function paths(): Promise<void> {
  // @ts-expect-error: no such path
  await client.GET('/api/v1/agent/{agent_id}', { params: { path: { agent_id } } });
  // @ts-expect-error: the path parameter is agent_id
  await client.GET('/api/v1/agents/{agent_id}', { params: { path: { id: agent_id } } });
  // @ts-expect-error: the path parameter is required
  await client.GET('/api/v1/agents/{agent_id}');
  // @ts-expect-error: 'exploded' is not an agent status
  await client.GET('/api/v1/agents', { params: { query: { status: 'exploded' } } });
  // @ts-expect-error: not a field of an agent
  await client.GET('/api/v1/agents', { params: { query: { fields: ['id', 'password'] } } });
  // @ts-expect-error: a new agent needs an ip_address
  await client.POST('/api/v1/agents', { body: { hostname: 'web-1', platform: 'linux' } });
  // @ts-expect-error: there is no PATCH of the list
  await client.PATCH('/api/v1/agents', { body: {} });
}

export async function results(): Promise<void> {
  const agent = await unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }));
  // openapi-fetch re-maps response types, so `Agent` (an intersection) is compared deeply resolved.
  expectTypeOf(agent).branded.toEqualTypeOf<Agent>();
  const status: 'online' | 'offline' | 'maintenance' = agent.status;

  const updated = await unwrap(
    client.PATCH('/api/v1/agents/{agent_id}', { params: { path: { agent_id } }, body: { status: 'maintenance' } }),
  );
  expectTypeOf(updated).branded.toEqualTypeOf<Agent>();

  const list = await unwrap(client.GET('/api/v1/agents'));
  expectTypeOf(list).toEqualTypeOf<AgentFields[]>();

  const version = await unwrap(client.GET('/api/v1/system/version'));
  expectTypeOf(version).toEqualTypeOf<VersionInfo>();

  const deleted = await unwrap(client.DELETE('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }));
  expectTypeOf(deleted).toEqualTypeOf<undefined>();

  void status;
}

export async function lists(): Promise<void> {
  expectTypeOf<'/api/v1/agents'>().toExtend<ListPath>();
  expectTypeOf<'/api/v1/teams'>().toExtend<ListPath>();
  // @ts-expect-error a single resource is not a list
  expectTypeOf<'/api/v1/agents/{agent_id}'>().toExtend<ListPath>();

  for await (const item of paginate(client, '/api/v1/agents', { params: { query: { cursor: '', status: 'online' } } })) {
    expectTypeOf(item).toEqualTypeOf<AgentFields>();
  }
  // v2's items carry their groups and health; its summary rides beside the pagination.
  for await (const item of paginate(client, '/api/v2/agents', { params: { query: { cursor: '' } } })) {
    expectTypeOf(item).toEqualTypeOf<AgentV2>();
    expectTypeOf(item.health_score).toEqualTypeOf<number>();
    expectTypeOf(item.groups).toEqualTypeOf<Array<{ id: string; name: string }>>();
  }
  for await (const page of pages(client, '/api/v1/agents')) {
    expectTypeOf(page.pagination).toEqualTypeOf<Pagination>();
    if (page.pagination.mode === 'cursor') {
      const next: string | null = page.pagination.next_cursor;
      void next;
    }
  }
  // @ts-expect-error: a single agent is not a list
  paginate(client, '/api/v1/agents/{agent_id}');
  // @ts-expect-error: 'exploded' is not an agent status
  paginate(client, '/api/v1/agents', { params: { query: { status: 'exploded' } } });
}

export function errors(error: unknown): void {
  if (error instanceof OpsdeckError) {
    expectTypeOf(error.code).toEqualTypeOf<ErrorCode>();
    expectTypeOf(error.details).toEqualTypeOf<ErrorDetail[]>();
    const status: number = error.status;
    const requestId: string | undefined = error.requestId;
    const helpUrl: string | undefined = error.helpUrl;
    // @ts-expect-error: not one of the spec's error codes
    if (error.code === 'AGENT_EXPLODED') return;
    void [status, requestId, helpUrl];
  }
}

export async function session(stored: string | undefined): Promise<void> {
  const opsdeck = createOpsdeckClient({
    baseUrl: 'https://opsdeck.test',
    session: {
      refreshToken: stored,
      onTokens(pair) {
        expectTypeOf(pair).toEqualTypeOf<TokenPair | undefined>();
      },
    },
  });
  const pair = await opsdeck.login('ada@example.com', 'correct-horse-battery-staple');
  expectTypeOf(pair).toEqualTypeOf<TokenPair>();
  expectTypeOf(pair.token_type).toEqualTypeOf<'Bearer'>();
  expectTypeOf(opsdeck.session).toEqualTypeOf<OpsdeckSession>();
  expectTypeOf(opsdeck.session.refreshToken).toEqualTypeOf<string | undefined>();
  expectTypeOf(opsdeck.session.refresh()).toEqualTypeOf<Promise<TokenPair>>();
  expectTypeOf(opsdeck.logout()).toEqualTypeOf<Promise<void>>();

  // Still openapi-fetch's typed client, and what paginate takes.
  expectTypeOf(await unwrap(opsdeck.GET('/api/v1/system/version'))).toEqualTypeOf<VersionInfo>();
  for await (const item of paginate(opsdeck, '/api/v1/agents')) expectTypeOf(item).toEqualTypeOf<AgentFields>();
  const typed: OpsdeckClient = opsdeck;
  // @ts-expect-error: the path parameter is required, session or not
  await typed.GET('/api/v1/agents/{agent_id}');

  // An API key may come from the environment (possibly undefined)…
  createOpsdeckClient({ baseUrl: 'https://opsdeck.test', apiKey: stored });
  // @ts-expect-error: …but an API-key client has no session
  createOpsdeckClient({ baseUrl: 'https://opsdeck.test', apiKey: 'opk_1', session: { refreshToken: 'rt_1' } });
  // @ts-expect-error: login takes an email and a password
  await opsdeck.login('ada@example.com');
  // A second factor: asked for when the account has one, or completed later.
  expectTypeOf(await opsdeck.login('ada@example.com', 'pw', { secondFactor: (challenge) => ({ code: challenge.mfa_token.slice(0, 6) }) })).toEqualTypeOf<TokenPair>();
  await opsdeck.login('ada@example.com', 'pw', { secondFactor: async () => ({ recovery_code: 'k7qm-3xw2-pd5t-h4ns' }) });
  expectTypeOf(opsdeck.completeLogin('omt_1', { code: '123456' })).toEqualTypeOf<Promise<TokenPair>>();
  // @ts-expect-error: a second factor is a code or a recovery code
  await opsdeck.completeLogin('omt_1', { password: 'pw' });
  // @ts-expect-error: the session's tokens are read-only; log in, refresh or clear to change them
  opsdeck.session.accessToken = 'at_forged';
}

export async function edge(error: unknown): Promise<void> {
  const read = await client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } });
  const etag = etagOf(read);
  expectTypeOf(etag).toEqualTypeOf<string | undefined>();
  if (etag === undefined) return;

  // The contract declares the validators as header parameters, so openapi-fetch types them per operation.
  await client.PATCH('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-Match': etag } }, body: { status: 'online' } });
  await client.DELETE('/api/v1/teams/{team_id}', { params: { path: { team_id: agent_id }, header: { 'If-Match': etag } } });
  await client.GET('/api/v1/agents', { params: { header: { 'If-None-Match': etag } } });
  await client.POST('/api/v1/agents', { params: { header: { 'Idempotency-Key': 'k-1' } }, body: { hostname: 'web-1', ip_address: '10.0.0.1', platform: 'linux' } });
  // @ts-expect-error: If-Match is for writes; a GET takes If-None-Match
  await client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-Match': etag } } });
  // @ts-expect-error: a write takes If-Match, not If-None-Match
  await client.PATCH('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-None-Match': etag } }, body: {} });
  // @ts-expect-error: logging in takes no Idempotency-Key
  await client.POST('/api/v1/auth/login', { params: { header: { 'Idempotency-Key': 'k-2' } }, body: { email: 'a@b.c', password: 'x' } });

  const fresh = await getIfChanged(client, '/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }, etag);
  if (fresh.notModified) {
    expectTypeOf(fresh.etag).toEqualTypeOf<string>();
    // @ts-expect-error: a 304 has no data
    void fresh.data;
  } else {
    expectTypeOf(fresh.data).toEqualTypeOf<Agent>();
    expectTypeOf(fresh.etag).toEqualTypeOf<string | undefined>();
  }
  const page = await getIfChanged(client, '/api/v1/agents', undefined, undefined);
  if (!page.notModified) {
    expectTypeOf(page.data).toEqualTypeOf<AgentFields[]>();
    expectTypeOf(page.body.pagination).toEqualTypeOf<Pagination>();
  }
  expectTypeOf<'/api/v1/auth/profile'>().toExtend<ConditionalPath>();
  expectTypeOf<'/api/v1/system/version'>().toExtend<ConditionalPath>();
  // @ts-expect-error: the liveness probe is not served with validators
  await getIfChanged(client, '/health/live', undefined, etag);
  // @ts-expect-error: the path parameter is required
  await getIfChanged(client, '/api/v1/agents/{agent_id}', undefined, etag);

  expectTypeOf<'/api/v1/teams/{team_id}/members'>().toExtend<IdempotentPostPath>();
  // Every create of the contract gets a key from `idempotencyKeys: true`: a path missing from the list fails here.
  expectTypeOf<Exclude<IdempotentPostPath, (typeof IDEMPOTENT_POST_PATHS)[number]>>().toEqualTypeOf<never>();
  // @ts-expect-error: logging in is not a create that takes a key
  expectTypeOf<'/api/v1/auth/login'>().toExtend<IdempotentPostPath>();

  expectTypeOf(rateLimitOf(read)).toEqualTypeOf<RateLimit | undefined>();
  if (isPreconditionFailed(error)) {
    expectTypeOf(error.code).toEqualTypeOf<'RES_PRECONDITION_FAILED'>();
    expectTypeOf(error.status).toEqualTypeOf<412>();
    expectTypeOf(rateLimitOf(error)).toEqualTypeOf<RateLimit | undefined>();
  }
  if (OpsdeckError.is(error, 'RES_IDEMPOTENCY_IN_FLIGHT', 'VAL_IDEMPOTENCY_KEY_REUSED')) {
    expectTypeOf(error.code).toEqualTypeOf<'RES_IDEMPOTENCY_IN_FLIGHT' | 'VAL_IDEMPOTENCY_KEY_REUSED'>();
  }
  // @ts-expect-error: not one of the spec's error codes
  OpsdeckError.is(error, 'AGENT_EXPLODED');

  createOpsdeckClient({ baseUrl: 'https://opsdeck.test', idempotencyKeys: true });
}

// Webhook receivers: a delivery's event is typed by its `event`, from the contract's `webhooks` section.
export async function webhookReceiver(body: string, headers: Headers, secret: string) {
  expectTypeOf(await verifyOpsdeckSignature(body, headers, secret)).toEqualTypeOf<boolean>();
  const delivery = await parseOpsdeckWebhook(body, headers, secret);
  if (delivery.event === 'alert.triggered') expectTypeOf(delivery.data.severity).toEqualTypeOf<'info' | 'warning' | 'critical'>();
  if (delivery.event === 'task.failed') expectTypeOf(delivery.data.error).toEqualTypeOf<string | null>();
  if (delivery.event === 'webhook.ping') expectTypeOf(delivery.data.webhook_id).toEqualTypeOf<string>();
  expectTypeOf<WebhookPayload<'deployment.finished'>['event']>().toEqualTypeOf<'deployment.finished'>();
  expectTypeOf<WebhookPayload<'pipeline.run.completed'>['data']['status']>().toEqualTypeOf<'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'>();
  expectTypeOf<WebhookPayload<'deployment.rollback_requested'>['data']['requested_by']>().toEqualTypeOf<string | null>();
  // @ts-expect-error: not an event of the contract
  expectTypeOf<WebhookPayload<'pipeline.exploded'>>();
}

// The live stream: an event is typed by its `event`, so narrowing on it types `data`.
export function liveEvents(): EventSubscription {
  const subscription = subscribeEvents(client, {
    channels: ['alerts', 'tasks'],
    onEvent(event, { id }) {
      expectTypeOf(event).toEqualTypeOf<StreamEvent>();
      expectTypeOf(id).toEqualTypeOf<string>();
      switch (event.event) {
        case 'alert.triggered':
          expectTypeOf(event).toEqualTypeOf<AlertEvent>();
          expectTypeOf(event.data.severity).toEqualTypeOf<'info' | 'warning' | 'critical'>();
          break;
        case 'task.failed':
          expectTypeOf(event).toEqualTypeOf<TaskEvent>();
          expectTypeOf(event.data.error).toEqualTypeOf<string | null>();
          // @ts-expect-error: a task has no hostname
          void event.data.hostname;
          break;
        case 'agent.offline':
          expectTypeOf(event).toEqualTypeOf<AgentEvent>();
          expectTypeOf(event.data.hostname).toEqualTypeOf<string>();
          break;
        case 'deployment.finished':
          expectTypeOf(event.data.status).toExtend<string>();
          break;
        case 'deployment.rollback_requested':
          expectTypeOf(event.data.reason).toEqualTypeOf<string | null>();
          expectTypeOf(event.data.requested_by).toEqualTypeOf<string | null>();
          break;
        case 'pipeline.run.completed':
          expectTypeOf(event).toEqualTypeOf<PipelineRunEvent>();
          expectTypeOf(event.data.status).toEqualTypeOf<'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'>();
          break;
        case 'pipeline.updated':
          expectTypeOf(event).toEqualTypeOf<PipelineEvent>();
          expectTypeOf(event.data.last_run_status).toExtend<string | null>();
          break;
        // @ts-expect-error: not an event type of the contract
        case 'pipeline.exploded':
          break;
      }
    },
  });
  expectTypeOf(subscription.closed).toEqualTypeOf<Promise<void>>();
  expectTypeOf(subscription.lastEventId).toEqualTypeOf<string | undefined>();
  subscribeEvents(client, { channels: ['pipelines', 'deployments'], onEvent: () => {} });
  // @ts-expect-error: not a channel
  subscribeEvents(client, { channels: ['rockets'], onEvent: () => {} });
  // @ts-expect-error: onEvent is required
  subscribeEvents({ baseUrl: 'https://opsdeck.test', apiKey: 'opk_x' }, { channels: ['alerts'] });
  return subscription;
}

// The live WebSocket: the same typed events, each with its channel; the protocol's messages are the contract's.
export function liveSocket(): LiveConnection {
  const live = connectLive({
    baseUrl: 'https://opsdeck.test',
    token: async () => 'opk_x',
    channels: ['alerts'],
    onEvent(event, { id, channel }) {
      expectTypeOf(event).toEqualTypeOf<StreamEvent>();
      expectTypeOf(id).toEqualTypeOf<string>();
      expectTypeOf(channel).toEqualTypeOf<EventChannel>();
      if (event.event === 'alert.resolved') expectTypeOf(event).toEqualTypeOf<AlertEvent>();
    },
    onError(error, reconnect) {
      expectTypeOf(error).toEqualTypeOf<LiveError>();
      expectTypeOf(error.code).toEqualTypeOf<ErrorCode | undefined>();
      expectTypeOf(reconnect).toEqualTypeOf<{ retryInMs: number } | undefined>();
    },
  });
  live.subscribe(['tasks']);
  // @ts-expect-error: not a channel
  live.subscribe(['rockets']);
  // @ts-expect-error: token is required (the credential goes in the first message)
  connectLive({ baseUrl: 'https://opsdeck.test', channels: ['alerts'], onEvent: () => {} });
  expectTypeOf<Extract<LiveServerMessage, { type: 'event' }>['data']>().toEqualTypeOf<StreamEvent>();
  return live;
}

export async function fleetTaskTypes(client: ReturnType<typeof createOpsdeckClient>, taskId: string): Promise<void> {
  const done = await waitForTask(client, taskId, { onProgress: (task) => expectTypeOf(task.fleet).toEqualTypeOf<components['schemas']['FleetProgress'] | null>() });
  expectTypeOf(done.status).toEqualTypeOf<components['schemas']['TaskStatus']>();
  expectTypeOf(done.agent_id).toEqualTypeOf<string | null>();
  for await (const child of taskChildren(client, taskId, { status: 'failed', fields: ['id', 'agent_id'] })) expectTypeOf(child.id).toEqualTypeOf<string>();
  // @ts-expect-error: the parent is named by taskChildren's own argument, not in the query
  taskChildren(client, taskId, { parent_id: taskId });
  // @ts-expect-error: a fleet task needs a target
  await client.POST('/api/v1/tasks', { body: { action: { type: 'reboot' } } });
}
