// Where a webhook may point. A contact's webhook is an admin-supplied URL the
// service POSTs to, so without a check it reaches whatever the server can:
// the project-local InfluxDB on loopback (`/query?q=DROP DATABASE …`), cloud
// metadata on link-local, the intranet. Only public (global unicast)
// addresses are allowed, unless an operator names a host in
// NOTIFY_ALLOW_HOSTS (an intranet relay, the demo's stand-in robot).
//
// Checked twice: when the contact is saved (the URL's literal host: an IP in
// any spelling the URL parser accepts — decimal, octal, hex, short or IPv6 —
// and `localhost`), and when sending, on every address the name resolves to
// at that moment; the connection then goes to the address that was checked,
// so a name that resolves differently later (DNS rebinding) cannot slip
// through. Redirects are not followed.
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** `host` or `host:port` entries (IPv6 in brackets), separated by commas. */
export interface AllowRule {
  host: string;
  port?: string;
}

export function parseAllowHosts(spec: string | undefined): AllowRule[] {
  return (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry);
    if (!m || Number(m[2] ?? 0) > 65535 || !URL.canParse(`http://${m[1]}`)) throw new Error(`${entry}: expected host or host:port (IPv6 in brackets)`);
    // the URL parser normalises an IP literal the same way as a webhook URL's host; the port is kept as written (80 stays 80)
    const host = new URL(`http://${m[1]}`).hostname;
    return m[2] ? { host, port: String(Number(m[2])) } : { host };
  });
}

/** Why an IP address is not a public one (ipaddr.js range name), or null when it is global unicast. */
export function nonGlobal(ip: string): string | null {
  if (!ipaddr.isValid(ip)) return 'not an IP address';
  const addr = ipaddr.parse(ip);
  const range = addr.range();
  if (range === 'unicast') return null;
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) return `IPv4-mapped ${(addr as ipaddr.IPv6).toIPv4Address().toString()}`;
  return range;
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '').toLowerCase();
const effectivePort = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : '80');

/** A webhook target that is not allowed; `reason` is the kind of address (loopback, private, linkLocal, …). */
export class WebhookRefused extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
  }
}

/** Every address of a host name (injectable, so tests can play a rebinding DNS server). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;
const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true });

export class WebhookTargets {
  constructor(private readonly allow: readonly AllowRule[] = [], private readonly resolve: Resolver = systemResolver) {}

  allowed(u: URL): boolean {
    const host = bare(u.hostname);
    return this.allow.some((r) => bare(r.host) === host && (r.port === undefined || r.port === effectivePort(u)));
  }

  /** Why this URL may not be a webhook, judged from the URL alone (at save time), or null. */
  refusal(url: string): WebhookRefused | null {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return new WebhookRefused(`${url} is not a URL`, 'not_a_url');
    }
    if (this.allowed(u)) return null;
    const host = bare(u.hostname).replace(/\.$/, '');
    const why = host === 'localhost' || host.endsWith('.localhost') ? 'loopback' : ipaddr.isValid(host) ? nonGlobal(host) : null;
    return why === null ? null : this.refused(u, host, why);
  }

  private refused(u: URL, address: string, why: string): WebhookRefused {
    return new WebhookRefused(
      `${u.protocol}//${u.host} points at ${address}, not a public address (${why}): webhooks may only reach public addresses. For an intranet relay, add ${u.host} to NOTIFY_ALLOW_HOSTS`,
      why.startsWith('IPv4-mapped') ? 'ipv4Mapped' : why,
    );
  }

  /** A DNS lookup that refuses non-public answers, for the connection itself (so the checked address is the one used). */
  private guardedLookup(u: URL): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname).then((all) => {
        const addresses = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        if (!addresses.length) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
        const bad = addresses.map((a) => ({ a, why: nonGlobal(a.address) })).find((x) => x.why !== null);
        if (bad) throw this.refused(u, bad.a.address, bad.why!);
        if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      }).catch((err: NodeJS.ErrnoException) => callback(err, '', 0));
    };
  }

  /**
   * POSTs a webhook unless its target is refused (WebhookRefused). Answers
   * the status and the first `maxBody` bytes of the response; no redirects.
   */
  post(url: string, req: { headers: Record<string, string>; body: string; timeoutMs: number; maxBody?: number }): Promise<{ status: number; text: string }> {
    const refused = this.refusal(url);
    if (refused) return Promise.reject(refused);
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const maxBody = req.maxBody ?? 64 * 1024;
    return new Promise((resolve, reject) => {
      const r = send(u, {
        method: 'POST',
        headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
        signal: AbortSignal.timeout(req.timeoutMs),
        ...(this.allowed(u) ? {} : { lookup: this.guardedLookup(u) }),
      }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < maxBody) chunks.push(c.subarray(0, maxBody - size));
          size += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('close', () => res.complete || reject(new Error('the connection closed before the answer was complete')));
      });
      r.on('error', reject);
      r.end(req.body);
    });
  }
}
