// Configuration from environment variables, validated at start-up with one
// clear message per bad value. README.md "Configuration" lists the same.
import { resolve } from 'node:path';
import { parseRiskConfig } from '../supervision/risk.js';
import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { parseAllowHosts } from '../alerts/notify/target.js';
import { AppError } from '../common/errors.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const port = z.coerce.number().int().min(0).max(65535);
const opt = z.string().min(1).optional();
/** A cron expression (5 fields, or 6 with seconds), checked with node-cron so a typo stops the start, naming the field. */
const cronExpr = z.string().superRefine((v, ctx) => {
  const r = validateDetailed(v);
  if (!r.valid) ctx.addIssue({ code: 'custom', message: `not a cron expression: ${r.errors.map((e) => e.message).join('; ')}` });
});

export const ENV = {
  DATA_DIR: z.string().default('./data').describe('Directory for SQLite state, the spool and the project-local InfluxDB'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('pino log level'),
  HTTP_HOST: z.string().default('127.0.0.1').describe('Address of the HTTP API'),
  HTTP_PORT: port.default(8080).describe('Port of the HTTP API (0 = any free port)'),
  HTTP_TRUST_PROXY: z.string().regex(/^(true|[0-9a-fA-F:.,/\s]+)$/, 'true, or proxy addresses / CIDRs separated by commas').optional()
    .transform((v) => (v === undefined || v === '' ? false : v === 'true' ? true : v.split(',').map((x) => x.trim()).filter(Boolean)))
    .describe('Behind a reverse proxy: trust its X-Forwarded-For / -Proto (true, or the proxy addresses), so sign-in limits and the audit log see the real client'),
  MQTT_HOST: z.string().default('0.0.0.0').describe('Address of the MQTT listener'),
  MQTT_PORT: port.default(1883).describe('MQTT over TCP port (0 = any free port)'),
  MQTT_TLS_PORT: port.default(8883).describe('MQTT over TLS port, used when MQTT_TLS_CERT and MQTT_TLS_KEY are set'),
  MQTT_TLS_CERT: opt.describe('PEM certificate file: enables the TLS listener'),
  MQTT_TLS_KEY: opt.describe('PEM private key file for the TLS listener'),
  MQTT_ALLOW_ANONYMOUS: bool.default(false).describe('Development only: let clients connect without credentials (they still cannot publish)'),
  MQTT_MAX_PACKET_BYTES: z.coerce.number().int().min(65_536 + 1024).max(268_435_455).default(131_072)
    .describe('Largest MQTT packet accepted after the CONNECT; a larger one closes the connection at its fixed header'),
  MQTT_MAX_CONNECT_BYTES: z.coerce.number().int().min(512).max(268_435_455).default(4096)
    .describe('Largest CONNECT packet (client id, credentials, will) accepted before authentication'),
  ADMIN_TOKEN: opt.describe('Bearer token for the registry and admin API; generated into DATA_DIR/admin-token when unset'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (unset: SQLite in DATA_DIR/state.db)').optional()
    .describe('PostgreSQL (13+) for the service state, as postgres://user:password@host:port/database. Unset: SQLite in DATA_DIR/state.db (or the project-local PostgreSQL with POSTGRES_LOCAL)'),
  POSTGRES_LOCAL: bool.default(false).describe('Start a project-local PostgreSQL (Debian\'s postgresql) with its data in DATA_DIR/postgres and keep the state there'),
  POSTGRES_LOCAL_PORT: port.default(5433).describe('Port of the project-local PostgreSQL (127.0.0.1 only)'),
  POSTGRES_AUTO_INSTALL: bool.default(true).describe('Install Debian\'s postgresql package when it is missing (root only)'),
  DATABASE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000).describe('Longest a PostgreSQL statement of the service may run (statement_timeout) and a connection attempt may take; the service waits for its statements, so keep it short (scorecards run on their own connection with 30 s)'),
  NATS_URL: z.string().regex(/^nats:\/\/[^,\s]+(\s*,\s*nats:\/\/[^,\s]+)*$/, 'one or more nats://host:port URLs, separated by commas').optional()
    .describe('Cluster mode: the NATS servers (nats://host:port, comma-separated) whose JetStream stream is the ingest log; needs DATABASE_URL (or POSTGRES_LOCAL). Unset: one process with the file spool'),
  NATS_USER: opt.describe('NATS user name, when the servers require one'),
  NATS_PASSWORD: opt.describe('NATS password'),
  NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1).describe('Replicas of the ingest stream when this node creates it (3 in a three-server NATS cluster)'),
  CLUSTER_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(16).describe('Partitions of the ingest stream, fixed when it is created: each is processed by one node at a time, so this caps the nodes that share the work'),
  CLUSTER_NODE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - (at most 64)').optional().describe('This node\'s id in the cluster (default: host name and process id)'),
  CLUSTER_LEASE_MS: z.coerce.number().int().min(1000).max(120_000).default(6000).describe('How long a node\'s claim on a partition (and on leadership) lasts without a heartbeat (every third of it): a dead node\'s partitions move after about this long'),
  INFLUX_URL: opt.describe('External InfluxDB (1.8+, 2.x, 3.x; or 1.x). Unset: start a project-local influxd'),
  INFLUX_DATABASE: z.string().default('se_monitor').describe('Database (1.x) or bucket (2.x/3.x)'),
  INFLUX_TOKEN: opt.describe('API token (2.x/3.x)'),
  INFLUX_USERNAME: opt.describe('User name (1.x with auth)'),
  INFLUX_PASSWORD: opt.describe('Password (1.x with auth)'),
  INFLUX_ORG: opt.describe('Organisation (2.x)'),
  INFLUX_LOCAL_PORT: port.default(8186).describe('HTTP port of the project-local influxd'),
  INFLUX_AUTO_INSTALL: bool.default(true).describe('Install Debian\'s influxdb package when influxd is missing (root only)'),
  INFLUX_GZIP_THRESHOLD: z.coerce.number().int().min(0).optional().describe('Gzip write bodies above this many bytes (0 = never). Default: 4096 for INFLUX_URL, 0 for the local influxd on loopback'),
  SPOOL_MAX_BYTES: z.coerce.number().int().min(1_048_576).default(1_073_741_824).describe('Bytes of accepted-but-unstored messages before new publishes are refused'),
  SPOOL_FSYNC: z.enum(['always', 'interval', 'none']).default('always').describe('always: PUBACK after fdatasync (survives power loss); interval: sync every SPOOL_FSYNC_MS; none: kernel decides'),
  SPOOL_FSYNC_MS: z.coerce.number().int().min(1).default(100).describe('Sync period for SPOOL_FSYNC=interval'),
  INGEST_QUEUE_BYTES: z.coerce.number().int().min(0).default(16 * 1024 * 1024).describe('Bytes of decoded points held in memory while waiting for InfluxDB; beyond, batches stay in the spool and are decoded again when their turn comes'),
  DEAD_LETTER_MAX: z.coerce.number().int().min(100).default(10_000).describe('Dead letters kept (newest first)'),
  DEDUP_RETENTION_DAYS: z.coerce.number().int().min(1).default(400).describe('How long record ids are remembered for duplicate detection'),
  GAS_LEVEL1_LEL: z.coerce.number().min(0).max(100).default(25).describe('First-level gas alarm at or above this %LEL (GB/T 50493-2019)'),
  GAS_LEVEL2_LEL: z.coerce.number().min(0).max(100).default(50).describe('Second-level gas alarm at or above this %LEL'),
  GAS_CLEAR_MARGIN_LEL: z.coerce.number().min(0).max(50).default(5).describe('A gas alarm clears only below level 1 minus this margin …'),
  GAS_CLEAR_HOLD_S: z.coerce.number().int().min(0).default(60).describe('… held for this many seconds (event time)'),
  ENTRAPMENT_ARRIVAL_S: z.coerce.number().int().min(1).default(1800).describe('An entrapment escalates when no rescue `arrived` record comes within this time (TSG T5002: 30 min)'),
  OFFLINE_TIMEOUT_S: z.coerce.number().int().min(1).default(300).describe('Equipment silent for longer than this is offline'),
  ALERT_CHECK_MS: z.coerce.number().int().min(100).default(10_000).describe('How often the timed rules run: silence (offline), rescue arrival, unacknowledged critical alerts'),
  ALERT_RENOTIFY_S: z.coerce.number().int().min(1).default(300).describe('An unacknowledged critical alert is notified again every this many seconds'),
  ALERT_ESCALATE_S: z.coerce.number().int().min(1).default(900).describe('… and moves up one contact level every this many seconds'),
  ALERT_MAX_LEVEL: z.coerce.number().int().min(0).max(5).default(2).describe('Highest contact level reached by waiting (contacts have level 0 = duty inspector, 1, 2, …)'),
  NOTIFY_LATE_AFTER_S: z.coerce.number().int().min(1).default(600).describe('A transition processed more than this after its event time is late: a late raise is held …'),
  NOTIFY_LATE_GRACE_S: z.coerce.number().int().min(0).default(30).describe('… this long and paged only if the alert is still active then (a backfilled raise-and-clear is recorded, not paged)'),
  NOTIFY_HISTORICAL_AFTER_S: z.coerce.number().int().min(1).default(21_600).describe('An alert opened from data older than this is history: recorded and shown, never paged, reminded or escalated by page'),
  NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8).describe('Webhook delivery attempts before a notification is marked failed'),
  NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(10).default(2000).describe('First retry delay; doubles per attempt (±20 % jitter), at most 5 minutes'),
  NOTIFY_ALLOW_HOSTS: z.string().optional().superRefine((v, ctx) => {
    try {
      parseAllowHosts(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }).transform(parseAllowHosts).describe('Webhook hosts (host or host:port, comma-separated) allowed although they are not public addresses, e.g. an intranet relay; every other loopback, private, link-local or otherwise non-public target is refused'),
  NOTIFY_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000).describe('Webhook request timeout'),
  SESSION_TTL_H: z.coerce.number().positive().max(24 * 90).default(12).describe('A dashboard session ends after this many hours without use (sliding)'),
  LOGIN_RATE_MAX: z.coerce.number().int().min(1).default(10).describe('Login attempts allowed per client address and user name …'),
  LOGIN_RATE_WINDOW_S: z.coerce.number().int().min(1).default(60).describe('… in this many seconds; more are refused with 429'),
  DASHBOARD_URL: z.url().optional().describe('Public base URL of the dashboard, for links in notifications'),
  PUBLIC_BASE_URL: z.url().optional().describe('Base URL the QR labels of the public elevator pages encode (…/e/<code>); default DASHBOARD_URL, else the address the label was printed from'),
  PUBLIC_COMPLAINT_MAX_PER_ADDRESS: z.coerce.number().int().min(1).default(5).describe('Public page: complaints allowed per client address …'),
  PUBLIC_COMPLAINT_MAX_PER_ELEVATOR: z.coerce.number().int().min(1).default(30).describe('Public page: complaints allowed per elevator …'),
  PUBLIC_COMPLAINT_WINDOW_S: z.coerce.number().int().min(1).default(3600).describe('… in this many seconds; more are refused with 429'),
  SCHEDULE_OVERDUE_MAINTENANCE: cronExpr.default('0 2 * * *').describe('When the overdue-maintenance rule runs (cron, Asia/Shanghai)'),
  SCHEDULE_OVERDUE_INSPECTION: cronExpr.default('10 2 * * *').describe('When the overdue-inspection rule runs (cron, Asia/Shanghai)'),
  SCHEDULE_CATCH_UP: bool.default(true).describe('On start, run each scheduled rule whose last successful run is older than 24 h (missed while down)'),
  INTERVIEW_PASS_RATE_BELOW: z.coerce.number().min(0).max(1).default(0.7).describe('Interview list: a first periodic-inspection pass rate below this fails (exactly this does not)'),
  INTERVIEW_MIN_INSPECTIONS: z.coerce.number().int().min(1).default(5).describe('Interview list: first inspections needed for the pass rate to count ("insufficient data" below)'),
  HAZARD_DUE_DAYS_GENERAL: z.coerce.number().int().min(1).max(3650).default(30).describe('Hazards: days from found to the rectification deadline of a general hazard (configuration, not regulation)'),
  HAZARD_DUE_DAYS_MAJOR: z.coerce.number().int().min(1).max(3650).default(7).describe('Hazards: days from found to the rectification deadline of a major hazard (configuration, not regulation)'),
  INTERVIEW_COMPLAINT_RATE: z.coerce.number().min(0).default(5).describe('Interview list: complaints per 100 elevators at or above this fail'),
  INTERVIEW_POLICY: z.enum(['any', 'all']).default('any').describe('Interview list: listed when any criterion fails, or only when all do'),
  RISK_SCORING: z.string().optional().superRefine((v, ctx) => {
    try {
      parseRiskConfig(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }).describe('Elevator risk levels: JSON overriding any part of the scoring (weights, age, thresholds, periodDays; README "Elevator risk levels")'),
  SCHEDULE_UNIT_RATES: cronExpr.default('20 0 * * *').describe('When every unit\'s rolling twelve-month rates are evaluated again, so records age out of the window (cron, Asia/Shanghai); records re-evaluate their unit at once'),
  SCHEDULE_INTERVIEW_YEARLY: cronExpr.default('30 3 5 1 *').describe('When the interview list for the previous calendar year is generated (cron, Asia/Shanghai)'),
  SCHEDULE_INTERVIEW_MONTHLY: cronExpr.default('0 4 1 * *').describe('When the early-warning list for the rolling twelve months is generated'),
  CREDIT_SCORING: opt.describe('Unit credit grades: a JSON file overriding the scoring\'s weights, caps and grade thresholds (README "Unit credit grades"); unset = the defaults'),
} as const;

const schema = z.object(ENV);
export type Config = z.infer<typeof schema> & { dataDir: string };

/** The NATS servers of NATS_URL, or null in one-process mode. */
export const natsServers = (c: Pick<Config, 'NATS_URL'>): string[] | null => (c.NATS_URL ? c.NATS_URL.split(',').map((u) => u.trim()) : null);

/** Bad settings at start-up: never an HTTP answer, so the default 500. */
export class ConfigError extends AppError {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(Object.keys(ENV).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const r = schema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${String(i.path[0])}=${JSON.stringify(raw[String(i.path[0])])}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  // Replaced by a bound in bytes (a count of points bounded nothing: a point's size varies): say so rather than ignore it.
  if (env.INGEST_QUEUE_POINTS) throw new ConfigError('invalid configuration:\n  INGEST_QUEUE_POINTS is no longer read: the in-memory queue is bounded in bytes by INGEST_QUEUE_BYTES (default 16 MiB); remove it');
  if (r.data.GAS_LEVEL2_LEL <= r.data.GAS_LEVEL1_LEL) throw new ConfigError(`invalid configuration:\n  GAS_LEVEL2_LEL=${r.data.GAS_LEVEL2_LEL} must be above GAS_LEVEL1_LEL=${r.data.GAS_LEVEL1_LEL}`);
  if (r.data.POSTGRES_LOCAL && r.data.DATABASE_URL) throw new ConfigError('invalid configuration:\n  DATABASE_URL and POSTGRES_LOCAL exclude each other: DATABASE_URL uses an existing PostgreSQL, POSTGRES_LOCAL starts one in DATA_DIR/postgres');
  if (r.data.NATS_URL && !r.data.DATABASE_URL && !r.data.POSTGRES_LOCAL) throw new ConfigError('invalid configuration:\n  NATS_URL (cluster mode) needs shared state: set DATABASE_URL to the PostgreSQL every node uses (SQLite is one machine\'s file)');
  if (Boolean(r.data.MQTT_TLS_CERT) !== Boolean(r.data.MQTT_TLS_KEY)) throw new ConfigError('invalid configuration:\n  MQTT_TLS_CERT and MQTT_TLS_KEY must be set together');
  return { ...r.data, dataDir: resolve(r.data.DATA_DIR) };
}
