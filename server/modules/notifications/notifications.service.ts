// Notification channels and silences: team scope (another team's is 404), If-Match writes, merge patches.
// A channel's target is checked for its kind (a webhook of the team; a Slack URL checked against SSRF as
// webhook URLs are, then sealed with the secret box and never shown; email only with an SMTP relay). A
// test-send queues one delivery for the channel, with a ping event recorded as already dispatched, so it
// goes to that channel only.
import type { Kysely, Updateable } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { SecretBox } from '../../auth/secret-box.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { Database, NotificationChannelRow, NotificationChannelsTable } from '../../db/schema.ts';
import type { Executor } from '../../db/executor.ts';
import { recordPing } from '../../events/outbox.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { secretHint } from '../webhooks/webhooks.mapper.ts';
import { queueDeliveries } from '../webhooks/webhooks.repository.ts';
import { checkTarget, TargetRefused } from '../webhooks/webhooks.target-check.ts';
import { toAlertSilence, toNotificationChannel, type AlertSilence, type NotificationChannel } from './notifications.mapper.ts';
import * as repo from './notifications.repository.ts';

type Schemas = components['schemas'];
export type ChannelListQuery = NonNullable<operations['listNotificationChannels']['parameters']['query']>;
export type SilenceListQuery = NonNullable<operations['listAlertSilences']['parameters']['query']>;

export const TEST_MESSAGE = 'Test notification from Opsdeck: this channel receives the alerts routed to it.';

export interface NotificationServiceOptions {
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS, for Slack URLs as for webhooks. */
  allowPrivateTargets: boolean;
  /** Whether the server has an SMTP relay (SMTP_URL) for email channels. */
  smtpConfigured: boolean;
  /** Told when a delivery was queued (a test-send), so it goes out at once. */
  onDeliveryQueued?: () => void;
}

const required = (field: string, kind: string) =>
  new ApiError('VAL_REQUIRED_FIELD', `A ${kind} channel needs ${field}`, { details: [{ field, message: `required for a ${kind} channel` }] });

const notForKind = (field: string, kind: string) =>
  new ApiError('VAL_ERROR', `A ${kind} channel has no ${field}`, { details: [{ field, message: `not a field of a ${kind} channel` }] });

/** The fields of each kind's target. */
const TARGET_FIELDS = { webhook: 'webhook_id', slack: 'slack_url', email: 'email_to' } as const;

const lockedVersion = <T extends { updated_at: Date }>(row: T, ctx: RequestContext, what: string): T => {
  if (ctx.expectedUpdatedAt && row.updated_at.getTime() !== new Date(ctx.expectedUpdatedAt).getTime()) throw movedOn(what);
  return row;
};

function checkWindow(startsAt: Date, endsAt: Date): void {
  if (endsAt.getTime() <= startsAt.getTime()) {
    throw new ApiError('VAL_ERROR', 'ends_at must be after starts_at', { details: [{ field: 'ends_at', message: 'not after starts_at', value: endsAt.toISOString() }] });
  }
}

export class NotificationService {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;
  readonly #options: NotificationServiceOptions;

  constructor(db: Kysely<Database>, box: SecretBox, options: NotificationServiceOptions) {
    this.#db = db;
    this.#box = box;
    this.#options = options;
  }

  // ---- Channels ----

  async listChannels(caller: Caller, query: ChannelListQuery, ctx: RequestContext): Promise<{ items: NotificationChannel[]; pagination: Pagination }> {
    const filter: repo.TeamFilter = { teamIds: caller.teamIds, teamId: query.team_id };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listChannels(this.#db, filter, keys, window),
      count: () => repo.countChannels(this.#db, filter),
    });
    return { items: rows.map(toNotificationChannel), pagination };
  }

  async getChannel(caller: Caller, id: string): Promise<NotificationChannel> {
    const row = await repo.findChannel(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Notification channel', id);
    return toNotificationChannel(row);
  }

  async createChannel(caller: Caller, input: Schemas['NotificationChannelCreate']): Promise<NotificationChannel> {
    const teamId = owningTeam(caller, input.team_id);
    const id = uuidv7();
    const target = await this.#target(id, teamId, input.kind, input);
    const row = await repo.insertChannel(this.#db, {
      id,
      team_id: teamId,
      name: input.name,
      kind: input.kind,
      webhook_id: null,
      slack_url_ciphertext: null,
      slack_url_hint: null,
      email_to: null,
      ...target,
      min_severity: input.min_severity ?? 'info',
      label_matchers: JSON.stringify(input.label_matchers ?? {}),
      enabled: input.enabled ?? true,
    });
    return toNotificationChannel(row);
  }

  async updateChannel(caller: Caller, id: string, input: Schemas['NotificationChannelPatch'], ctx: RequestContext): Promise<NotificationChannel> {
    const current = await repo.findChannel(this.#db, id, caller.teamIds);
    if (!current) throw notFound('Notification channel', id);
    // Checked (and a Slack URL resolved) outside the transaction, so no row stays locked while DNS answers.
    const target = await this.#target(id, current.team_id, current.kind, input, true);
    return this.#db.transaction().execute(async (trx) => {
      const row = await repo.lockChannel(trx, id, caller.teamIds);
      if (!row) throw notFound('Notification channel', id);
      lockedVersion(row, ctx, 'notification channel');
      const changes: Updateable<NotificationChannelsTable> = { ...target };
      if (input.name !== undefined) changes.name = input.name;
      if (input.min_severity !== undefined) changes.min_severity = input.min_severity;
      if (input.label_matchers !== undefined) changes.label_matchers = JSON.stringify(input.label_matchers);
      if (input.enabled !== undefined) changes.enabled = input.enabled;
      return toNotificationChannel(await repo.updateChannel(trx, id, changes));
    });
  }

  async deleteChannel(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const row = await repo.lockChannel(trx, id, caller.teamIds);
      if (!row) throw notFound('Notification channel', id);
      lockedVersion(row, ctx, 'notification channel');
      await repo.deleteChannel(trx, id);
    });
  }

  /** Queues a test notification to this channel only: a ping event (already dispatched) and its delivery, together. */
  async testChannel(caller: Caller, id: string): Promise<Schemas['NotificationTest']> {
    const deliveryId = await this.#db.transaction().execute(async (trx) => {
      const channel = await repo.lockChannel(trx, id, caller.teamIds);
      if (!channel) throw notFound('Notification channel', id);
      if (!channel.enabled) throw new ApiError('BIZ_NOTIFICATION_CHANNEL_DISABLED', `Notification channel ${id} is off; turn it on first`);
      return this.#queueTest(trx, channel);
    });
    this.#options.onDeliveryQueued?.();
    return { channel_id: id, delivery_id: deliveryId, status: 'pending' };
  }

  async #queueTest(trx: Executor, channel: NotificationChannelRow): Promise<string> {
    const eventId = await recordPing(trx, channel.team_id, { webhook_id: channel.webhook_id ?? channel.id, message: TEST_MESSAGE });
    if (channel.webhook_id) {
      const [delivery] = await queueDeliveries(trx, [{ webhook_id: channel.webhook_id, event_id: eventId, event: 'webhook.ping' }]);
      return delivery!.id;
    }
    const [deliveryId] = await repo.queueChannelDeliveries(trx, [{ channel_id: channel.id, event_id: eventId, event: 'webhook.ping' }]);
    return deliveryId!;
  }

  /** The target columns of a channel of `kind` from the input, checked; on a patch, only those given. */
  async #target(
    id: string,
    teamId: string,
    kind: Schemas['NotificationChannelKind'],
    input: { webhook_id?: string; slack_url?: string; email_to?: string[] },
    patch = false,
  ): Promise<Partial<Pick<NotificationChannelsTable, 'webhook_id' | 'slack_url_ciphertext' | 'slack_url_hint' | 'email_to'>>> {
    for (const [other, field] of Object.entries(TARGET_FIELDS)) {
      if (other !== kind && input[field] !== undefined) throw notForKind(field, kind);
    }
    const field = TARGET_FIELDS[kind];
    if (input[field] === undefined) {
      if (!patch) throw required(field, kind);
      return {};
    }
    if (kind === 'webhook') {
      const webhookId = input.webhook_id!;
      if (!(await repo.webhookInTeam(this.#db, webhookId, teamId))) {
        throw new ApiError('RES_NOT_FOUND', `Webhook ${webhookId} not found`, { details: [{ field: 'webhook_id', message: "no such webhook in the channel's team", value: webhookId }] });
      }
      return { webhook_id: webhookId };
    }
    if (kind === 'slack') {
      const url = input.slack_url!;
      try {
        await checkTarget(url, this.#options.allowPrivateTargets);
      } catch (err) {
        if (!(err instanceof TargetRefused)) throw err;
        throw new ApiError('VAL_WEBHOOK_TARGET_FORBIDDEN', `Notifications cannot be sent to this URL: ${err.message}`, { details: [{ field: 'slack_url', message: err.message }] });
      }
      return { slack_url_ciphertext: this.#box.seal(url, id), slack_url_hint: secretHint(url) };
    }
    if (!this.#options.smtpConfigured) throw new ApiError('BIZ_SMTP_NOT_CONFIGURED', 'This server has no SMTP relay (SMTP_URL), so it cannot send email');
    return { email_to: [...input.email_to!] };
  }

  // ---- Silences ----

  async listSilences(caller: Caller, query: SilenceListQuery, ctx: RequestContext): Promise<{ items: AlertSilence[]; pagination: Pagination }> {
    const filter: repo.TeamFilter = { teamIds: caller.teamIds, teamId: query.team_id };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listSilences(this.#db, filter, keys, window),
      count: () => repo.countSilences(this.#db, filter),
    });
    return { items: rows.map(toAlertSilence), pagination };
  }

  async getSilence(caller: Caller, id: string): Promise<AlertSilence> {
    const row = await repo.findSilence(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Silence', id);
    return toAlertSilence(row);
  }

  async createSilence(caller: Caller, input: Schemas['AlertSilenceCreate']): Promise<AlertSilence> {
    const teamId = owningTeam(caller, input.team_id);
    const startsAt = input.starts_at ? new Date(input.starts_at) : new Date();
    const endsAt = new Date(input.ends_at);
    checkWindow(startsAt, endsAt);
    const row = await repo.insertSilence(this.#db, {
      id: uuidv7(),
      team_id: teamId,
      starts_at: startsAt,
      ends_at: endsAt,
      matchers: JSON.stringify(input.matchers),
      comment: input.comment,
      created_by: caller.userId,
    });
    return toAlertSilence(row);
  }

  async updateSilence(caller: Caller, id: string, input: Schemas['AlertSilencePatch'], ctx: RequestContext): Promise<AlertSilence> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await repo.lockSilence(trx, id, caller.teamIds);
      if (!row) throw notFound('Silence', id);
      lockedVersion(row, ctx, 'silence');
      const startsAt = input.starts_at ? new Date(input.starts_at) : row.starts_at;
      const endsAt = input.ends_at ? new Date(input.ends_at) : row.ends_at;
      checkWindow(startsAt, endsAt);
      return toAlertSilence(
        await repo.updateSilence(trx, id, {
          starts_at: startsAt,
          ends_at: endsAt,
          ...(input.matchers !== undefined && { matchers: JSON.stringify(input.matchers) }),
          ...(input.comment !== undefined && { comment: input.comment }),
        }),
      );
    });
  }

  async deleteSilence(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const row = await repo.lockSilence(trx, id, caller.teamIds);
      if (!row) throw notFound('Silence', id);
      lockedVersion(row, ctx, 'silence');
      await repo.deleteSilence(trx, id);
    });
  }
}
