// Sends one notification to a `slack` or `email` channel, for the webhook deliverer (which claims, retries
// and records it as it does webhook deliveries): the alert event rendered as a Slack-compatible payload
// (`{ text, blocks }`, POSTed with the same checked, pinned, time-bounded request as webhooks) or as a mail
// through the server's SMTP relay (nodemailer, `SMTP_URL`).
import nodemailer, { type Transporter } from 'nodemailer';
import type { components } from '../../../generated/openapi.d.ts';
import type { SecretBox } from '../../auth/secret-box.ts';
import type { AttemptOutcome } from '../webhooks/webhooks.deliverer.ts';
import { postOnce, USER_AGENT } from '../webhooks/webhooks.deliverer.ts';
import { checkBeforeConnect, TargetRefused } from '../webhooks/webhooks.target-check.ts';
import type { ChannelAttemptTarget } from './notifications.repository.ts';

type Alert = components['schemas']['Alert'];

export interface ChannelSenderOptions {
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS, for Slack URLs as for webhooks. */
  allowPrivateTargets: boolean;
  /** SMTP_URL (`smtp://user:password@host:port`, `smtps://…`); undefined: no email. */
  smtpUrl: string | undefined;
  /** SMTP_FROM: the sender of notification mails. */
  smtpFrom: string;
  timeoutMs: number;
  excerptBytes: number;
}

/** A notification's words: a subject line and a body, for both kinds. */
export function describe(target: Pick<ChannelAttemptTarget, 'type' | 'data' | 'channel_name'>): { subject: string; body: string } {
  if (target.type !== 'alert.triggered' && target.type !== 'alert.resolved') {
    return { subject: `Opsdeck test notification for ${target.channel_name}`, body: `This is a test notification from Opsdeck: the channel "${target.channel_name}" receives the alerts routed to it.` };
  }
  const alert = target.data as Alert;
  const state = target.type === 'alert.triggered' ? 'FIRING' : 'RESOLVED';
  const subject = `[${state}] [${alert.severity.toUpperCase()}] ${alert.title}`;
  const labels = alert.labels ? Object.entries(alert.labels).map(([k, v]) => `${k}=${v}`).join(', ') : '';
  const lines = [subject, alert.message ?? '', alert.agent_id ? `Agent: ${alert.agent_id}` : '', labels ? `Labels: ${labels}` : '', `Alert: ${alert.id}`];
  return { subject, body: lines.filter(Boolean).join('\n') };
}

const refused = (error: string): AttemptOutcome => ({ statusCode: null, latencyMs: 0, excerpt: null, error: error.slice(0, 500), succeeded: false });

export class ChannelSender {
  readonly #box: SecretBox;
  readonly #options: ChannelSenderOptions;
  #mailer: Transporter | undefined;

  constructor(box: SecretBox, options: ChannelSenderOptions) {
    this.#box = box;
    this.#options = options;
  }

  /** One attempt; never throws: every way it can go wrong is an outcome. */
  async send(target: ChannelAttemptTarget): Promise<AttemptOutcome> {
    const { subject, body } = describe(target);
    return target.kind === 'email' ? this.#mail(target, subject, body) : this.#slack(target, body);
  }

  async #slack(target: ChannelAttemptTarget, text: string): Promise<AttemptOutcome> {
    let url: URL;
    try {
      url = checkBeforeConnect(this.#box.open(target.slack_url_ciphertext ?? '', target.channel_id), this.#options.allowPrivateTargets);
    } catch (err) {
      return refused(err instanceof TargetRefused ? `target refused: ${err.message}` : `the Slack URL cannot be read (${(err as Error).message}); set it again`);
    }
    const payload = JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });
    return postOnce(url, { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT }, payload, {
      timeoutMs: this.#options.timeoutMs,
      excerptBytes: this.#options.excerptBytes,
      allowPrivateTargets: this.#options.allowPrivateTargets,
    });
  }

  async #mail(target: ChannelAttemptTarget, subject: string, text: string): Promise<AttemptOutcome> {
    if (!this.#options.smtpUrl) return refused('no SMTP relay is configured (SMTP_URL)');
    const started = performance.now();
    this.#mailer ??= nodemailer.createTransport(this.#options.smtpUrl, {
      connectionTimeout: this.#options.timeoutMs,
      greetingTimeout: this.#options.timeoutMs,
      socketTimeout: this.#options.timeoutMs,
    });
    try {
      const info = await this.#mailer.sendMail({ from: this.#options.smtpFrom, to: target.email_to ?? [], subject, text });
      return { statusCode: null, latencyMs: Math.round(performance.now() - started), excerpt: String(info.response ?? '').slice(0, this.#options.excerptBytes), error: null, succeeded: true };
    } catch (err) {
      return { ...refused(`SMTP: ${(err as Error).message}`), latencyMs: Math.round(performance.now() - started) };
    }
  }
}
