// Access tokens are JWTs signed with HS256 (the algorithm is pinned on verification, so `alg: none`
// or a swapped algorithm is refused), with `iss`, `aud`, `exp` checked. Refresh tokens are opaque.
import { randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { ApiError } from '../http/errors.ts';
import { randomToken, sha256 } from './secrets.ts';

export const ISSUER = 'opsdeck';
export const AUDIENCE = 'opsdeck-api';
const ALGORITHM = 'HS256';

export interface AccessClaims {
  userId: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Seconds since the epoch. */
  expiresAt: number;
  /**
   * The user's password version when the token was issued (`pwv`: its `password_changed_at` in milliseconds);
   * absent from tokens issued before the claim existed, which are judged by `issuedAt` instead.
   */
  passwordVersion: number | undefined;
}

/** How many verified tokens a process remembers (each a few hundred bytes). */
const VERIFIED_MAX = 10_000;

export class TokenService {
  readonly #key: Uint8Array;
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;

  constructor(secret: string | undefined, accessTtlSeconds: number, refreshTtlSeconds: number) {
    this.#key = secret ? new TextEncoder().encode(secret) : randomBytes(32);
    this.accessTtlSeconds = accessTtlSeconds;
    this.refreshTtlSeconds = refreshTtlSeconds;
  }

  /**
   * Tokens this process has verified, by their text. A token never changes, so its signature and claims need
   * checking once; what can change (expiry, the user behind it) is checked on every use. This keeps jose's
   * HMAC, which WebCrypto runs as a job on libuv's thread pool, off the path of every request but the first.
   */
  readonly #verified = new Map<string, AccessClaims>();

  /** `passwordChangedAt`: the user's current password version, which the token carries (`pwv`). */
  async signAccess(userId: string, passwordChangedAt: Date): Promise<string> {
    return new SignJWT({ pwv: passwordChangedAt.getTime() })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.accessTtlSeconds}s`)
      .sign(this.#key);
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    const known = this.#verified.get(token);
    if (known) {
      if (known.expiresAt * 1000 > Date.now()) return known;
      this.#verified.delete(token);
      throw new ApiError('AUTH_EXPIRED_TOKEN', 'The access token has expired; refresh it');
    }
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['sub', 'iat', 'exp'] });
      const claims: AccessClaims = {
        userId: payload.sub!,
        issuedAt: payload.iat!,
        expiresAt: payload.exp!,
        passwordVersion: typeof payload.pwv === 'number' ? payload.pwv : undefined,
      };
      if (this.#verified.size >= VERIFIED_MAX) this.#verified.clear();
      this.#verified.set(token, claims);
      return claims;
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new ApiError('AUTH_EXPIRED_TOKEN', 'The access token has expired; refresh it');
      throw new ApiError('AUTH_INVALID_TOKEN', 'The access token is not valid');
    }
  }

  /** Whether a token was issued under the user's current password (a password change signs out older tokens). */
  issuedUnder(claims: AccessClaims, passwordChangedAt: Date): boolean {
    if (claims.passwordVersion !== undefined) return claims.passwordVersion === passwordChangedAt.getTime();
    return claims.issuedAt >= Math.floor(passwordChangedAt.getTime() / 1000);
  }

  /** A new refresh token and the digest that is stored in its place. */
  newRefreshToken(): { token: string; hash: string } {
    const token = `ort_${randomToken(32)}`;
    return { token, hash: sha256(token) };
  }
}
