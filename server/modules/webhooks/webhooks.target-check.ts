// Where webhooks may be sent (SSRF protection). A target must be http(s), and every address its host
// resolves to must be public: no loopback, private, link-local, shared (CGNAT), unspecified, multicast,
// broadcast or otherwise reserved address, in IPv4, IPv6 or an IPv6 form of IPv4 (BlockList matches
// IPv4-mapped `::ffff:a.b.c.d` against the IPv4 rules by itself). WEBHOOK_ALLOW_PRIVATE_TARGETS lifts the
// address rules (tests, on-premises receivers), never the scheme rule.
//
// The check runs at registration and again at every attempt, where `pinnedLookup` is handed to
// http(s).request: the socket connects to exactly the addresses that lookup checked, so a name that
// resolves to a public address when checked and to a private one a moment later (DNS rebinding) gets nowhere.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

interface Range {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
  readonly why: string;
}

const RANGES: readonly Range[] = [
  { address: '0.0.0.0', prefix: 8, family: 'ipv4', why: 'unspecified ("this network")' },
  { address: '10.0.0.0', prefix: 8, family: 'ipv4', why: 'private' },
  { address: '100.64.0.0', prefix: 10, family: 'ipv4', why: 'shared address space (CGNAT)' },
  { address: '127.0.0.0', prefix: 8, family: 'ipv4', why: 'loopback' },
  { address: '169.254.0.0', prefix: 16, family: 'ipv4', why: 'link-local' },
  { address: '172.16.0.0', prefix: 12, family: 'ipv4', why: 'private' },
  { address: '192.0.0.0', prefix: 24, family: 'ipv4', why: 'reserved (IETF protocol assignments)' },
  { address: '192.0.2.0', prefix: 24, family: 'ipv4', why: 'reserved (documentation)' },
  { address: '192.168.0.0', prefix: 16, family: 'ipv4', why: 'private' },
  { address: '198.18.0.0', prefix: 15, family: 'ipv4', why: 'reserved (benchmarking)' },
  { address: '198.51.100.0', prefix: 24, family: 'ipv4', why: 'reserved (documentation)' },
  { address: '203.0.113.0', prefix: 24, family: 'ipv4', why: 'reserved (documentation)' },
  { address: '224.0.0.0', prefix: 4, family: 'ipv4', why: 'multicast' },
  { address: '240.0.0.0', prefix: 4, family: 'ipv4', why: 'reserved or broadcast' },
  // `::/96` holds the unspecified address `::`, loopback `::1` and the deprecated IPv4-compatible forms.
  { address: '::', prefix: 96, family: 'ipv6', why: 'unspecified, loopback or IPv4-compatible' },
  // NAT64 (RFC 6052 and the local-use prefix of RFC 8215) would carry the connection to an IPv4 address.
  { address: '64:ff9b::', prefix: 96, family: 'ipv6', why: 'NAT64 (an IPv4 address in IPv6)' },
  { address: '64:ff9b:1::', prefix: 48, family: 'ipv6', why: 'NAT64 (local use)' },
  { address: '100::', prefix: 64, family: 'ipv6', why: 'reserved (discard-only)' },
  { address: '2001:db8::', prefix: 32, family: 'ipv6', why: 'reserved (documentation)' },
  { address: '2002::', prefix: 16, family: 'ipv6', why: '6to4 (an IPv4 address in IPv6)' },
  { address: 'fc00::', prefix: 7, family: 'ipv6', why: 'private (unique local)' },
  { address: 'fe80::', prefix: 10, family: 'ipv6', why: 'link-local' },
  { address: 'fec0::', prefix: 10, family: 'ipv6', why: 'site-local (deprecated)' },
  { address: 'ff00::', prefix: 8, family: 'ipv6', why: 'multicast' },
];

/** One BlockList per reason, so a refusal can say why. */
const LISTS: ReadonlyArray<{ why: string; list: BlockList }> = [...new Set(RANGES.map((r) => r.why))].map((why) => {
  const list = new BlockList();
  for (const range of RANGES.filter((r) => r.why === why)) list.addSubnet(range.address, range.prefix, range.family);
  return { why, list };
});

/** Why an address may not be a webhook target, or `null` when it is public. */
export function forbiddenAddress(address: string): string | null {
  const bare = address.replace(/%.*$/, ''); // an IPv6 zone (`fe80::1%eth0`) is not part of the address
  const family = isIP(bare);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return LISTS.find(({ list }) => list.check(bare, type))?.why ?? null;
}

export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefused';
  }
}

type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const resolveAll: Resolve = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 literal. */
const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Refuses every address of the list, if any is forbidden: one bad address is enough to refuse the host. */
function refuseForbidden(host: string, addresses: readonly LookupAddress[]): void {
  if (addresses.length === 0) throw new TargetRefused(`${host} does not resolve to any address`);
  for (const { address } of addresses) {
    const why = forbiddenAddress(address);
    if (why) throw new TargetRefused(address === host ? `${host} is a ${why} address` : `${host} resolves to ${address}, a ${why} address`);
  }
}

/** The URL, if it is an http(s) URL with a host; throws TargetRefused otherwise. */
export function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefused(`the scheme ${url.protocol.replace(/:$/, '')} is not http or https`);
  if (!url.hostname) throw new TargetRefused('the URL has no host');
  return url;
}

/**
 * What can be checked without resolving: the scheme, and the address of an IP literal (for which Node
 * calls no lookup). A host name is then checked by `pinnedLookup` as the connection is made.
 */
export function checkBeforeConnect(raw: string, allowPrivate: boolean): URL {
  const url = parseTarget(raw);
  const host = bareHost(url);
  if (!allowPrivate && isIP(host)) refuseForbidden(host, [{ address: host, family: isIP(host) }]);
  return url;
}

/**
 * Checks a target as registration does: the scheme, then (unless private targets are allowed) every
 * address the host resolves to now. Throws TargetRefused with the reason.
 */
export async function checkTarget(raw: string, allowPrivate: boolean, resolve: Resolve = resolveAll): Promise<URL> {
  const url = parseTarget(raw);
  if (allowPrivate) return url;
  const host = bareHost(url);
  if (isIP(host)) {
    refuseForbidden(host, [{ address: host, family: isIP(host) }]);
    return url;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw new TargetRefused(`${host} does not resolve (${(err as { code?: string }).code ?? (err as Error).message})`);
  }
  refuseForbidden(host, addresses);
  return url;
}

/**
 * A `lookup` for http(s).request that resolves like the default one but refuses the host when any of
 * its addresses is forbidden, so the connection can only go to an address this check has seen.
 * Node skips `lookup` for an IP literal, so `checkTarget` must still be run on the URL first.
 */
export function pinnedLookup(resolve: Resolve = resolveAll): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolve(hostname).then(
      (all) => {
        try {
          refuseForbidden(hostname, all);
        } catch (err) {
          callback(err as NodeJS.ErrnoException, '');
          return;
        }
        const addresses = family === 0 ? all : all.filter((a) => a.family === family);
        const first = addresses[0];
        if (!first) callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '');
        else if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
