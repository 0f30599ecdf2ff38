// Type tests of the handler contract, checked by `npm run typecheck`: each @ts-expect-error must
// meet an error, or tsc fails ("Unused '@ts-expect-error' directive").
import type { Handler, HandlerMap } from '../../server/http/operation-types.ts';
import type { components } from '../../generated/openapi.d.ts';

declare const agent: components['schemas']['Agent'];

// A map without one operation's handler is not a HandlerMap.
declare const withoutGetAgent: Omit<HandlerMap, 'getAgent'>;
// @ts-expect-error getAgent is missing
export const incomplete: HandlerMap = withoutGetAgent;

// A status the spec does not declare for the operation.
// @ts-expect-error getAgent declares no 201
export const undeclaredStatus: Handler<'getAgent'> = async () => ({ status: 201, body: { data: agent } });

// A body of the wrong shape for a declared status.
// @ts-expect-error data must be an Agent
export const wrongBody: Handler<'getAgent'> = async () => ({ status: 200, body: { data: { id: 'x' } } });

// 201 of createAgent declares a Location header: leaving it out is an error.
// @ts-expect-error Location is required
export const noLocation: Handler<'createAgent'> = async () => ({ status: 201, body: { data: agent } });

// 204 has no body.
// @ts-expect-error deleteAgent's 204 has no content
export const bodyOn204: Handler<'deleteAgent'> = async () => ({ status: 204, body: { data: agent } });

// Inputs are typed from the spec.
export const typedInputs: Handler<'replaceAgent'> = async ({ params, body }) => {
  const id: string = params.agent_id;
  const hostname: string = body.hostname;
  // @ts-expect-error no such path parameter
  void params.agentId;
  // @ts-expect-error platform is an enum
  const platform: 'plan9' = body.platform;
  void platform;
  return { status: 200, body: { data: { ...agent, id, hostname } } };
};

export const typedQuery: Handler<'listAgents'> = async ({ query }) => {
  const limit: number | undefined = query.limit;
  // @ts-expect-error status is an enum of the spec
  const status: 'exploded' | undefined = query.status;
  void limit;
  void status;
  return { status: 200, headers: { Link: '' }, body: { data: [], pagination: { mode: 'cursor', per_page: 1, has_next: false, has_prev: false, next_cursor: null, links: { self: '/', first: '/', prev: null, next: null } } } };
};

// A `text/event-stream` answer is a stream, never a JSON body; a JSON answer never a stream.
// @ts-expect-error streamEvents' 200 is text/event-stream: it has no body
export const bodyOnStream: Handler<'streamEvents'> = async () => ({ status: 200, body: { data: [] } });
// @ts-expect-error getAgent's 200 is JSON: it cannot answer a stream
export const streamOnJson: Handler<'getAgent'> = async () => ({ status: 200, stream: async () => {} });
// @ts-expect-error a stream must be given
export const noStream: Handler<'streamEvents'> = async () => ({ status: 200 });

// A stream handler gets its declared headers, typed by their declared names, and writes to a typed sink.
export const typedStream: Handler<'streamEvents'> = async ({ headers, query }) => {
  const lastEventId: string | undefined = headers['Last-Event-ID'] ?? query.last_event_id;
  // @ts-expect-error streamEvents declares no such header
  void headers['If-Match'];
  // @ts-expect-error not a channel of the contract
  const channel: 'pipelines' | undefined = query.channels?.[0];
  void channel;
  return {
    status: 200,
    stream: async (sink) => {
      sink.send({ id: lastEventId ?? '0', event: 'alert.triggered', data: '{}' });
      // @ts-expect-error retry is a number of milliseconds
      sink.send({ retry: '3000' });
      await sink.drained();
    },
  };
};
