// The events of the contract, read from the spec: each type's stream channel (`EventType`'s `x-channel`)
// and each channel's read permission (`EventChannel`'s `x-permission`), and the payload type of each event.
import type { components } from '../../generated/openapi.d.ts';
import type { Permission } from '../auth/permissions.ts';
import { constantsExtension } from '../contract.ts';

type Schemas = components['schemas'];
export type EventType = Schemas['EventType'];
export type EventChannel = Schemas['EventChannel'];
export type StreamEvent = Schemas['StreamEvent'];
export type WebhookPingEvent = Schemas['WebhookPingEvent'];

/** The `data` of an event of type `T`: the resource as its `get…` operation answers it. */
export type EventData<T extends EventType> = StreamEvent extends infer E ? (E extends { event: infer K; data: infer D } ? (T extends K ? D : never) : never) : never;

export const channelOf: ReadonlyMap<EventType, EventChannel> = constantsExtension<EventType, EventChannel>('EventType', 'x-channel');

export const channelPermission: ReadonlyMap<EventChannel, Permission> = constantsExtension<EventChannel, Permission>('EventChannel', 'x-permission');
