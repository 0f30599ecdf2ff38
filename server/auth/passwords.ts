import { hash, verify } from '@node-rs/argon2';
import { randomToken } from './secrets.ts';

// argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane). `algorithm: 2` is the
// binding's const enum Algorithm.Argon2id, which erasable TypeScript cannot import.
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  // A user without a password (signed up through an identity provider) stores no argon2 hash: nothing verifies,
  // and the refusal takes as long as a real check, so it does not tell such accounts apart.
  if (!stored.startsWith('$argon2')) return burnPasswordCheck(password).then(() => false);
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

// Verified against when the email is unknown, so a login takes as long whether or not the account exists.
let decoy: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  decoy ??= hashPassword(randomToken(16));
  await verifyPassword(await decoy, password);
}

/** A one-time password a person can type: four groups of four. */
export function oneTimePassword(): string {
  return randomToken(12).replace(/[-_]/g, 'x').match(/.{4}/g)!.join('-');
}
