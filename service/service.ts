// Composition root: storage → registry → broker → ingest → HTTP, started in
// that order and stopped in reverse, draining on the way down.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { startBroker, type RunningBroker } from '../broker/broker.js';
import { startAlertEngine } from '../alerts/engine.js';
import { AlertStore } from '../alerts/store.js';
import { Scheduler } from '../alerts/scheduled.js';
import { UnitFlags } from '../alerts/unit-flags.js';
import { loadScoring } from '../supervision/credit.js';
import { Supervision } from '../supervision/supervision.js';
import { SupervisionOrders } from '../supervision/orders.js';
import { periodMs } from '../supervision/interview.js';
import { parseRiskConfig, RiskLevels } from '../supervision/risk.js';
import { SpotChecks } from '../supervision/spot-checks.js';
import { HazardBook } from '../supervision/hazards.js';
import { startAlertHistory } from '../alerts/history.js';
import { Notifier } from '../alerts/notify/notifier.js';
import { WebhookTargets } from '../alerts/notify/target.js';
import { buildApp } from '../dashboard/app.js';
import { Accounts } from '../dashboard/accounts.js';
import { AuditLog } from '../dashboard/audit.js';
import { DeadLetters } from '../ingest/dead-letters.js';
import { Dedup } from '../ingest/dedup.js';
import { PointSlots } from '../ingest/point-slots.js';
import { createIngest, type Ingest } from '../ingest/pipeline.js';
import { Registry } from '../registry/registry.js';
import { syncRegistry } from '../registry/cluster-sync.js';
import { openDb, type Db } from '../storage/db.js';
import { InfluxStore } from '../storage/influx.js';
import { startLocalPostgres } from '../storage/postgres.js';
import { launchLocalInflux, type LocalInflux } from '../storage/influxd.js';
import { RecordLedger } from '../storage/ledger.js';
import { Spool, type IngressLog } from '../storage/spool.js';
import { ConfigError, natsServers, type Config } from './config.js';
import { openClusterNode, type ClusterNode } from './cluster.js';
import { createMetrics, type Metrics } from '../common/metrics.js';

export interface Service {
  config: Config;
  registry: Registry;
  alerts: AlertStore;
  scheduler: Scheduler;
  unitFlags: UnitFlags;
  supervision: Supervision;
  orders: SupervisionOrders;
  risk: RiskLevels;
  spotChecks: SpotChecks;
  hazards: HazardBook;
  notifier: Notifier;
  store: InfluxStore;
  /** where the broker and HTTP ingest put accepted messages: the file spool, or the cluster's log */
  spool: IngressLog;
  ingest: Ingest;
  /** cluster mode (NATS_URL): this node's part of the cluster */
  cluster: ClusterNode | undefined;
  broker: RunningBroker;
  app: FastifyInstance;
  metrics: Metrics;
  db: Db;
  accounts: Accounts;
  audit: AuditLog;
  /** the supervised project-local influxd, when INFLUX_URL is unset */
  localInflux: LocalInflux | undefined;
  httpUrl: string;
  mqttPort: number;
  adminToken: string;
  stop(): Promise<void>;
}

function adminToken(config: Config, log: Logger): string {
  if (config.ADMIN_TOKEN) return config.ADMIN_TOKEN;
  const path = join(config.dataDir, 'admin-token');
  if (!existsSync(path)) {
    writeFileSync(path, randomBytes(24).toString('base64url'), { mode: 0o600 });
    log.warn({ path }, 'ADMIN_TOKEN not set: generated an admin token into this file');
  }
  return readFileSync(path, 'utf8').trim();
}

export async function startService(config: Config, log: Logger): Promise<Service> {
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = createMetrics();
  let local: LocalInflux | undefined;
  let influxCred = { username: config.INFLUX_USERNAME, password: config.INFLUX_PASSWORD };
  if (!config.INFLUX_URL) {
    // Supervised and not waited for: until it answers, messages wait in the spool.
    local = await launchLocalInflux({
      dataDir: join(config.dataDir, 'influxdb'), port: config.INFLUX_LOCAL_PORT, log: log.child({ part: 'influxd' }), autoInstall: config.INFLUX_AUTO_INSTALL,
      onEvent: (event) => metrics.influxdEvents.inc({ event }),
    });
    influxCred = { username: local.username, password: local.password };
  }
  const store = InfluxStore.open(
    {
      url: local?.url ?? config.INFLUX_URL!, database: config.INFLUX_DATABASE, token: config.INFLUX_TOKEN, ...influxCred, org: config.INFLUX_ORG,
      gzipThreshold: config.INFLUX_GZIP_THRESHOLD ?? (local ? 0 : 4096),
    },
    log.child({ part: 'influx' }),
  );
  // A fresh local influxd has no admin for a moment: connect once it has, rather than warn about it.
  if (local) local.ready(60_000).then(() => store.connectInBackground(), (err: Error) => {
    log.warn({ err: err.message }, 'project-local influxd is not ready yet; messages wait in the spool');
    store.connectInBackground();
  });
  else store.connectInBackground();

  // The state is needed before anything else starts: unlike InfluxDB, the service waits for its PostgreSQL.
  const localPg = config.POSTGRES_LOCAL
    ? await startLocalPostgres({
      dataDir: config.dataDir, port: config.POSTGRES_LOCAL_PORT, log: log.child({ part: 'postgres' }), autoInstall: config.POSTGRES_AUTO_INSTALL,
      onEvent: (event) => metrics.postgresEvents.inc({ event }),
    })
    : undefined;
  let db: Db;
  try {
    db = openDb({
      url: localPg?.url ?? config.DATABASE_URL, dataDir: config.dataDir, timeoutMs: config.DATABASE_TIMEOUT_MS,
      // A node stopped mid-transaction (its claim rows locked) must not stall the others' heartbeats past their own leases.
      idleInTransactionMs: config.NATS_URL ? Math.min(config.DATABASE_TIMEOUT_MS, Math.floor(config.CLUSTER_LEASE_MS / 3)) : undefined,
    });
  } catch (e) {
    await localPg?.stop();
    throw e;
  }
  const registry = new Registry(db, log.child({ part: 'registry' }));
  const webhookTargets = new WebhookTargets(config.NOTIFY_ALLOW_HOSTS);
  registry.contacts.check = (c) => {
    const refused = webhookTargets.refusal(c.webhook);
    return refused && `webhook: ${refused.message}`;
  };
  // Contacts saved before webhooks were limited to public addresses: say now which ones will not be sent to.
  for (const c of registry.contacts.items.values()) {
    const refused = webhookTargets.refusal(c.webhook);
    if (refused) log.warn({ contact: c.id, reason: refused.reason }, `contact ${c.id}: ${refused.message}; its notifications will fail`);
  }
  const deadLetters = new DeadLetters(db, config.DEAD_LETTER_MAX);
  const dedup = new Dedup(db);
  const slots = new PointSlots(db);
  let cluster: ClusterNode | undefined;
  const purgeIds = () => {
    if (cluster && !cluster.leader()) return; // shared tables: the leader purges them
    const before = Date.now() - config.DEDUP_RETENTION_DAYS * 86_400_000;
    const purged = dedup.purge(before);
    if (purged) log.info({ purged }, 'forgot old record ids');
    const offsets = slots.purge(before);
    if (offsets) log.info({ offsets }, 'forgot old re-assigned point offsets');
  };
  purgeIds();
  const purgeTimer = setInterval(purgeIds, 86_400_000);
  purgeTimer.unref();

  const ingestDeps = { store, registry, db, deadLetters, dedup, slots, metrics, queueBytesMax: config.INGEST_QUEUE_BYTES, log: log.child({ part: 'ingest' }) };
  const servers = natsServers(config);
  // Cluster mode: accepted messages go to the JetStream log, and this node processes the partitions it claims.
  if (servers) {
    try {
      cluster = await openClusterNode({ config, servers, db, metrics, log, ingestDeps });
    } catch (e) {
      db.close();
      await localPg?.stop();
      await local?.stop();
      throw new ConfigError(`cluster mode: could not open the JetStream ingest log on ${servers.join(', ')}: ${(e as Error).message}`);
    }
  }
  // Registry changes made on any node reach every node's memory (and disconnect revoked gateways everywhere).
  const unsyncRegistry = cluster ? syncRegistry(registry, cluster.bus, { log: log.child({ part: 'registry-sync' }), metrics }) : undefined;
  const spool = cluster ? undefined : Spool.open({ dir: join(config.dataDir, 'spool'), maxBytes: config.SPOOL_MAX_BYTES, fsync: config.SPOOL_FSYNC, fsyncIntervalMs: config.SPOOL_FSYNC_MS, log });
  const ingress: IngressLog = cluster?.ingress ?? spool!;
  const ingest: Ingest = cluster?.ingest ?? createIngest({ spool: spool!, ...ingestDeps });

  // The record ledger (scorecards, interview lists) is written in the same transaction that accepts the records.
  const ledger = new RecordLedger(db);
  ingest.onAccepted((items) => ledger.add(items));

  // An inspection's nextDue is the registry's next periodic-inspection date (contract: "updates the registry").
  ingest.onAccepted((items) => {
    for (const it of items) {
      if (it.channel !== 'inspection') continue;
      const rec = it.record;
      const e = rec.nextDue && rec.kind === 'periodic' ? registry.elevators.get(rec.elevator) : undefined;
      if (e && (e.nextInspectionDue === null || rec.nextDue! > e.nextInspectionDue)) registry.elevators.patch(rec.elevator, { nextInspectionDue: rec.nextDue });
    }
  });

  const alerts = new AlertStore(db, log.child({ part: 'alerts' }));
  // In a cluster every node hears every node's transitions (live feed, the rules' in-memory maps), in seq order.
  const unfollowAlerts = cluster ? alerts.follow(cluster.bus) : undefined;
  const interviewCriteria = { passRateBelow: config.INTERVIEW_PASS_RATE_BELOW, minInspections: config.INTERVIEW_MIN_INSPECTIONS, complaintRateAtLeast: config.INTERVIEW_COMPLAINT_RATE, policy: config.INTERVIEW_POLICY };
  const stopAlerts = startAlertEngine({
    ingest, alerts, db, log: log.child({ part: 'alerts' }),
    offline: { timeoutMs: config.OFFLINE_TIMEOUT_S * 1000, checkMs: config.ALERT_CHECK_MS },
    arrivalMs: config.ENTRAPMENT_ARRIVAL_S * 1000,
    gas: { level1: config.GAS_LEVEL1_LEL, level2: config.GAS_LEVEL2_LEL, clearMargin: config.GAS_CLEAR_MARGIN_LEL, clearHoldMs: config.GAS_CLEAR_HOLD_S * 1000 },
    escalation: { renotifyMs: config.ALERT_RENOTIFY_S * 1000, escalateMs: config.ALERT_ESCALATE_S * 1000, maxLevel: config.ALERT_MAX_LEVEL, historicalAfterMs: config.NOTIFY_HISTORICAL_AFTER_S * 1000 },
    ...(cluster ? { cluster: { leader: cluster.leader, fenceLeader: cluster.fenceLeader } } : {}),
    onTimedRun: () => metrics.timedRuns.inc(),
  });
  cluster?.onDetached((keep) => stopAlerts.forget(keep));
  // Unit flags: a unit's rates re-evaluated when its records are accepted (after the ledger listener above, same transaction).
  const unitFlags = new UnitFlags({ db, alerts, registry, ledger, criteria: interviewCriteria, log: log.child({ part: 'unit-flags' }) });
  ingest.onAccepted((items) => unitFlags.onAccepted(items));
  // The hazard book: found and rectified records booked in the accept transaction; the overdue check on a timer (the leader's, in a cluster).
  const hazardDueDays = { general: config.HAZARD_DUE_DAYS_GENERAL, major: config.HAZARD_DUE_DAYS_MAJOR };
  const hazards = new HazardBook({ db, alerts, log: log.child({ part: 'hazards' }), dueDays: hazardDueDays, checkMs: config.ALERT_CHECK_MS, ...(cluster ? { isLeader: cluster.leader } : {}) });
  ingest.onAccepted((items) => hazards.onAccepted(items));
  hazards.start();
  alerts.onTransition(({ alert, transition }) => metrics.alertTransitions.inc({ type: alert.type, transition }));
  const notifier = new Notifier({
    db, alerts, registry, metrics, log: log.child({ part: 'notify' }), targets: webhookTargets,
    config: {
      lateAfterMs: config.NOTIFY_LATE_AFTER_S * 1000, lateGraceMs: config.NOTIFY_LATE_GRACE_S * 1000, historicalAfterMs: config.NOTIFY_HISTORICAL_AFTER_S * 1000,
      maxAttempts: config.NOTIFY_MAX_ATTEMPTS, retryBaseMs: config.NOTIFY_RETRY_BASE_MS, timeoutMs: config.NOTIFY_TIMEOUT_MS, dashboardUrl: config.DASHBOARD_URL,
    },
  });
  // The transition log's consumers (notifications, the InfluxDB history) run once: in a cluster, on its leader.
  let history: ReturnType<typeof startAlertHistory> | undefined;
  const startLeaderWork = () => {
    notifier.start();
    history ??= startAlertHistory({ db, alerts, store, log: log.child({ part: 'alert-history' }) });
  };
  const stopLeaderWork = async () => {
    await notifier.stop();
    const h = history;
    history = undefined;
    await h?.stop();
  };
  if (!cluster) startLeaderWork();

  // Scheduled rules (overdue maintenance / inspection, the daily pass of the unit flags); the start-up catch-up runs in the background.
  const scheduler = new Scheduler({
    db, registry, alerts, ingest, log: log.child({ part: 'scheduled' }), catchUp: config.SCHEDULE_CATCH_UP, unitRates: unitFlags,
    schedules: { 'overdue-maintenance': config.SCHEDULE_OVERDUE_MAINTENANCE, 'overdue-inspection': config.SCHEDULE_OVERDUE_INSPECTION, 'unit-rates': config.SCHEDULE_UNIT_RATES },
    ...(cluster ? { cluster: { leader: cluster.leader, fenceLeader: cluster.fenceLeader } } : {}),
  });
  scheduler.start().catch((err: unknown) => log.error({ err }, 'scheduled rules: start-up catch-up failed'));

  const token = adminToken(config, log);
  const supervision = new Supervision({
    db, alerts, registry, log: log.child({ part: 'supervision' }),
    criteria: interviewCriteria, hazardDueDays,
    schedules: { yearly: config.SCHEDULE_INTERVIEW_YEARLY, monthly: config.SCHEDULE_INTERVIEW_MONTHLY },
    credit: { scoring: loadScoring(config.CREDIT_SCORING) },
    ...(cluster ? { leader: cluster.leader } : {}),
  });
  supervision.start();
  // Orders going overdue raise their alerts from a timer: in a cluster only the leader writes them.
  const orders = new SupervisionOrders({ db, alerts, registry, log: log.child({ part: 'orders' }), ...(cluster ? { isLeader: cluster.leader } : {}) });
  orders.start();
  // Risk levels computed on demand from the owners' figures, open hazards included; spot checks own their tables.
  const risk = new RiskLevels({ registry, ledger, alerts, hazards, config: parseRiskConfig(config.RISK_SCORING) });
  const spotChecks = new SpotChecks(db);
  // Credit grades count the units' open and overdue hazards, overdue orders and cases.
  supervision.credit.setSources({
    orderCounts: (unit, period) => orders.orderCounts(unit, period),
    hazardCounts: (unit, period) => hazards.hazardCounts(unit, periodMs(period.from, period.to)),
  });
  const accounts = new Accounts(db, { sessionTtlMs: config.SESSION_TTL_H * 3_600_000 });
  const audit = new AuditLog(db);
  const app = await buildApp({
    registry, spool: ingress, ingest, store, deadLetters, metrics, log, adminToken: token, alerts, notifier, scheduler, supervision, orders, risk, spotChecks, hazards,
    views: { ledger, timings: stopAlerts.timings, liveness: stopAlerts.liveness, gasLevel1Lel: config.GAS_LEVEL1_LEL, gasLevel2Lel: config.GAS_LEVEL2_LEL, arrivalMs: config.ENTRAPMENT_ARRIVAL_S * 1000 },
    accounts, audit, login: { max: config.LOGIN_RATE_MAX, windowMs: config.LOGIN_RATE_WINDOW_S * 1000 }, trustProxy: config.HTTP_TRUST_PROXY,
    publicPage: {
      baseUrl: config.PUBLIC_BASE_URL ?? config.DASHBOARD_URL,
      riskOf: (code) => risk.known(code),
      limits: { perAddress: config.PUBLIC_COMPLAINT_MAX_PER_ADDRESS, perElevator: config.PUBLIC_COMPLAINT_MAX_PER_ELEVATOR, windowMs: config.PUBLIC_COMPLAINT_WINDOW_S * 1000 },
    },
    ...(cluster ? { cluster } : {}),
  });
  await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  const addr = app.server.address();
  const httpUrl = `http://${config.HTTP_HOST}:${typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT}`;

  const broker = await startBroker({
    host: config.MQTT_HOST,
    port: config.MQTT_PORT,
    tls: config.MQTT_TLS_CERT && config.MQTT_TLS_KEY ? { port: config.MQTT_TLS_PORT, cert: config.MQTT_TLS_CERT, key: config.MQTT_TLS_KEY } : undefined,
    allowAnonymous: config.MQTT_ALLOW_ANONYMOUS,
    limits: { maxPacketBytes: config.MQTT_MAX_PACKET_BYTES, maxConnectBytes: config.MQTT_MAX_CONNECT_BYTES },
    registry,
    spool: ingress,
    metrics,
    log: log.child({ part: 'broker' }),
  });
  log.info({ http: httpUrl, mqtt: broker.port, state: localPg ? 'project-local PostgreSQL' : db.dialect, elevators: registry.elevators.items.size, influx: store.connected ? 'connected' : 'not yet connected: messages wait in the spool' }, 'service started');
  // Listening first: a backlog in the spool is replayed in slices while new messages are acknowledged.
  if (spool?.depthCount) log.info({ messages: spool.depthCount, bytes: spool.depthBytes }, 'spool holds messages not yet stored; replaying');
  if (cluster) {
    // What only one node may run follows leadership; the first heartbeat (at start) decides it.
    cluster.onLeadership((leader) => {
      if (leader) {
        startLeaderWork();
        scheduler.catchUp().catch((err: unknown) => log.error({ err }, 'scheduled rules: catch-up on becoming leader failed'));
      } else stopLeaderWork().catch((err: unknown) => log.error({ err }, 'stopping the leader\'s consumers failed'));
    });
  }
  ingest.start();

  let stopped = false;
  return {
    config, registry, alerts, scheduler, unitFlags, supervision, orders, risk, spotChecks, hazards, notifier, store, spool: ingress, ingest, cluster, broker, app, metrics, db, accounts, audit, localInflux: local, httpUrl, mqttPort: broker.port, adminToken: token,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(purgeTimer);
      log.debug('stopping broker');
      await broker.close();
      log.debug('stopping http');
      await app.close();
      log.debug('draining ingest');
      const drained = await ingest.drained(10_000);
      if (!drained) log.warn({ messages: ingress.depthCount }, cluster ? 'stopping with messages not yet stored; the node taking the partitions over stores them' : 'stopping with messages still in the spool; they are stored on the next start');
      await ingest.stop();
      stopAlerts(); // after the drain, so what is stored on the way down still raises its alerts
      scheduler.stop();
      unitFlags.stop();
      supervision.stop();
      orders.stop();
      hazards.stop();
      await history?.caughtUp(2000);
      await stopLeaderWork();
      await spool?.close();
      unfollowAlerts?.();
      unsyncRegistry?.();
      await cluster?.close();
      await store.close();
      db.close();
      await localPg?.stop();
      await local?.stop();
      log.info('service stopped');
    },
  };
}
