// Sign-in and sessions: login with throttling, refresh-token rotation with replay detection,
// logout, and the caller's own profile and password.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { LoginThrottle } from '../../auth/login-throttle.ts';
import { burnPasswordCheck, hashPassword, verifyPassword } from '../../auth/passwords.ts';
import { sha256 } from '../../auth/secrets.ts';
import type { TokenService } from '../../auth/tokens.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import * as users from '../users/users.repository.ts';
import { toUser, type User } from '../users/users.mapper.ts';
import * as sessions from './sessions.repository.ts';
import type { SecondFactorGate } from './auth.totp.ts';
import { deleteChallengesOf } from './totp.repository.ts';

type TokenPair = components['schemas']['TokenPair'];


const invalidRefresh = () => new ApiError('AUTH_INVALID_TOKEN', 'The refresh token is not valid');

export class AuthService {
  readonly #db: Kysely<Database>;
  readonly #tokens: TokenService;
  readonly #throttle: LoginThrottle;
  readonly #secondFactor: SecondFactorGate | undefined;

  /** `secondFactor`: asked after a right password whether a code is needed (auth.totp.ts). */
  constructor(db: Kysely<Database>, tokens: TokenService, throttle: LoginThrottle, secondFactor?: SecondFactorGate) {
    this.#db = db;
    this.#tokens = tokens;
    this.#throttle = throttle;
    this.#secondFactor = secondFactor;
  }

  /**
   * A token pair, or, for an account with a second factor, the challenge to complete at `loginMfa`. The account's
   * failure count is reset only once every factor is proven, so a known password does not buy endless code guesses.
   */
  async login(email: string, password: string, client: string): Promise<TokenPair | { mfa: components['schemas']['MfaChallenge'] }> {
    await this.#throttle.check(email, client);
    const user = await users.findLoginByEmail(this.#db, email);
    const valid = user ? await verifyPassword(user.password_hash, password) : (await burnPasswordCheck(password), false);
    if (!user || !valid || !user.active) {
      await this.#throttle.recordFailure(email, client);
      throw new ApiError('AUTH_INVALID_CREDENTIALS', 'The email and password do not match an active user');
    }
    const challenge = await this.#secondFactor?.afterPassword(user);
    if (challenge) return challenge;
    await this.#throttle.recordSuccess(email, client);
    return this.#issue(this.#db, user, uuidv7());
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const spent = await sessions.spendRefreshToken(trx, sha256(refreshToken));
      if (spent.state === 'live') {
        const user = await users.findUser(trx, spent.row.user_id);
        if (!user?.active) return { error: invalidRefresh() };
        return { pair: await this.#issue(trx, user, spent.row.family_id) };
      }
      // A spent token seen again was copied: whoever holds the newer one may be the thief, so the
      // whole family goes. The revocation commits even though the request fails.
      if (spent.state === 'replayed') await sessions.revokeFamily(trx, spent.row.family_id);
      return { error: invalidRefresh() };
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.pair;
  }

  async logout(refreshToken: string): Promise<void> {
    const family = await sessions.findFamilyOf(this.#db, sha256(refreshToken));
    if (!family) throw invalidRefresh();
    await sessions.revokeFamily(this.#db, family);
  }

  async profile(caller: Caller): Promise<User> {
    const row = await users.findUser(this.#db, caller.userId);
    if (!row) throw notFound('User', caller.userId);
    return toUser(row);
  }

  async updateProfile(caller: Caller, patch: components['schemas']['ProfilePatch'], expectedUpdatedAt: string | null): Promise<User> {
    if (patch.name === undefined) return this.profile(caller);
    const row = await users.updateUser(this.#db, caller.userId, { name: patch.name }, expectedUpdatedAt);
    if (!row) throw expectedUpdatedAt ? movedOn('profile') : notFound('User', caller.userId);
    return toUser(row);
  }

  /** Checks the current password, sets the new one and signs out every session of the user. */
  async changePassword(caller: Caller, change: components['schemas']['PasswordChange']): Promise<void> {
    const stored = await users.findPasswordHash(this.#db, caller.userId);
    if (!stored || !(await verifyPassword(stored, change.current_password))) {
      throw new ApiError('AUTH_INVALID_CREDENTIALS', 'The current password is not right');
    }
    const passwordHash = await hashPassword(change.new_password);
    await this.#db.transaction().execute(async (trx) => {
      // Access tokens carry the password version they were issued under (`pwv`, to the millisecond): every one
      // issued before this change stops working, even one issued in the same second.
      await users.updateUser(trx, caller.userId, { password_hash: passwordHash, password_changed_at: new Date() });
      await sessions.revokeAllOfUser(trx, caller.userId);
      await deleteChallengesOf(trx, caller.userId);
    });
  }

  /**
   * A new session's token pair, as `login` issues it, for a user proven another way: the second factor
   * (`loginMfa`) or an identity provider (which answers for its own factors: a TOTP of Opsdeck's is not asked).
   */
  issueTokens(user: { id: string; password_changed_at: Date }): Promise<TokenPair> {
    return this.#issue(this.#db, user, uuidv7());
  }

  async #issue(db: Parameters<typeof sessions.insertRefreshToken>[0], user: { id: string; password_changed_at: Date }, familyId: string): Promise<TokenPair> {
    const userId = user.id;
    const refresh = this.#tokens.newRefreshToken();
    await sessions.insertRefreshToken(db, {
      id: uuidv7(),
      familyId,
      userId,
      hash: refresh.hash,
      expiresAt: new Date(Date.now() + this.#tokens.refreshTtlSeconds * 1000),
    });
    return {
      access_token: await this.#tokens.signAccess(userId, user.password_changed_at),
      refresh_token: refresh.token,
      token_type: 'Bearer',
      expires_in: this.#tokens.accessTtlSeconds,
    };
  }
}
