// Opaque secrets (refresh tokens, API keys) are high-entropy random strings, so a SHA-256 digest is
// enough to store them safely and to look them up by equality; passwords, which are guessable,
// use argon2id instead (passwords.ts).
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** One-shot (crypto.hash): every request with an API or agent key pays for it, and a Hash object per call cost more than the digest. */
export function sha256(value: string): string {
  return hash('sha256', value, 'hex');
}

export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** An enrollment token's public prefix (`oet_` and 8 letters or digits: the visible, indexed part). */
const ENROLLMENT_TOKEN_PREFIX_SOURCE = 'oet_[A-Za-z0-9]{8}';
/** A whole enrollment token; group 1 is its prefix. */
export const ENROLLMENT_TOKEN_PATTERN = new RegExp(`^(${ENROLLMENT_TOKEN_PREFIX_SOURCE})_[A-Za-z0-9_-]{20,100}$`);
/** The public prefix at the start of what claims to be an enrollment token (the rate limit's bucket label). */
export const ENROLLMENT_TOKEN_PREFIX = new RegExp(`^${ENROLLMENT_TOKEN_PREFIX_SOURCE}(?=_)`);
