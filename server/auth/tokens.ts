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
}

export class TokenService {
  readonly #key: Uint8Array;
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;

  constructor(secret: string | undefined, accessTtlSeconds: number, refreshTtlSeconds: number) {
    this.#key = secret ? new TextEncoder().encode(secret) : randomBytes(32);
    this.accessTtlSeconds = accessTtlSeconds;
    this.refreshTtlSeconds = refreshTtlSeconds;
  }

  async signAccess(userId: string): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.accessTtlSeconds}s`)
      .sign(this.#key);
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['sub', 'iat', 'exp'] });
      return { userId: payload.sub!, issuedAt: payload.iat!, expiresAt: payload.exp! };
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new ApiError('AUTH_EXPIRED_TOKEN', 'The access token has expired; refresh it');
      throw new ApiError('AUTH_INVALID_TOKEN', 'The access token is not valid');
    }
  }

  /** A new refresh token and the digest that is stored in its place. */
  newRefreshToken(): { token: string; hash: string } {
    const token = `ort_${randomToken(32)}`;
    return { token, hash: sha256(token) };
  }
}
