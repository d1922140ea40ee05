// InfluxDB access: version detection over /ping, batched gzip writes through
// @influxdata/influxdb-client (v1 /write before 1.8, the v2 API otherwise) and
// InfluxQL reads over /query, which 1.x, 2.x (with DBRP) and 3.x all answer.
import { InfluxDB, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';

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

export class InfluxError extends Error {
  constructor(message: string, readonly status?: number, readonly retriable = true) {
    super(message);
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

export class InfluxStore {
  private writeApi: WriteApi;
  private constructor(
    readonly cfg: InfluxConfig,
    readonly version: string,
    private log: Logger,
  ) {
    const [major, minor] = parseVersion(version);
    const legacyWrite = major === 1 && minor < 8;
    const client = new InfluxDB({ url: cfg.url, token: cfg.token ?? (cfg.username ? `${cfg.username}:${cfg.password ?? ''}` : undefined), timeout: 30_000 });
    this.writeApi = client.getWriteApi(cfg.org ?? '-', cfg.database, 'ns', {
      batchSize: 1_000_000, // we batch ourselves and call flush(); never auto-send
      flushInterval: 0,
      maxRetries: 0, // the spool retries; the client must not drop or reorder
      gzipThreshold: cfg.gzipThreshold === 0 ? undefined : (cfg.gzipThreshold ?? 4096),
      headers: legacyWrite ? authHeader(cfg) : {},
    });
    if (legacyWrite) {
      // 1.x before 1.8 has no /api/v2/write.
      this.writeApi.path = `/write?db=${encodeURIComponent(cfg.database)}&precision=ns`;
    }
  }

  /** Pings the server, detects its version and makes sure the database exists (1.x). */
  static async connect(cfg: InfluxConfig, log: Logger): Promise<InfluxStore> {
    setLogger({ error: (m, e) => log.debug({ err: e }, m), warn: (m, e) => log.debug({ err: e }, m) });
    const version = await InfluxStore.ping(cfg.url);
    if (version === null) throw new InfluxError(`InfluxDB at ${cfg.url} does not answer /ping`);
    const store = new InfluxStore(cfg, version, log);
    if (parseVersion(version)[0] === 1) await store.query(`CREATE DATABASE "${cfg.database}"`, 'POST');
    log.info({ url: cfg.url, version, database: cfg.database, writePath: store.writeApi.path }, 'connected to InfluxDB');
    return store;
  }

  /** Returns the server version, or null when unreachable. */
  static async ping(url: string, timeoutMs = 2000): Promise<string | null> {
    try {
      const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
      if (r.status !== 204 && r.status !== 200) return null;
      return r.headers.get('x-influxdb-version') ?? 'unknown';
    } catch {
      return null;
    }
  }

  /** Writes line-protocol points; resolves once InfluxDB has accepted all of them. */
  async write(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    this.writeApi.writeRecords(lines);
    try {
      await this.writeApi.flush();
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      // 400/422: the server refused the data itself (a bad line, a type
      // conflict); retrying the same lines cannot help. Everything else —
      // unreachable, 5xx, 429, and 401/403/404/413 (credentials, a missing
      // database, a size limit: fixable by an operator) — is retried.
      const retriable = !(status === 400 || status === 422);
      throw new InfluxError(`InfluxDB write failed: ${(e as Error).message}`, status, retriable);
    }
  }

  /** Runs InfluxQL; returns the series of the first statement. */
  async query(q: string, method: 'GET' | 'POST' = 'GET'): Promise<SeriesResult[]> {
    const params = new URLSearchParams({ db: this.cfg.database, q, epoch: 'ms' });
    const r = await fetch(`${this.cfg.url}/query?${params}`, { method, headers: authHeader(this.cfg), signal: AbortSignal.timeout(60_000) });
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
    await this.writeApi.close().catch(() => undefined);
  }
}
