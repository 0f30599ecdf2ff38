// The certificate authority for agents over HTTP and HTTPS, on real PostgreSQL and Redis: an agent enrols with a CSR,
// does a real TLS handshake with its issued certificate on the TLS listener (mutual TLS) and is accepted as that
// agent; an operator revokes the certificate and the very next request is refused (401) while the signed CRL lists
// its serial; renewal with the agent key and with the certificate itself; another team's certificate is 404; a
// garbage, tampered or weak-key CSR is 422 with a stable code; the CA certificate and the CRL are DER or PEM by
// `Accept`.
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKeyMaterial, mutualTlsFetch, type AgentKeyMaterial } from '@opsdeck/sdk/certificates';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, type TestUser } from '../support/identity.ts';

x509.cryptoProvider.set(webcrypto as unknown as typeof globalThis.crypto);

let server: TestServer;
let tlsUrl: string;
/** The TLS listener's own certificate (self-signed for 127.0.0.1), which the agents trust. */
let serverCertPem: string;
let outsider: TestUser;
let outsiderTeam: string;

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** A self-signed certificate and its key (the TLS listener's; a stranger's client certificate). */
async function selfSigned(name: string, extensions: x509.Extension[] = []): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01a2b3c4',
    name,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: SIGN,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await pkcs8Pem(keys.privateKey) };
}

beforeAll(async () => {
  const tls = await selfSigned('CN=127.0.0.1', [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])]);
  serverCertPem = tls.cert;
  server = await startTestServer({ TLS_CERT: tls.cert, TLS_KEY: tls.key, TLS_PORT: '0' });
  tlsUrl = server.tlsUrl!;
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

async function enrollmentToken(teamId = server.teamId, headers: Record<string, string> = {}): Promise<string> {
  const res = await http(server.url, 'POST', `/api/v1/teams/${teamId}/enrollment-tokens`, { headers: { ...bearer(server.adminToken), ...headers }, json: { name: 'certificates' } });
  expect(res.status, res.text).toBe(201);
  return res.body.data.secret;
}

async function enrol(body: Record<string, unknown> = {}, token?: string) {
  return http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token ?? (await enrollmentToken()), ...newAgent(), ...body } });
}

/** An agent enrolled with a CSR: its id, key, certificate and the key material it made. */
async function enrolWithCsr() {
  const material = await createAgentKeyMaterial();
  const res = await enrol({ csr: material.csr });
  expect(res.status, res.text).toBe(201);
  return { agentId: res.body.data.agent.id as string, agentKey: res.body.data.agent_key as string, certificate: res.body.data.certificate, caChain: res.body.data.ca_chain as string[], material };
}

/** A call on the TLS listener presenting the agent's certificate. */
function overMtls(material: AgentKeyMaterial, certPem: string) {
  const fetch = mutualTlsFetch({ cert: certPem, key: material.privateKeyPem, ca: serverCertPem });
  return async (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(
      new Request(`${tlsUrl}${path}`, { method, headers: { ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, body: json === undefined ? undefined : JSON.stringify(json) }),
    );
    const text = await response.text();
    return { status: response.status, text, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
}

async function bytes(path: string, accept?: string) {
  const response = await fetch(`${server.url}${path}`, { headers: accept ? { accept } : {} });
  return { status: response.status, type: response.headers.get('content-type'), vary: response.headers.get('vary'), body: new Uint8Array(await response.arrayBuffer()) };
}

describe('certificate authority for agents', () => {
  it('enrols with a CSR, is accepted as that agent over mutual TLS, and is refused once revoked while the CRL lists it', async () => {
    const { agentId, certificate, caChain, material } = await enrolWithCsr();
    expect(certificate).toMatchObject({ agent_id: agentId, team_id: server.teamId, status: 'active', key_algorithm: 'ecdsa-p256', key_bits: 256, subject_alt_uri: `urn:opsdeck:agent:${agentId}`, revoked_at: null });
    const issued = new x509.X509Certificate(certificate.pem);
    const ca = new x509.X509Certificate(caChain[0]!);
    expect(issued.serialNumber.toLowerCase()).toBe(certificate.serial_number);
    expect(issued.subject).toContain(`CN=${agentId}`);
    expect(issued.getExtension(x509.SubjectAlternativeNameExtension)!.names.items.map((n) => n.value)).toEqual([`urn:opsdeck:agent:${agentId}`]);
    expect(await issued.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    // The lifetime is the spec's x-certificates.lifetime_days (30), not more.
    expect(issued.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(30 * 86_400_000 + 5_000);
    expect(issued.notAfter.getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);

    const agent = overMtls(material, certificate.pem);
    const heartbeat = await agent('POST', '/api/v1/agent/heartbeat');
    expect(heartbeat.status, heartbeat.text).toBe(200);
    expect(heartbeat.body.data.agent_id).toBe(agentId);
    // The agent's own operations only: an operator's is 403 for it.
    expect((await agent('GET', '/api/v1/agents')).status).toBe(403);

    const revoked = await server.call('DELETE', `/api/v1/config/certificates/${certificate.id}?reason=key_compromise`);
    expect(revoked.status, revoked.text).toBe(204);
    const refused = await agent('POST', '/api/v1/agent/heartbeat');
    expect(refused.status, refused.text).toBe(401);
    expect(refused.body.error.code).toBe('AUTH_INVALID_TOKEN');

    const read = await server.call('GET', `/api/v1/config/certificates/${certificate.id}`);
    expect(read.body.data).toMatchObject({ status: 'revoked', revocation_reason: 'key_compromise' });
    expect(read.body.data.revoked_at).toBeTruthy();

    const crlDer = await bytes('/api/v1/config/certificates/revoked');
    expect(crlDer.status).toBe(200);
    expect(crlDer.type).toBe('application/pkix-crl');
    const crl = new x509.X509Crl(crlDer.body);
    expect(await crl.verify({ publicKey: ca.publicKey })).toBe(true);
    const entry = crl.findRevoked(issued);
    expect(entry?.serialNumber.toLowerCase()).toBe(certificate.serial_number);
    expect(entry?.reason).toBe(x509.X509CrlReason.keyCompromise);
    expect(crl.nextUpdate!.getTime()).toBeGreaterThan(Date.now());

    const crlPem = await http(server.url, 'GET', '/api/v1/config/certificates/revoked', { headers: { accept: 'application/x-pem-file' } });
    expect(crlPem.headers.get('content-type')).toMatch(/^application\/x-pem-file/);
    expect(new x509.X509Crl(crlPem.text).findRevoked(issued)).not.toBeNull();
  });

  it('sees a revocation written by another process (straight into the database) within a second, through the change feed', async () => {
    const { certificate, material } = await enrolWithCsr();
    const agent = overMtls(material, certificate.pem);
    expect((await agent('POST', '/api/v1/agent/heartbeat')).status).toBe(200);
    // Cached now; a revocation this process did not make reaches it only through the feed.
    expect((await agent('POST', '/api/v1/agent/heartbeat')).status).toBe(200);
    await server.database.db.updateTable('agent_certificates').set({ revoked_at: new Date(), revocation_reason: 'key_compromise' }).where('id', '=', certificate.id).execute();
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 3000) {
      status = (await agent('POST', '/api/v1/agent/heartbeat')).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1500);
  });

  it('refuses a client certificate from another issuer (401) on the TLS listener, where an agent key still works', async () => {
    const stranger = await selfSigned('CN=stranger');
    const material = { csr: '', privateKeyPem: stranger.key };
    const res = await overMtls(material, stranger.cert)('POST', '/api/v1/agent/heartbeat');
    expect(res.status, res.text).toBe(401);
    expect(res.body.error.code).toBe('AUTH_INVALID_TOKEN');
    // A key on the TLS listener works as on the plain one.
    const { agentKey } = await enrolWithCsr();
    const withKey = await overMtls(material, stranger.cert)('POST', '/api/v1/agent/heartbeat', undefined, { 'x-api-key': agentKey });
    expect(withKey.status, withKey.text).toBe(200);
  });

  it('renews with the agent key and with the certificate itself; older ones beyond the limit are superseded; enrolling again supersedes them all', async () => {
    const enrolled = await enrol();
    expect(enrolled.status).toBe(201);
    expect(enrolled.body.data.certificate).toBeUndefined();
    const agentId = enrolled.body.data.agent.id;
    const material = await createAgentKeyMaterial({ algorithm: 'ecdsa-p384' });
    const first = await http(server.url, 'POST', '/api/v1/agent/certificate', { headers: { 'x-api-key': enrolled.body.data.agent_key }, json: { csr: material.csr } });
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get('location')).toBe(`/api/v1/config/certificates/${first.body.data.certificate.id}`);
    expect(first.body.data.certificate).toMatchObject({ agent_id: agentId, key_algorithm: 'ecdsa-p384', status: 'active' });

    // Renewal over mutual TLS, with the certificate just issued, for a new key.
    const next = await createAgentKeyMaterial();
    const renewed = await overMtls(material, first.body.data.certificate.pem)('POST', '/api/v1/agent/certificate', { csr: next.csr });
    expect(renewed.status, renewed.text).toBe(201);
    expect(renewed.body.data.certificate.agent_id).toBe(agentId);
    expect((await overMtls(next, renewed.body.data.certificate.pem)('POST', '/api/v1/agent/heartbeat')).status).toBe(200);

    for (let i = 0; i < 2; i += 1) {
      const more = await http(server.url, 'POST', '/api/v1/agent/certificate', { headers: { 'x-api-key': enrolled.body.data.agent_key }, json: { csr: (await createAgentKeyMaterial()).csr } });
      expect(more.status).toBe(201);
    }
    const listed = await server.call('GET', `/api/v1/config/certificates?agent_id=${agentId}&sort=created_at:asc`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((c: { status: string }) => c.status)).toEqual(['revoked', 'active', 'active', 'active']);
    expect(listed.body.data[0]).toMatchObject({ id: first.body.data.certificate.id, revocation_reason: 'superseded' });
    const active = await server.call('GET', `/api/v1/config/certificates?agent_id=${agentId}&status=active`);
    expect(active.body.pagination.total).toBe(3);

    // The same host enrols again: its certificates end with its key.
    const again = await enrol({ hostname: enrolled.body.data.agent.hostname });
    expect(again.body.data.agent.id).toBe(agentId);
    expect((await server.call('GET', `/api/v1/config/certificates?agent_id=${agentId}&status=active`)).body.pagination.total).toBe(0);
    expect((await overMtls(next, renewed.body.data.certificate.pem)('POST', '/api/v1/agent/heartbeat')).status).toBe(401);
  });

  it("answers 404 for another team's certificate, and lists only the caller's teams' certificates", async () => {
    const { certificate } = await enrolWithCsr();
    const asOutsider = { headers: bearer(outsider.token) };
    expect((await http(server.url, 'GET', `/api/v1/config/certificates/${certificate.id}`, asOutsider)).status).toBe(404);
    expect((await http(server.url, 'DELETE', `/api/v1/config/certificates/${certificate.id}`, asOutsider)).status).toBe(404);
    expect((await server.call('GET', `/api/v1/config/certificates/${certificate.id}`)).body.data.status).toBe('active');

    const theirs = await http(server.url, 'POST', '/api/v1/agent/enroll', {
      json: { enrollment_token: await enrollmentToken(outsiderTeam, bearer(outsider.token)), ...newAgent(), csr: (await createAgentKeyMaterial()).csr },
    });
    expect(theirs.status, theirs.text).toBe(201);
    const outsiderList = await http(server.url, 'GET', '/api/v1/config/certificates', asOutsider);
    expect(outsiderList.body.data.map((c: { id: string }) => c.id)).toEqual([theirs.body.data.certificate.id]);
    const ours = await server.call('GET', '/api/v1/config/certificates?limit=100');
    expect(ours.body.data.map((c: { id: string }) => c.id)).not.toContain(theirs.body.data.certificate.id);
    expect((await server.call('GET', `/api/v1/config/certificates/${theirs.body.data.certificate.id}`)).status).toBe(404);
  });

  it('refuses a garbage, a tampered or a weak-key CSR with 422 and a stable code, and enrols nothing then', async () => {
    const token = await enrollmentToken();
    const garbage = await enrol({ csr: 'not a certificate request' }, token);
    expect(garbage.status, garbage.text).toBe(422);
    expect(garbage.body.error.code).toBe('VAL_INVALID_CSR');
    const pemGarbage = await enrol({ csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }, token);
    expect(pemGarbage.status).toBe(422);
    expect(pemGarbage.body.error.code).toBe('VAL_INVALID_CSR');

    // A valid CSR whose signature no longer matches (one byte of the signature flipped).
    const good = await createAgentKeyMaterial();
    const der = new Uint8Array(x509.PemConverter.decodeFirst(good.csr));
    der[der.length - 3]! ^= 0x01;
    const tampered = await enrol({ csr: x509.PemConverter.encode(der.buffer, 'CERTIFICATE REQUEST') }, token);
    expect(tampered.status, tampered.text).toBe(422);
    expect(tampered.body.error.code).toBe('VAL_INVALID_CSR');

    // RSA 1024: refused.
    const rsaKeys = (await webcrypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const weak = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=weak', keys: rsaKeys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'], signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' } });
    const refused = await enrol({ csr: weak.toString('pem') }, token);
    expect(refused.status, refused.text).toBe(422);
    expect(refused.body.error.code).toBe('VAL_CSR_KEY_REFUSED');

    // Nothing was enrolled: the token was not spent.
    const tokens = await server.call('GET', `/api/v1/teams/${server.teamId}/enrollment-tokens`);
    expect(tokens.body.data.find((t: { prefix: string }) => token.startsWith(t.prefix)).uses).toBe(0);

    // Renewal too.
    const enrolled = await enrol();
    const renewal = await http(server.url, 'POST', '/api/v1/agent/certificate', { headers: { 'x-api-key': enrolled.body.data.agent_key }, json: { csr: '\u0000garbage' } });
    expect([400, 422]).toContain(renewal.status);
    const renewal2 = await http(server.url, 'POST', '/api/v1/agent/certificate', { headers: { 'x-api-key': enrolled.body.data.agent_key }, json: { csr: 'garbage' } });
    expect(renewal2.status).toBe(422);
    expect(renewal2.body.error.code).toBe('VAL_INVALID_CSR');
  });

  it('serves the CA certificate as DER by default and as PEM when Accept asks, publicly', async () => {
    const der = await bytes('/api/v1/config/certificates/ca');
    expect(der.status).toBe(200);
    expect(der.type).toBe('application/pkix-cert');
    expect(der.vary).toMatch(/Accept/);
    const ca = new x509.X509Certificate(der.body);
    expect(ca.subject).toContain('Opsdeck agent CA');
    expect(ca.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(await ca.isSelfSigned()).toBe(true);

    const pem = await http(server.url, 'GET', '/api/v1/config/certificates/ca', { headers: { accept: 'application/x-pem-file' } });
    expect(pem.status).toBe(200);
    expect(pem.headers.get('content-type')).toMatch(/^application\/x-pem-file/);
    expect(new x509.X509Certificate(pem.text).serialNumber).toBe(ca.serialNumber);
    // PEM preferred by quality; DER preferred by quality.
    expect((await bytes('/api/v1/config/certificates/ca', 'application/pkix-cert;q=0.5, application/x-pem-file')).type).toMatch(/x-pem-file/);
    expect((await bytes('/api/v1/config/certificates/ca', 'application/pkix-cert, application/x-pem-file;q=0.5')).type).toBe('application/pkix-cert');
    expect((await bytes('/api/v1/config/certificates/ca', '*/*')).type).toBe('application/pkix-cert');

    // Every process of the installation uses the one stored CA.
    const rows = await server.database.db.selectFrom('certificate_authorities').select(['name', 'certificate_pem', 'private_key_sealed']).execute();
    expect(rows).toHaveLength(1);
    expect(new x509.X509Certificate(rows[0]!.certificate_pem).serialNumber).toBe(ca.serialNumber);
    expect(rows[0]!.private_key_sealed).toMatch(/^v1\./);
  });
});
