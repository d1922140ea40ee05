// The HTTP server: registry and ingest APIs, dead letters, /healthz and
// /metrics. Built by a factory and listened to elsewhere, so tests can use
// app.inject.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Ingest } from '../ingest/pipeline.js';
import { ingestRoutes } from '../ingest/http.js';
import type { DeadLetters } from '../ingest/dead-letters.js';
import type { Registry } from '../registry/registry.js';
import { registryRoutes } from '../registry/routes.js';
import { alertRoutes } from '../alerts/routes.js';
import type { AlertStore } from '../alerts/store.js';
import { ruleRoutes } from '../alerts/rule-routes.js';
import type { Scheduler } from '../alerts/scheduled.js';
import type { Notifier } from '../alerts/notify/notifier.js';
import { notificationRoutes } from '../alerts/notify/routes.js';
import type { Supervision } from '../supervision/supervision.js';
import { supervisionRoutes } from '../supervision/routes.js';
import { exportRoutes } from '../supervision/export-routes.js';
import { creditRoutes } from '../supervision/credit-routes.js';
import { orderRoutes } from '../supervision/order-routes.js';
import type { SupervisionOrders } from '../supervision/orders.js';
import type { RiskLevels } from '../supervision/risk.js';
import type { SpotChecks } from '../supervision/spot-checks.js';
import { publicSpotCheckRoutes, riskRoutes, spotCheckRoutes } from '../supervision/spot-check-routes.js';
import type { HazardBook } from '../supervision/hazards.js';
import { hazardRoutes } from '../supervision/hazard-routes.js';
import { attachLive } from './live.js';
import { Views, type ViewsOptions } from './views.js';
import { viewRoutes } from './view-routes.js';
import { startLiveFeeds } from './live-feeds.js';
import { shareLiveState } from './cluster-state.js';
import type { Bus } from '../common/bus.js';
import type { Metrics } from '../common/metrics.js';
import { InfluxStore } from '../storage/influx.js';
import type { IngressLog } from '../storage/spool.js';
import { authenticator } from './auth.js';
import { staticRoutes } from './static.js';
import cookie from '@fastify/cookie';
import type { Accounts } from './accounts.js';
import { AuditLog, describeChange } from './audit.js';
import { accountRoutes } from './account-routes.js';
import { registerOpenApi } from './openapi.js';
import { jsonBodies, securityHeaders } from './security.js';
import { errorHandler } from './errors.js';
import { publicRoutes, type PublicRouteOptions } from './public-routes.js';

export interface AppDeps {
  registry: Registry;
  spool: IngressLog;
  ingest: Ingest;
  store: InfluxStore;
  deadLetters: DeadLetters;
  metrics: Metrics;
  log: Logger;
  adminToken: string;
  alerts: AlertStore;
  scheduler: Scheduler;
  supervision: Supervision;
  /** supervision orders and enforcement cases */
  orders: SupervisionOrders;
  risk: RiskLevels;
  spotChecks: SpotChecks;
  /** the hazard book (records/hazard, protocol v1.1) */
  hazards: HazardBook;
  notifier: Notifier;
  /** dashboard read APIs and live state frames (dashboard/views.ts) */
  views: ViewsOptions;
  accounts: Accounts;
  audit: AuditLog;
  login: { max: number; windowMs: number };
  /** fastify's trustProxy (HTTP_TRUST_PROXY): whose X-Forwarded-* headers to believe */
  trustProxy?: boolean | string[];
  /** cluster mode: this node's part (partitions owned with their lag, leadership, the nodes), for /healthz and /metrics */
  cluster?: { health(): Record<string, unknown>; updateMetrics(): void; bus: Bus };
  /** the public elevator page (一梯一码): QR base URL, complaint limits, the risk level source */
  publicPage?: Pick<PublicRouteOptions, 'baseUrl' | 'riskOf' | 'limits'>;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.log.child({ part: 'http' }, { level: deps.log.levelVal > 40 ? deps.log.level : 'warn' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024, trustProxy: deps.trustProxy ?? false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  const auth = authenticator(deps.adminToken, deps.registry, deps.accounts);
  // Accounts and access (dashboard/auth.ts): every /api/v1 request names a principal (req.principal), except
  // partner ingest (HTTP Basic) and signing in; every successful change is written to the audit log.
  app.decorateRequest('principal', null as never);
  jsonBodies(app);
  await securityHeaders(app);
  await app.register(cookie);
  await registerOpenApi(app);
  app.addHook('onRequest', auth.guard);
  app.addHook('onResponse', deps.audit.recordChanges(describeChange));
  await app.register(accountRoutes, { accounts: deps.accounts, audit: deps.audit, auth, login: deps.login });

  const views = new Views(deps);
  app.get('/healthz', async (_req, reply) => {
    const version = await InfluxStore.ping(deps.store.cfg.url, 1000);
    const spool = { depthMessages: deps.spool.depthCount, depthBytes: deps.spool.depthBytes, limitBytes: deps.spool.limitBytes, full: deps.spool.full };
    // Reachable is not enough: until connected (database created, credentials accepted) nothing is stored.
    const connected = deps.store.connected;
    const ok = version !== null && connected && !spool.full;
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'degraded',
      influx: { reachable: version !== null, connected, version, writing: connected && deps.ingest.influxUp },
      spool,
      ...(deps.cluster ? { cluster: deps.cluster.health() } : {}),
    });
  });
  app.get('/metrics', async (_req, reply) => {
    deps.metrics.spoolDepth.set(deps.spool.depthCount);
    deps.metrics.spoolBytes.set(deps.spool.depthBytes);
    deps.cluster?.updateMetrics();
    return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Roles are checked at onRequest, before a body is read: a viewer's 60 MiB upload is refused unread.
  await app.register(async (scope) => {
    scope.addHook('onRequest', auth.registryPolicy);
    await scope.register(registryRoutes, { registry: deps.registry });
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', auth.writesNeed('admin', 'inspector'));
    await scope.register(alertRoutes, { alerts: deps.alerts });
    await scope.register(ruleRoutes, { scheduler: deps.scheduler });
    await scope.register(supervisionRoutes, { supervision: deps.supervision, alerts: deps.alerts });
    await scope.register(exportRoutes, { supervision: deps.supervision });
    await scope.register(creditRoutes, { supervision: deps.supervision });
    const spotOpts = { risk: deps.risk, spotChecks: deps.spotChecks, registry: deps.registry, inspectors: () => deps.accounts.list().filter((u) => u.role === 'inspector' && !u.disabled).map((u) => ({ username: u.username, districts: u.districts })) };
    await scope.register(riskRoutes, spotOpts);
    await scope.register(spotCheckRoutes, spotOpts);
    await scope.register(hazardRoutes, { hazards: deps.hazards });
    await scope.register(notificationRoutes, { notifier: deps.notifier });
    await scope.register(viewRoutes, { views, liveClients: () => live.clients });
  });
  await app.register(orderRoutes, { orders: deps.orders, registry: deps.registry, auth: { readers: auth.requireUser, actors: auth.requireRole('admin', 'inspector'), caller: auth.caller } });
  const live = attachLive(app.server, { alerts: deps.alerts, log: deps.log.child({ part: 'live' }), metrics: deps.metrics, auth });
  app.decorate('live', live);
  app.addHook('preClose', async () => live.close());
  // A user disabled or changed loses the live feed at once, not at the next ping; in a cluster on every node.
  const offEnded = deps.accounts.onSessionsEnded((username) => {
    live.recheckSessions();
    deps.cluster?.bus.publish('sessions-ended', { username });
  });
  const offEndedElsewhere = deps.cluster?.bus.on('sessions-ended', () => live.recheckSessions());
  app.addHook('preClose', async () => (offEnded(), offEndedElsewhere?.()));
  const feeds = startLiveFeeds({ live, views, alerts: deps.alerts, cases: deps.supervision.cases, log: deps.log.child({ part: 'live-feeds' }) });
  app.addHook('preClose', async () => (feeds.stop(), views.close()));
  if (deps.cluster) {
    const unshare = shareLiveState({ bus: deps.cluster.bus, state: views.state, cases: deps.supervision.cases, live, log: deps.log.child({ part: 'live-cluster' }) });
    app.addHook('preClose', async () => unshare());
  }
  await app.register(ingestRoutes, { registry: deps.registry, spool: deps.spool, deadLetters: deps.deadLetters, metrics: deps.metrics, auth });
  await app.register(publicRoutes, {
    registry: deps.registry, scheduler: deps.scheduler, spool: deps.spool, metrics: deps.metrics, auth,
    limits: { perAddress: 5, perElevator: 30, windowMs: 3_600_000 }, ...deps.publicPage,
  });
  await app.register(publicSpotCheckRoutes, { spotChecks: deps.spotChecks }); // 一公开: no sign-in (dashboard/auth.ts open)
  await app.register(staticRoutes); // the web UI at / (dashboard/ui/dist)
  return app;
}
