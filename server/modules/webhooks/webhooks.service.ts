// The rules for webhooks: team scope (another team's webhook or delivery is 404), targets checked against
// SSRF at registration and on every URL change, secrets encrypted at rest and shown only once, If-Match
// writes, turning a webhook off and on, pings and redeliveries queued for the deliverer.
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Updateable } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { SecretBox } from '../../auth/secret-box.ts';
import type { Database, WebhooksTable } from '../../db/schema.ts';
import { toEventPayload } from '../../events/event.mapper.ts';
import { recordPing } from '../../events/outbox.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { secretHint, toWebhook, toWebhookDelivery, toWebhookDeliveryAttempt, type PublicWebhookRow } from './webhooks.mapper.ts';
import * as repo from './webhooks.repository.ts';
import { checkTarget, TargetRefused } from './webhooks.target-check.ts';

type Schemas = components['schemas'];
export type WebhookListQuery = NonNullable<operations['listWebhooks']['parameters']['query']>;
export type DeliveryListQuery = NonNullable<operations['listWebhookDeliveries']['parameters']['query']>;

export const PING_EVENT = 'webhook.ping';
export const PING_MESSAGE = 'Ping from Opsdeck: this endpoint receives the events of its webhook.';

/** A new signing secret: `whsec_` and 32 random bytes. */
export const generateSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

export interface WebhookServiceOptions {
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS. */
  allowPrivateTargets: boolean;
  /** Told when this process queued a delivery (a ping, a redelivery), so it goes out at once. */
  onDeliveryQueued?: () => void;
}

export class WebhookService {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;
  readonly #options: WebhookServiceOptions;

  constructor(db: Kysely<Database>, box: SecretBox, options: WebhookServiceOptions) {
    this.#db = db;
    this.#box = box;
    this.#options = options;
  }

  async #checkUrl(url: string): Promise<void> {
    try {
      await checkTarget(url, this.#options.allowPrivateTargets);
    } catch (err) {
      if (!(err instanceof TargetRefused)) throw err;
      throw new ApiError('VAL_WEBHOOK_TARGET_FORBIDDEN', `Webhooks cannot be sent to ${url}: ${err.message}`, {
        details: [{ field: 'url', message: err.message, value: url }],
      });
    }
  }

  async #find(caller: Caller, id: string): Promise<PublicWebhookRow> {
    const row = await repo.findWebhook(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Webhook', id);
    return row;
  }

  async list(caller: Caller, query: WebhookListQuery, ctx: RequestContext): Promise<{ items: Schemas['Webhook'][]; pagination: Pagination }> {
    const filter: repo.WebhookFilter = { teamIds: caller.teamIds, teamId: query.team_id, active: query.active };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listWebhooks(this.#db, filter, keys, window),
      count: () => repo.countWebhooks(this.#db, filter),
    });
    return { items: rows.map(toWebhook), pagination };
  }

  async get(caller: Caller, id: string): Promise<Schemas['Webhook']> {
    return toWebhook(await this.#find(caller, id));
  }

  async create(caller: Caller, input: Schemas['WebhookCreate']): Promise<Schemas['WebhookCreated']> {
    const teamId = owningTeam(caller, input.team_id);
    await this.#checkUrl(input.url);
    const id = uuidv7();
    const secret = input.secret ?? generateSecret();
    const row = await repo.insertWebhook(this.#db, {
      id,
      team_id: teamId,
      url: input.url,
      events: [...input.events],
      description: input.description ?? null,
      secret_ciphertext: this.#box.seal(secret, id),
      secret_hint: secretHint(secret),
    });
    return { ...toWebhook(row), secret };
  }

  async update(caller: Caller, id: string, patch: Schemas['WebhookPatch'], expectedUpdatedAt: string | null): Promise<Schemas['Webhook']> {
    await this.#find(caller, id);
    // Resolved outside the transaction, so no row stays locked while DNS answers.
    if (patch.url !== undefined) await this.#checkUrl(patch.url);
    return this.#db.transaction().execute(async (trx) => {
      const row = await repo.lockWebhook(trx, id, caller.teamIds);
      if (!row) throw notFound('Webhook', id);
      if (expectedUpdatedAt && row.updated_at.toISOString() !== new Date(expectedUpdatedAt).toISOString()) throw movedOn('webhook');
      const changes: Updateable<WebhooksTable> = { updated_at: sql<Date>`now()` as never };
      if (patch.url !== undefined) changes.url = patch.url;
      if (patch.events !== undefined) changes.events = [...patch.events];
      if (patch.description !== undefined) changes.description = patch.description;
      if (patch.secret !== undefined) {
        changes.secret_ciphertext = this.#box.seal(patch.secret, id);
        changes.secret_hint = secretHint(patch.secret);
      }
      const turnedOff = patch.active === false && row.active;
      if (patch.active === true) Object.assign(changes, { active: true, disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
      if (turnedOff) Object.assign(changes, { active: false, disabled_reason: `turned off by ${caller.email}`, disabled_at: sql`now()` });
      const updated = await repo.updateWebhook(trx, id, changes);
      // Off means nothing is sent: what was still pending fails now (it can be redelivered later).
      if (turnedOff) await repo.failPendingDeliveries(trx, id);
      return toWebhook(updated);
    });
  }

  async delete(caller: Caller, id: string, expectedUpdatedAt: string | null): Promise<void> {
    await this.#find(caller, id);
    if (!(await repo.deleteWebhook(this.#db, id, expectedUpdatedAt))) throw expectedUpdatedAt ? movedOn('webhook') : notFound('Webhook', id);
  }

  /** Queues a `webhook.ping` to this webhook only: the event (already dispatched, never streamed) and its delivery commit together. */
  async ping(caller: Caller, id: string): Promise<Schemas['WebhookDelivery']> {
    const delivery = await this.#db.transaction().execute(async (trx) => {
      const webhook = await this.#lockActive(trx, caller, id);
      const data: Schemas['WebhookPing'] = { webhook_id: webhook.id, message: PING_MESSAGE };
      const eventId = await recordPing(trx, webhook.team_id, data);
      const [queued] = await repo.queueDeliveries(trx, [{ webhook_id: webhook.id, event_id: eventId, event: PING_EVENT }]);
      return queued!;
    });
    this.#options.onDeliveryQueued?.();
    return toWebhookDelivery(delivery);
  }

  async listDeliveries(
    caller: Caller,
    webhookId: string,
    query: DeliveryListQuery,
    ctx: RequestContext,
  ): Promise<{ items: Schemas['WebhookDelivery'][]; pagination: Pagination }> {
    await this.#find(caller, webhookId);
    const filter: repo.DeliveryFilter = { webhookId, status: query.status, event: query.event };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.DELIVERY_SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter,
      rows: (keys, window) => repo.listDeliveries(this.#db, filter, keys, window),
      count: () => repo.countDeliveries(this.#db, filter),
    });
    return { items: rows.map(toWebhookDelivery), pagination };
  }

  async getDelivery(caller: Caller, webhookId: string, deliveryId: string): Promise<Schemas['WebhookDeliveryDetail']> {
    await this.#find(caller, webhookId);
    const delivery = await repo.findDelivery(this.#db, webhookId, deliveryId);
    if (!delivery) throw notFound('Delivery', deliveryId);
    const [event, attempts] = await Promise.all([repo.findEvent(this.#db, delivery.event_id), repo.attemptsOf(this.#db, delivery.id)]);
    // The event cascades to its deliveries, so a delivery always has one; guard against a race with pruning.
    if (!event) throw notFound('Delivery', deliveryId);
    return { ...toWebhookDelivery(delivery), payload: toEventPayload(event), attempts: attempts.map(toWebhookDeliveryAttempt) };
  }

  /** A new delivery of the same event, pointing at the one it repeats. */
  async redeliver(caller: Caller, webhookId: string, deliveryId: string): Promise<Schemas['WebhookDelivery']> {
    const delivery = await this.#db.transaction().execute(async (trx) => {
      const webhook = await repo.lockWebhook(trx, webhookId, caller.teamIds);
      if (!webhook) throw notFound('Webhook', webhookId);
      const original = await repo.findDelivery(trx, webhookId, deliveryId);
      if (!original) throw notFound('Delivery', deliveryId);
      if (!webhook.active) throw disabled(webhook);
      const [queued] = await repo.queueDeliveries(trx, [{ webhook_id: webhookId, event_id: original.event_id, event: original.event, redelivery_of: original.id }]);
      return queued!;
    });
    this.#options.onDeliveryQueued?.();
    return toWebhookDelivery(delivery);
  }

  async #lockActive(trx: Parameters<typeof repo.lockWebhook>[0], caller: Caller, id: string): Promise<PublicWebhookRow> {
    const webhook = await repo.lockWebhook(trx, id, caller.teamIds);
    if (!webhook) throw notFound('Webhook', id);
    if (!webhook.active) throw disabled(webhook);
    return webhook;
  }
}

const disabled = (webhook: PublicWebhookRow): ApiError =>
  new ApiError('BIZ_WEBHOOK_DISABLED', `Webhook ${webhook.id} is off${webhook.disabled_reason ? ` (${webhook.disabled_reason})` : ''}; turn it on with updateWebhook first`);
