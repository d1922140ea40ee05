// InfluxDB access: version detection over /ping, batched line-protocol writes
// (v1 /write before 1.8, the v2 API otherwise; gzip above a size, for remote
// servers) and InfluxQL reads over /query, which 1.x, 2.x (with DBRP) and 3.x
// all answer. Writes are one POST of the text the pipeline already joined: the
// official client's write buffer measured a few µs per point to split, measure
// and join the lines again, for nothing the pipeline does not do itself
// (batching, retries, backoff).
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { Logger } from 'pino';
import { AppError } from '../common/errors.js';

const gzip = promisify(gzipCb);

export interface InfluxConfig {
  url: string;
  database: string;
  token?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  org?: string | undefined;
  /** gzip write bodies larger than this many bytes (0 = never) */
  gzipThreshold?: number | undefined;
}

export interface SeriesResult {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** `status` is InfluxDB's own HTTP answer; to our clients an InfluxDB failure is 502 (the service upstream of them failed). */
export class InfluxError extends AppError {
  constructor(message: string, readonly status?: number, readonly retriable = true) {
    super(message, 502);
  }
}

function authHeader(cfg: InfluxConfig): Record<string, string> {
  if (cfg.token) return { Authorization: `Token ${cfg.token}` };
  if (cfg.username) return { Authorization: `Basic ${Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64')}` };
  return {};
}

/** Parses "1.6.7~rc0" / "v2.7.4" / "3.0.1" into [major, minor]. */
export function parseVersion(v: string): [number, number] {
  const m = /(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** connect attempts while InfluxDB is away: 0.5 s doubling to 15 s */
const CONNECT_MIN_MS = 500;
const CONNECT_MAX_MS = 15_000;
const PING_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * InfluxDB, connected lazily: `open` never waits for the server, so the
 * service starts, accepts and spools while InfluxDB is down or hanging. The
 * first write (or the background loop started by `connectInBackground`)
 * pings, detects the version and creates the database; until that succeeds
 * writes fail as retriable and the spool keeps the messages.
 */
/** Where and how writes go, once connected. */
interface WriteTarget {
  url: string;
  headers: Record<string, string>;
}

export class InfluxStore {
  private target: WriteTarget | null = null;
  private serverVersion: string | null = null;
  private connecting: Promise<void> | null = null;
  private nextAttempt = 0;
  private delay = CONNECT_MIN_MS;
  private lastError = '';
  private closed = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly cfg: InfluxConfig,
    private log: Logger,
  ) {}

  /** A store that connects on first use; nothing is sent yet. */
  static open(cfg: InfluxConfig, log: Logger): InfluxStore {
    return new InfluxStore(cfg, log);
  }

  /** Opens and connects now; rejects when InfluxDB is not reachable (tools and tests). */
  static async connect(cfg: InfluxConfig, log: Logger): Promise<InfluxStore> {
    const store = InfluxStore.open(cfg, log);
    await store.ready();
    return store;
  }

  /** The server version once connected, else null. */
  get version(): string | null {
    return this.serverVersion;
  }

  get connected(): boolean {
    return this.target !== null;
  }

  /** Keeps trying to connect (with backoff) until it succeeds, logging what happens, so a quiet service connects too. */
  connectInBackground(): void {
    const attempt = () => {
      this.timer = null;
      if (this.closed || this.connected) return;
      this.ready().catch(() => {
        if (!this.closed) this.timer = setTimeout(attempt, Math.max(50, this.nextAttempt - Date.now())).unref();
      });
    };
    attempt();
  }

  /**
   * Connects if not connected yet: ping, version, CREATE DATABASE (1.x). While
   * the server is away, calls within the backoff delay fail at once with the
   * last error instead of waiting on it again.
   */
  async ready(): Promise<void> {
    if (this.target) return;
    // Retriable: a write racing the shutdown stays in the spool, never becomes a dead letter.
    if (this.closed) throw new InfluxError('InfluxDB store is closed (service stopping)');
    if (!this.connecting && Date.now() < this.nextAttempt) throw new InfluxError(`InfluxDB at ${this.cfg.url} is not available yet: ${this.lastError}`);
    this.connecting ??= this.attempt().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async attempt(): Promise<void> {
    const { cfg, log } = this;
    try {
      const version = await InfluxStore.ping(cfg.url, PING_TIMEOUT_MS);
      if (version === null) throw new InfluxError(`no answer to GET ${cfg.url}/ping (refused, or nothing within ${PING_TIMEOUT_MS} ms)`);
      if (parseVersion(version)[0] === 1) await this.query(`CREATE DATABASE "${cfg.database}"`, 'POST');
      this.target = this.writeTarget(version);
      this.serverVersion = version;
      this.delay = CONNECT_MIN_MS;
      log.info({ url: cfg.url, version, database: cfg.database, writeUrl: this.target.url.replace(cfg.url, '') }, 'connected to InfluxDB');
    } catch (e) {
      const message = (e as Error).message;
      // One warning per change of reason, not one per retry.
      if (message !== this.lastError) log.warn({ url: cfg.url, err: message, retryInMs: this.delay }, 'InfluxDB is not available; accepting into the spool and retrying');
      this.lastError = message;
      this.nextAttempt = Date.now() + this.delay;
      this.delay = Math.min(this.delay * 2, CONNECT_MAX_MS);
      throw e instanceof InfluxError ? e : new InfluxError(message);
    }
  }

  private writeTarget(version: string): WriteTarget {
    const { cfg } = this;
    const [major, minor] = parseVersion(version);
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    // 1.x before 1.8 has no /api/v2/write.
    if (major === 1 && minor < 8) return { url: `${cfg.url}/write?db=${encodeURIComponent(cfg.database)}&precision=ns`, headers: { ...headers, ...authHeader(cfg) } };
    const token = cfg.token ?? (cfg.username ? `${cfg.username}:${cfg.password ?? ''}` : undefined);
    if (token) headers.authorization = `Token ${token}`;
    return { url: `${cfg.url}/api/v2/write?org=${encodeURIComponent(cfg.org ?? '-')}&bucket=${encodeURIComponent(cfg.database)}&precision=ns`, headers };
  }

  /** Returns the server version, or null when unreachable. */
  static async ping(url: string, timeoutMs = PING_TIMEOUT_MS): Promise<string | null> {
    try {
      const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
      if (r.status !== 204 && r.status !== 200) return null;
      return r.headers.get('x-influxdb-version') ?? 'unknown';
    } catch {
      return null;
    }
  }

  /**
   * Writes line-protocol points (lines, or lines already joined by newlines, as UTF-8); resolves once InfluxDB
   * has accepted all of them.
   */
  async write(lines: string[] | Buffer): Promise<void> {
    const text = Buffer.isBuffer(lines) ? lines : lines.join('\n');
    if (text.length === 0) return;
    await this.ready();
    const target = this.target!;
    const threshold = this.cfg.gzipThreshold ?? 4096;
    let body: string | Uint8Array = text;
    let headers = target.headers;
    if (threshold > 0 && text.length > threshold) {
      body = await gzip(text);
      headers = { ...headers, 'content-encoding': 'gzip' };
    }
    let res: Response;
    try {
      res = await fetch(target.url, { method: 'POST', headers, body: body as BodyInit, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      throw new InfluxError(`InfluxDB write failed: ${err.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (err.cause?.code ?? err.cause?.message ?? err.message)}`);
    }
    if (res.status === 204 || res.status === 200) {
      await res.body?.cancel();
      return;
    }
    const detail = (await res.text().catch(() => '')).slice(0, 500);
    // A new, empty InfluxDB behind the same URL has no database: connect (and create it) again.
    if (res.status === 404) this.target = null;
    // 400/422: the server refused the data itself (a bad line, a type conflict); retrying the same lines cannot
    // help. Everything else (5xx, 429, and 401/403/404/413: credentials, a missing database, a size limit,
    // fixable by an operator) is retried.
    const retriable = !(res.status === 400 || res.status === 422);
    throw new InfluxError(`InfluxDB write failed: ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`, res.status, retriable);
  }

  /** Runs InfluxQL; returns the series of the first statement. */
  async query(q: string, method: 'GET' | 'POST' = 'GET'): Promise<SeriesResult[]> {
    const params = new URLSearchParams({ db: this.cfg.database, q, epoch: 'ms' });
    const r = await fetch(`${this.cfg.url}/query?${params}`, { method, headers: authHeader(this.cfg), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await r.json().catch(() => ({}))) as { error?: string; results?: { error?: string; series?: SeriesResult[] }[] };
    const err = body.error ?? body.results?.[0]?.error;
    if (!r.ok || err) throw new InfluxError(`InfluxQL failed (${r.status}): ${err ?? r.statusText}`, r.status);
    return body.results?.[0]?.series ?? [];
  }

  /** Convenience: the rows of the first series as objects. */
  async rows(q: string): Promise<Record<string, unknown>[]> {
    const series = await this.query(q);
    return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
