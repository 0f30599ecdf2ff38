// The certificate authority for agents, with @peculiar/x509 over WebCrypto (no hand-written ASN.1): its key pair
// (ECDSA P-256) and self-signed certificate are made at the first start and stored with the private key sealed
// by the secret box (SECRETS_KEY); processes starting together insert if absent and all use the stored one. It
// checks CSRs (format, signature, key type and size), issues agent certificates bound to the agent's id (CN and
// SAN URI `urn:opsdeck:agent:<id>`), and signs CRLs.
import { createHash, createPublicKey, randomBytes, X509Certificate, type webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import type { SecretBox } from '../../auth/secret-box.ts';
import { policy } from '../../contract.ts';
import type { Executor } from '../../db/executor.ts';
import type { AgentCertificatesTable } from '../../db/schema.ts';
import { ApiError } from '../../http/errors.ts';
import type { Logger } from '../../logger.ts';
import * as repo from './certificates.repository.ts';

/**
 * @peculiar/x509, loaded when the CA first parses or signs something: with the Reflect metadata API its dependency
 * injection (tsyringe) needs first, it takes some 20 MB when a process loads it alone, which a server that no agent
 * asks a certificate of does not hold (its CA certificate is served and trusted as the PEM it was stored as). With
 * the other two loaded on first use (otpauth, openid-client), an idle server's RSS went from 156 to 151.5 MB.
 */
let x509Library: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  return (x509Library ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })());
}

type CryptoKey = webcrypto.CryptoKey;

/** The root's `x-certificates` policy. */
export interface CertificatePolicy {
  lifetime_days: number;
  ca_lifetime_days: number;
  crl_lifetime_hours: number;
  key_algorithms: Array<'ecdsa-p256' | 'ecdsa-p384' | 'rsa'>;
  rsa_min_bits: number;
  rsa_max_bits: number;
  max_active_per_agent: number;
}
export const certificatePolicy = (): CertificatePolicy => policy<CertificatePolicy>('x-certificates');

/** The stored CA's row name. */
const CA_NAME = 'agents';
const CA_SUBJECT = 'CN=Opsdeck agent CA, O=Opsdeck';
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** Clocks of agents and servers disagree a little: a certificate is valid from a minute before it is issued. */
const BACKDATE_MS = 60_000;

/** The URI that binds a certificate to its agent. */
export const agentUri = (agentId: string) => `urn:opsdeck:agent:${agentId}`;

/** 16 random bytes, positive and without a leading zero byte, so every encoding of it (DER, Node's, the CRL's) is the same 32 hex digits. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

export interface CheckedCsr {
  request: X509.Pkcs10CertificateRequest;
  keyAlgorithm: AgentCertificatesTable['key_algorithm'];
  keyBits: number;
}

export interface IssuedRow {
  serial_number: string;
  fingerprint_sha256: string;
  subject: string;
  key_algorithm: AgentCertificatesTable['key_algorithm'];
  key_bits: number;
  not_before: Date;
  not_after: Date;
  pem: string;
}

const invalidCsr = (message: string) => new ApiError('VAL_INVALID_CSR', message, { details: [{ field: 'csr', message }] });
const refusedKey = (message: string) => new ApiError('VAL_CSR_KEY_REFUSED', message, { details: [{ field: 'csr', message }] });

const CURVES: Record<string, { algorithm: 'ecdsa-p256' | 'ecdsa-p384'; bits: number }> = {
  prime256v1: { algorithm: 'ecdsa-p256', bits: 256 },
  secp384r1: { algorithm: 'ecdsa-p384', bits: 384 },
};

export class CertificateAuthority {
  #certificate: X509.X509Certificate | undefined;
  readonly #key: CryptoKey;
  readonly #policy: CertificatePolicy;
  /** The CA certificate, PEM and DER (what `getCaCertificate` answers and TLS trusts). */
  readonly pem: string;
  readonly der: Uint8Array;

  constructor(pem: string, key: CryptoKey, certificatePolicy: CertificatePolicy) {
    this.#key = key;
    this.#policy = certificatePolicy;
    this.pem = pem;
    this.der = new Uint8Array(new X509Certificate(pem).raw);
  }

  /** The library, and the CA certificate parsed by it (once). */
  async #x509(): Promise<{ x509: typeof X509; certificate: X509.X509Certificate }> {
    const x509 = await loadX509();
    return { x509, certificate: (this.#certificate ??= new x509.X509Certificate(this.pem)) };
  }

  get policy(): CertificatePolicy {
    return this.#policy;
  }

  /** A CSR the CA will sign: PEM PKCS#10, its signature verified, its key one of `key_algorithms`; else 422. */
  async check(pem: string): Promise<CheckedCsr> {
    const x509 = await loadX509();
    let request: X509.Pkcs10CertificateRequest;
    try {
      if (!/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem)) throw new Error('no PEM block');
      request = new x509.Pkcs10CertificateRequest(pem.trim());
    } catch {
      throw invalidCsr('The csr is not a PEM PKCS#10 certificate signing request');
    }
    let keyAlgorithm: CheckedCsr['keyAlgorithm'];
    let keyBits: number;
    try {
      const key = createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' });
      const details = key.asymmetricKeyDetails ?? {};
      if (key.asymmetricKeyType === 'ec' && details.namedCurve && CURVES[details.namedCurve]) {
        ({ algorithm: keyAlgorithm, bits: keyBits } = CURVES[details.namedCurve]!);
      } else if (key.asymmetricKeyType === 'rsa' && typeof details.modulusLength === 'number') {
        keyAlgorithm = 'rsa';
        keyBits = details.modulusLength;
        if (keyBits < this.#policy.rsa_min_bits || keyBits > this.#policy.rsa_max_bits) {
          throw refusedKey(`An RSA key of ${keyBits} bits is refused: ${this.#policy.rsa_min_bits} to ${this.#policy.rsa_max_bits} bits are accepted`);
        }
      } else {
        const what = key.asymmetricKeyType === 'ec' ? `the curve ${details.namedCurve ?? 'unknown'}` : `a key of type ${key.asymmetricKeyType ?? 'unknown'}`;
        throw refusedKey(`The CSR's key is ${what}; accepted: ${this.#policy.key_algorithms.join(', ')}`);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw refusedKey("The CSR's public key is not one the CA can read");
    }
    if (!this.#policy.key_algorithms.includes(keyAlgorithm)) throw refusedKey(`${keyAlgorithm} keys are not accepted; accepted: ${this.#policy.key_algorithms.join(', ')}`);
    let verified = false;
    try {
      verified = await request.verify();
    } catch {
      verified = false;
    }
    if (!verified) throw invalidCsr("The CSR's signature does not verify with its own public key");
    return { request, keyAlgorithm, keyBits };
  }

  /** A client certificate for the agent, for the CSR's key, valid `lifetime_days`. */
  async issue(csr: CheckedCsr, agentId: string, now = new Date()): Promise<IssuedRow> {
    const notBefore = new Date(now.getTime() - BACKDATE_MS);
    const notAfter = new Date(now.getTime() + this.#policy.lifetime_days * 86_400_000);
    const subject = `CN=${agentId}, O=Opsdeck agents`;
    const { x509, certificate: ca } = await this.#x509();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: csr.request.publicKey,
      signingKey: this.#key,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: agentUri(agentId) }]),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
        await x509.SubjectKeyIdentifierExtension.create(csr.request.publicKey),
      ],
    });
    return {
      serial_number: certificate.serialNumber.toLowerCase(),
      fingerprint_sha256: createHash('sha256').update(Buffer.from(certificate.rawData)).digest('hex'),
      subject: certificate.subject,
      key_algorithm: csr.keyAlgorithm,
      key_bits: csr.keyBits,
      not_before: certificate.notBefore,
      not_after: certificate.notAfter,
      pem: certificate.toString('pem'),
    };
  }

  /** The CRL of these revocations, signed now, valid `crl_lifetime_hours`: DER, and PEM (RFC 7468's `X509 CRL`). */
  async crl(revoked: ReadonlyArray<{ serial_number: string; revoked_at: Date | null; revocation_reason: string | null }>, now = new Date()): Promise<{ der: Uint8Array; pem: string }> {
    const { x509, certificate: ca } = await this.#x509();
    const reasons: Record<string, X509.X509CrlReason> = {
      unspecified: x509.X509CrlReason.unspecified,
      key_compromise: x509.X509CrlReason.keyCompromise,
      affiliation_changed: x509.X509CrlReason.affiliationChanged,
      superseded: x509.X509CrlReason.superseded,
      cessation_of_operation: x509.X509CrlReason.cessationOfOperation,
    };
    const crl = await x509.X509CrlGenerator.create({
      issuer: ca.subject,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + this.#policy.crl_lifetime_hours * 3_600_000),
      signingKey: this.#key,
      signingAlgorithm: SIGNING,
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca)],
      entries: revoked.map((r) => ({ serialNumber: r.serial_number, revocationDate: r.revoked_at ?? now, reason: reasons[r.revocation_reason ?? 'unspecified'] ?? x509.X509CrlReason.unspecified })),
    });
    // The library labels it `CRL`; RFC 7468 (and OpenSSL) say `X509 CRL`.
    return { der: new Uint8Array(crl.rawData), pem: x509.PemConverter.encode(crl.rawData, 'X509 CRL') };
  }
}

/** A new CA: key pair and self-signed certificate, the private key sealed. */
async function newAuthority(box: SecretBox, lifetimeDays: number): Promise<{ certificate_pem: string; private_key_sealed: string }> {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey(KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: CA_SUBJECT,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + lifetimeDays * 86_400_000),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { certificate_pem: certificate.toString('pem'), private_key_sealed: box.seal(pkcs8, `certificate_authorities:${CA_NAME}`) };
}

/**
 * This installation's CA: the stored one, else a new one inserted if still absent (processes starting together
 * each make one; the first insert wins, and every process then reads and uses that one).
 */
export async function openCertificateAuthority(db: Executor, box: SecretBox, log: Logger, certificatePolicyValue = certificatePolicy()): Promise<CertificateAuthority> {
  let row = await repo.findAuthority(db, CA_NAME);
  if (!row) {
    await repo.insertAuthorityIfAbsent(db, { name: CA_NAME, ...(await newAuthority(box, certificatePolicyValue.ca_lifetime_days)) });
    row = await repo.findAuthority(db, CA_NAME);
    if (!row) throw new Error('the certificate authority could not be stored');
    log.info('certificate authority for agents created');
  }
  const pkcs8 = Buffer.from(box.open(row.private_key_sealed, `certificate_authorities:${CA_NAME}`), 'base64');
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, KEY, false, ['sign']);
  return new CertificateAuthority(row.certificate_pem, key, certificatePolicyValue);
}
