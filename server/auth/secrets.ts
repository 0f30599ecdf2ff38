// Opaque secrets (refresh tokens, API keys) are high-entropy random strings, so a SHA-256 digest is
// enough to store them safely and to look them up by equality; passwords, which are guessable,
// use argon2id instead (passwords.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
