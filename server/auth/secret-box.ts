// Secrets Opsdeck must read back, such as webhook signing keys: they sign every delivery, so unlike API keys
// and refresh tokens (secrets.ts) they cannot be stored as digests. They are encrypted with AES-256-GCM
// (authenticated: a changed ciphertext fails to open instead of yielding garbage), under a fresh 96-bit IV
// each, with the owning row's id as associated data, so a ciphertext copied onto another row does not open.
//
// The key is SECRETS_KEY. Without it (development and tests only; config.ts refuses production without it)
// a key is generated once and kept in `instance_keys`, so the embedded default survives restarts: a random
// key per process would leave every stored secret unreadable after the next restart. A key kept beside the
// data it protects does not protect it from whoever has a copy of the database, which is why this fallback
// is logged as a warning and production requires SECRETS_KEY.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../logger.ts';

const ALGORITHM = 'aes-256-gcm';
const VERSION = 'v1';
const IV_BYTES = 12;
/** The `instance_keys` row of the generated fallback key. */
export const INSTANCE_KEY_NAME = 'secrets';

export class SecretBox {
  readonly #key: Buffer;
  /** A short, non-secret id of the key, stored with each ciphertext, so a changed key is recognised. */
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('a secret box key is 32 bytes');
    this.#key = Buffer.from(key);
    this.keyId = createHash('sha256').update('opsdeck secret box key id').update(key).digest('base64url').slice(0, 8);
  }

  /** `v1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts); `context` must be given again to open it. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.keyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** The plaintext; throws when the value was sealed with another key or context, or was changed. */
  open(sealed: string, context: string): string {
    const [version, keyId, iv, ciphertext, tag, ...rest] = sealed.split('.');
    if (version !== VERSION || keyId === undefined || iv === undefined || ciphertext === undefined || tag === undefined || rest.length > 0) {
      throw new Error('not a sealed secret');
    }
    if (keyId !== this.keyId) throw new Error(`sealed with another key (${keyId}, this one is ${this.keyId}): was SECRETS_KEY changed?`);
    const decipher = createDecipheriv(ALGORITHM, this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('the sealed secret does not open: it was changed, or belongs to another row');
    }
  }
}

/** The box of this installation: SECRETS_KEY, else the key kept in `instance_keys` (made on first use). */
export async function openSecretBox(db: Kysely<Database>, configured: Buffer | undefined, log: Logger): Promise<SecretBox> {
  if (configured) return new SecretBox(configured);
  // Insert-if-absent then read, so processes starting together on one database agree on one key.
  await db
    .insertInto('instance_keys')
    .values({ name: INSTANCE_KEY_NAME, value: randomBytes(32).toString('base64') })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('instance_keys').select('value').where('name', '=', INSTANCE_KEY_NAME).executeTakeFirstOrThrow();
  const box = new SecretBox(Buffer.from(row.value, 'base64'));
  log.warn(
    { key_id: box.keyId },
    'SECRETS_KEY is not set: webhook secrets are encrypted with a key kept in the database itself (instance_keys), so anyone with a copy of the database can read them; set SECRETS_KEY (32 bytes, base64 or hex) outside development',
  );
  return box;
}
