// The events of the contract, read from the spec: each type's stream channel (`EventType`'s `x-channel`)
// and each channel's read permission (`EventChannel`'s `x-permission`), and the payload type of each event.
import type { components } from '../../generated/openapi.d.ts';
import type { Permission } from '../auth/permissions.ts';
import { spec } from '../contract.ts';

type Schemas = components['schemas'];
export type EventType = Schemas['EventType'];
export type EventChannel = Schemas['EventChannel'];
export type StreamEvent = Schemas['StreamEvent'];
export type WebhookPingEvent = Schemas['WebhookPingEvent'];

/** The `data` of an event of type `T`: the resource as its `get…` operation answers it. */
export type EventData<T extends EventType> = StreamEvent extends infer E ? (E extends { event: infer K; data: infer D } ? (T extends K ? D : never) : never) : never;

interface Entry<C> {
  const: C;
  'x-channel'?: EventChannel;
  'x-permission'?: Permission;
}
const schemas = spec.components?.schemas as Record<string, { oneOf: Entry<string>[] }>;

export const channelOf: ReadonlyMap<EventType, EventChannel> = new Map(
  (schemas.EventType!.oneOf as Entry<EventType>[]).map((t) => [t.const, t['x-channel']!] as const),
);

export const channelPermission: ReadonlyMap<EventChannel, Permission> = new Map(
  (schemas.EventChannel!.oneOf as Entry<EventChannel>[]).map((c) => [c.const, c['x-permission']!] as const),
);
