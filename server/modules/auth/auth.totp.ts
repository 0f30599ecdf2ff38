// The second factor for passwords: TOTP (RFC 6238, through `otpauth`: SHA-1, 6 digits, 30-second steps, a window of
// one step either side), recovery codes, the challenge a password login answers when a code is needed, and the
// administrators' policy that requires a second factor for roles.
//
// - The TOTP secret is sealed with the secret box (SECRETS_KEY), with the user's id as context, so a ciphertext
//   copied onto another user does not open.
// - A code works once: `user_totp.last_used_step` holds the step of the last code accepted, and a code is accepted
//   only for a later step (one conditional UPDATE, so two requests with one code cannot both pass).
// - Recovery codes are random (80 bits), so a SHA-256 digest stores them safely, as for API keys (secrets.ts).
// - A challenge token (`omt_…`) is stored as a digest, lives CHALLENGE_TTL_SECONDS, is bound to its user, is spent by
//   its first success or by MAX_CHALLENGE_FAILURES wrong codes. Wrong codes count as failed logins of the account.
// - Lock-out: requiring a second factor for one's own role needs one's own second factor first; and
//   OPSDECK_AUTH_POLICY_RESET=true at start empties the policy (resetAuthPolicy).
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type * as Otp from 'otpauth';
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { LoginThrottle } from '../../auth/login-throttle.ts';
import { verifyPassword } from '../../auth/passwords.ts';
import type { RoleName } from '../../auth/permissions.ts';
import type { SecretBox } from '../../auth/secret-box.ts';
import { randomToken, sha256 } from '../../auth/secrets.ts';
import type { Database } from '../../db/schema.ts';
import type { Executor } from '../../db/executor.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import type { Logger } from '../../logger.ts';
import * as users from '../users/users.repository.ts';
import * as repo from './totp.repository.ts';

type Schemas = components['schemas'];
type TokenPair = Schemas['TokenPair'];

export const TOTP_ISSUER = 'Opsdeck';
const DIGITS = 6;
const PERIOD = 30;
const WINDOW = 1;
const RECOVERY_CODE_COUNT = 10;
export const CHALLENGE_TTL_SECONDS = 300;
export const MAX_CHALLENGE_FAILURES = 5;
const ROLE_ORDER: readonly RoleName[] = ['admin', 'operator', 'viewer'];

const invalidCode = () => new ApiError('AUTH_MFA_INVALID_CODE', 'The code is not valid: wrong, expired, or already used');
const invalidChallenge = () => new ApiError('AUTH_INVALID_TOKEN', 'The MFA challenge is unknown, expired or already used; log in again');

/** What `AuthService.login` asks after a right password (it is given one by the composition root). */
export interface SecondFactorGate {
  /** `undefined`: no second factor is needed; a challenge: answer it instead of tokens; throws when the policy refuses. */
  afterPassword(user: { id: string; role: RoleName }): Promise<{ mfa: Schemas['MfaChallenge'] } | undefined>;
}

/** Issues the token pair once both factors are proven (AuthService's). */
export type IssueTokens = (user: { id: string; password_changed_at: Date }) => Promise<TokenPair>;

/** Sixteen letters and digits of base32 (80 bits) in four groups: easy to type, lower case. */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(16);
  let code = '';
  for (let i = 0; i < 16; i += 1) code += alphabet[bytes[i]! & 31];
  return code.match(/.{4}/g)!.join('-');
}

/** As typed: case, spaces and dashes do not matter. */
const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

/** The user's id is the sealed secret's context: a ciphertext moved to another user's row does not open. */
const secretContext = (userId: string) => `user_totp:${userId}`;

export class TotpService implements SecondFactorGate {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;
  readonly #throttle: LoginThrottle;
  readonly #issue: IssueTokens;

  constructor(db: Kysely<Database>, box: SecretBox, throttle: LoginThrottle, issue: IssueTokens) {
    this.#db = db;
    this.#box = box;
    this.#throttle = throttle;
    this.#issue = issue;
  }

  #totp({ TOTP }: typeof Otp, secret: Otp.Secret, account: string): Otp.TOTP {
    return new TOTP({ issuer: TOTP_ISSUER, label: account, secret, algorithm: 'SHA1', digits: DIGITS, period: PERIOD });
  }

  /** The step a code was made at, when it is one of the secret's within the window; else null. */
  async #stepOf(sealed: string, userId: string, code: string): Promise<number | null> {
    // Loaded on the first second-factor operation: a server whose users have none does not hold it.
    const { Secret, TOTP } = await import('otpauth');
    const secret = Secret.fromBase32(this.#box.open(sealed, secretContext(userId)));
    const now = Date.now();
    const delta = TOTP.validate({ token: code, secret, algorithm: 'SHA1', digits: DIGITS, period: PERIOD, timestamp: now, window: WINDOW });
    return delta === null ? null : TOTP.counter({ period: PERIOD, timestamp: now }) + delta;
  }

  /** Whether `code` is a current, unused code of the user's confirmed secret; spends it when it is. */
  async #spendCode(db: Executor, row: { user_id: string; secret_ciphertext: string }, code: string): Promise<boolean> {
    const step = await this.#stepOf(row.secret_ciphertext, row.user_id, code);
    return step !== null && (await repo.spendStep(db, row.user_id, step));
  }

  async #newRecoveryCodes(db: Executor, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await repo.replaceRecoveryCodes(db, userId, codes.map((c) => ({ id: uuidv7(), code_hash: sha256(normaliseRecoveryCode(c)) })));
    return codes;
  }

  async status(caller: Caller): Promise<Schemas['TotpStatus']> {
    const row = await repo.findTotp(this.#db, caller.userId);
    const enabled = row?.confirmed_at != null;
    return {
      enabled,
      pending: row !== undefined && !enabled,
      confirmed_at: enabled ? row.confirmed_at!.toISOString() : null,
      recovery_codes_remaining: enabled ? await repo.countUnusedRecoveryCodes(this.#db, caller.userId) : 0,
    };
  }

  async enrol(caller: Caller): Promise<Schemas['TotpEnrolment']> {
    const otp = await import('otpauth');
    const secret = new otp.Secret({ size: 20 });
    const stored = await repo.upsertPendingTotp(this.#db, caller.userId, this.#box.seal(secret.base32, secretContext(caller.userId)));
    if (!stored) throw new ApiError('RES_CONFLICT', 'The second factor is already enabled; turn it off (disableTotp) before enrolling again');
    return {
      secret: secret.base32,
      otpauth_uri: this.#totp(otp, secret, caller.email).toString(),
      algorithm: 'SHA1',
      digits: DIGITS,
      period: PERIOD,
      issuer: TOTP_ISSUER,
      account: caller.email,
    };
  }

  async confirm(caller: Caller, code: string): Promise<Schemas['RecoveryCodes']> {
    const row = await repo.findTotp(this.#db, caller.userId);
    if (!row) throw new ApiError('RES_CONFLICT', 'No enrolment is pending; start one with enrolTotp');
    if (row.confirmed_at !== null) throw new ApiError('RES_CONFLICT', 'The second factor is already enabled');
    const step = await this.#stepOf(row.secret_ciphertext, caller.userId, code);
    if (step === null) throw invalidCode();
    const codes = await this.#db.transaction().execute(async (trx) => {
      if (!(await repo.confirmTotp(trx, caller.userId, step))) return undefined;
      return this.#newRecoveryCodes(trx, caller.userId);
    });
    if (!codes) throw new ApiError('RES_CONFLICT', 'The enrolment changed meanwhile; start again with enrolTotp');
    return { recovery_codes: codes };
  }

  async regenerateRecoveryCodes(caller: Caller, code: string, client: string): Promise<Schemas['RecoveryCodes']> {
    const row = await repo.findTotp(this.#db, caller.userId);
    if (!row?.confirmed_at) throw new ApiError('RES_CONFLICT', 'The second factor is not enabled; enrol first');
    await this.#throttle.check(caller.email, client);
    if (!(await this.#spendCode(this.#db, row, code))) {
      await this.#throttle.recordFailure(caller.email, client);
      throw invalidCode();
    }
    return { recovery_codes: await this.#db.transaction().execute((trx) => this.#newRecoveryCodes(trx, caller.userId)) };
  }

  async disable(caller: Caller, proof: Schemas['TotpDisable'], client: string): Promise<void> {
    const row = await repo.findTotp(this.#db, caller.userId);
    if (!row) throw notFound('Second factor of user', caller.userId);
    await this.#throttle.check(caller.email, client);
    let proven: boolean;
    if (proof.password !== undefined) {
      const stored = await users.findPasswordHash(this.#db, caller.userId);
      proven = stored !== undefined && (await verifyPassword(stored, proof.password));
    } else if (proof.code !== undefined) {
      proven = row.confirmed_at === null ? (await this.#stepOf(row.secret_ciphertext, caller.userId, proof.code)) !== null : await this.#spendCode(this.#db, row, proof.code);
    } else proven = false;
    if (!proven) {
      await this.#throttle.recordFailure(caller.email, client);
      throw proof.password !== undefined ? new ApiError('AUTH_INVALID_CREDENTIALS', 'The password is not right') : invalidCode();
    }
    await this.#db.transaction().execute((trx) => repo.deleteSecondFactor(trx, caller.userId));
  }

  async afterPassword(user: { id: string; role: RoleName }): Promise<{ mfa: Schemas['MfaChallenge'] } | undefined> {
    const row = await repo.findTotp(this.#db, user.id);
    if (row?.confirmed_at) {
      const token = `omt_${randomToken(32)}`;
      await repo.insertChallenge(this.#db, { id: uuidv7(), user_id: user.id, token_hash: sha256(token), expires_at: new Date(Date.now() + CHALLENGE_TTL_SECONDS * 1000) });
      return { mfa: { mfa_token: token, expires_in: CHALLENGE_TTL_SECONDS, methods: ['totp', 'recovery_code'] } };
    }
    const policy = await repo.findPolicy(this.#db);
    if (policy.require_totp_for_roles.includes(user.role)) {
      throw new ApiError(
        'AUTH_MFA_ENROLMENT_REQUIRED',
        `The authentication policy requires a second factor (TOTP) for the role ${user.role}; enrol from a signed-in session, or ask an administrator`,
      );
    }
    return undefined;
  }

  /** The second step of a login: the challenge and a TOTP code or a recovery code, for the token pair. */
  async completeLogin(request: Schemas['LoginMfaRequest'], client: string): Promise<TokenPair> {
    const tokenHash = sha256(request.mfa_token);
    const found = await this.#db.selectFrom('mfa_challenges').select('user_id').where('token_hash', '=', tokenHash).executeTakeFirst();
    if (!found) throw invalidChallenge();
    const user = await users.findUser(this.#db, found.user_id);
    if (!user?.active) throw invalidChallenge();
    await this.#throttle.check(user.email, client);
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const challenge = await repo.lockLiveChallenge(trx, tokenHash);
      if (!challenge) return 'invalid-challenge' as const;
      let proven = false;
      if (request.code !== undefined) {
        const row = await repo.findTotp(trx, user.id);
        proven = row?.confirmed_at != null && (await this.#spendCode(trx, row, request.code));
      } else if (request.recovery_code !== undefined) {
        proven = await repo.spendRecoveryCode(trx, user.id, sha256(normaliseRecoveryCode(request.recovery_code)));
      }
      if (!proven) {
        await repo.failChallenge(trx, challenge.id, MAX_CHALLENGE_FAILURES);
        return 'invalid-code' as const;
      }
      await repo.spendChallenge(trx, challenge.id);
      return 'ok' as const;
    });
    if (outcome === 'invalid-challenge') throw invalidChallenge();
    if (outcome === 'invalid-code') {
      await this.#throttle.recordFailure(user.email, client);
      throw invalidCode();
    }
    await this.#throttle.recordSuccess(user.email, client);
    return this.#issue(user);
  }

  async policy(): Promise<Schemas['AuthPolicy']> {
    const row = await repo.findPolicy(this.#db);
    return { require_totp_for_roles: row.require_totp_for_roles, updated_at: row.updated_at.toISOString() };
  }

  async replacePolicy(caller: Caller, body: Schemas['AuthPolicyReplace'], expectedUpdatedAt: string | null): Promise<Schemas['AuthPolicy']> {
    const roles = ROLE_ORDER.filter((r) => body.require_totp_for_roles.includes(r));
    if (roles.includes(caller.role)) {
      const own = await repo.findTotp(this.#db, caller.userId);
      if (!own?.confirmed_at) {
        throw new ApiError('RES_CONFLICT', `Requiring a second factor for the role ${caller.role} would lock you out: enrol your own (enrolTotp, confirmTotp) first`, {
          details: [{ field: 'require_totp_for_roles', message: 'includes your own role, and you have no second factor' }],
        });
      }
    }
    const row = await repo.replacePolicy(this.#db, roles, expectedUpdatedAt);
    if (!row) throw movedOn('authentication policy');
    return { require_totp_for_roles: row.require_totp_for_roles, updated_at: row.updated_at.toISOString() };
  }
}

/** OPSDECK_AUTH_POLICY_RESET=true: the way back in when every administrator lost their second factor. */
export async function resetAuthPolicy(db: Kysely<Database>, log: Logger): Promise<void> {
  await repo.replacePolicy(db, [], null);
  log.warn('OPSDECK_AUTH_POLICY_RESET: the authentication policy was emptied (no role requires a second factor); unset the variable and set the policy again');
}
