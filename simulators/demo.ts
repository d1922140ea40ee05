// `service/main.ts --demo`: fills an empty service with a simulated city of
// Shaoyang, a year of partner records, and live gateway traffic.
//
// First start (no elevators registered): generate the city (DEMO_ELEVATORS,
// DEMO_UNITS, DEMO_GAS_SITES, DEMO_SEED), register it in-process, save the
// credentials to DATA_DIR/demo-secrets.json (mode 0600), the city's
// parameters to DATA_DIR/demo-secrets.city.json and which equipment each
// gateway speaks for to DATA_DIR/demo-gateways.json; post through the HTTP
// ingest API the last DEMO_HISTORY_HOURS (default 24) of elevator status and
// gas readings (about DEMO_HISTORY_STATUS = 60,000 status messages in all,
// so the charts have history), then a year of records, faults and
// entrapments with their rescues; run the scheduled rules and the previous
// year's interview list over it; then run live gateways, carrying on from
// the history's states. The recent history goes first: the year's events
// are older than it, so they are no sign of life and raise no offline
// alerts; when the year took more than half of OFFLINE_TIMEOUT_S, a last
// sample per piece of equipment just before the live gateways start
// bridges that time. Restart: load the saved files, regenerate the same
// city and just run live (finishing the backfill first if it was
// interrupted; re-sent records are duplicates and change nothing).
//
// DEMO_MQTT_URLS (mqtt://host:port, comma-separated): other brokers (the
// other nodes of a cluster, `npm run cluster`) the live gateways and partners
// are spread over, round-robin with this service's own; the backfill goes
// to this service only.
//
// Other settings: DEMO_RATE (status messages/s, default 200),
// DEMO_EVENT_BOOST (faults, entrapments and gas leaks × this, default 30),
// DEMO_RECORD_SPEED (partner records this many times faster than life, default 200),
// DEMO_OUTAGE_MIN (about every N minutes a gateway goes silent for 8 minutes,
// so its equipment shows as offline; default 4, 0 = never),
// DEMO_RESCUE_SPEED (default 1 = real time): every live entrapment is followed,
// at its event times, by the maintenance unit's rescue records — dispatched
// within 0.5–4 min, arrived usually 5–25 min later and about 12 % of the time
// more than 30 min after trapping (escalated, red on the dashboard), released
// 2–12 min after arrival (a few false alarms) — and by the gateway's `cleared`
// event shortly after, the same timing model as the backfill's rescues and
// deterministic for DEMO_SEED; DEMO_RESCUE_SPEED=N plays that timeline N times
// faster (a late arrival then only escalates if ENTRAPMENT_ARRIVAL_S is
// scaled down too, e.g. 1800/N).
//
// Notifications: the demo registers one DingTalk robot per district (the
// district's inspectors' group chat) and a city-level section chief at
// contact level 1, all pointing at a local stand-in robot
// (DEMO_WEBHOOK_PORT, default 8090) that logs every message it receives in
// DingTalk's markdown format. Webhooks may not reach loopback, so main.ts
// adds 127.0.0.1:DEMO_WEBHOOK_PORT to NOTIFY_ALLOW_HOSTS for the demo.
import { seedDemoCredit } from './demo-credit.js';
import { seedDemoHazards } from './demo-hazards.js';
import { seedDemoOrders } from './demo-orders.js';
import { seedDemoPublic } from './demo-public.js';
import { seedDemoSpotCheck } from './demo-risk.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Service } from '../service/service.js';
import { backfillRecords, postRecords, type PostProgress } from './backfill.js';
import { generateCity, registerCity, type City, type CityOptions } from './city.js';
import { TelemetryHistory, type EquipmentStates } from './history.js';
import { runGateways, type RunningGateways, type SimLog } from './gateways.js';
import { cstDate, cstMidnight, DAY_MS, HOUR_MS } from '../domain/time.js';
import { previousYear } from '../supervision/interview.js';
import { RULE_NAMES } from '../alerts/scheduled.js';
import { DISTRICTS } from './city.js';
import { startWebhookSink } from './webhook-sink.js';

/**
 * Credentials are a plain JSON map { id: secret } (mode 0600). Beside it,
 * `<name>.city.json` says how to regenerate the same city, so `sim live
 * --secrets data/demo-secrets.json` needs no more options.
 */
export interface CityFile extends Required<CityOptions> {
  backfillDone?: boolean;
}

export const cityFileOf = (secretsPath: string): string => `${secretsPath.replace(/\.json$/, '')}.city.json`;

export function readSecrets(path: string): { secrets: Record<string, string>; city: CityFile | undefined } {
  const secrets = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  const cityPath = cityFileOf(path);
  const city = existsSync(cityPath) ? (JSON.parse(readFileSync(cityPath, 'utf8')) as CityFile) : undefined;
  return { secrets, city };
}

export function writeSecrets(path: string, secrets: ReadonlyMap<string, string> | Record<string, string>, city: CityFile): void {
  const map = secrets instanceof Map ? Object.fromEntries(secrets) : secrets;
  writeFileSync(path, `${JSON.stringify(map, null, 1)}\n`, { mode: 0o600 });
  writeCityFile(path, city);
}

function writeCityFile(secretsPath: string, city: CityFile): void {
  writeFileSync(cityFileOf(secretsPath), `${JSON.stringify(city, null, 1)}\n`);
}

/** Which elevators and gas sites each gateway speaks for (no secrets): { "GW-E-0001": { "elevators": ["E00001", …], "gasSites": [] }, … }. */
export function writeGatewayBindings(path: string, city: City): void {
  const bindings = Object.fromEntries(city.gateways.map((g) => [g.id, { elevators: g.elevators, gasSites: g.gasSites }]));
  writeFileSync(path, `${JSON.stringify(bindings, null, 1)}\n`);
}

function envInt(name: string, def: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw}: expected a number ≥ ${min}`);
  return n;
}

/**
 * Dashboard sign-ins for the demo: on a service without users, an admin, an
 * inspector of the first district and a viewer, each with a random password
 * saved to DATA_DIR/demo-logins.json (mode 0600) and logged once. There is no
 * default password; a production service gets its first admin from
 * `npm run user -- create`.
 */
export async function demoLogins(service: Service, log: Logger): Promise<void> {
  const path = join(service.config.dataDir, 'demo-logins.json');
  if (service.accounts.count === 0) {
    const logins = [
      { username: 'demo-admin', displayName: '演示管理员', role: 'admin' as const },
      { username: 'demo-inspector', displayName: `${DISTRICTS[0]}监察员`, role: 'inspector' as const, districts: [DISTRICTS[0]!] },
      { username: 'demo-viewer', displayName: '值班观察员', role: 'viewer' as const },
    ].map((u) => ({ ...u, password: randomBytes(8).toString('hex') }));
    for (const u of logins) await service.accounts.create(u);
    writeFileSync(path, `${JSON.stringify(logins.map(({ username, password, role, districts }) => ({ username, password, role, districts })), null, 1)}\n`, { mode: 0o600 });
  }
  if (!existsSync(path)) return;
  const logins = JSON.parse(readFileSync(path, 'utf8')) as { username: string; password: string; role: string }[];
  log.info({ dashboard: service.httpUrl, logins: path }, `dashboard: ${service.httpUrl}/ — sign in as ${logins.map((l) => `${l.username} / ${l.password} (${l.role})`).join(', ')}`);
}

export async function runDemo(service: Service, log: Logger): Promise<void> {
  await demoLogins(service, log);
  const path = join(service.config.dataDir, 'demo-secrets.json');
  let params: CityFile;
  let secrets: Record<string, string>;
  if (service.registry.elevators.items.size === 0) {
    params = {
      seed: envInt('DEMO_SEED', 1), elevators: envInt('DEMO_ELEVATORS', 2000, 1), units: envInt('DEMO_UNITS', 40, 1),
      gasSites: envInt('DEMO_GAS_SITES', 60), elevatorsPerGateway: 4, today: cstDate(Date.now()), backfillDone: false,
    };
    const city = generateCity(params);
    secrets = Object.fromEntries(registerCity(service.registry, city));
    writeSecrets(path, secrets, params);
    log.info({ elevators: city.elevators.length, units: city.units.length, gasSites: city.gasSites.length, gateways: city.gateways.length, partners: city.partners.length, secrets: path }, 'demo city registered');
  } else {
    const read = existsSync(path) ? readSecrets(path) : undefined;
    if (!read?.city) {
      log.warn({ path, city: cityFileOf(path) }, 'the registry already has elevators but not the demo city\'s files; not running the demo gateways');
      return;
    }
    ({ secrets, city: params } = read as { secrets: Record<string, string>; city: CityFile });
    log.info({ elevators: service.registry.elevators.items.size, secrets: path }, 'demo city already registered; resuming');
  }
  const city = generateCity(params);
  const bindings = join(service.config.dataDir, 'demo-gateways.json');
  writeGatewayBindings(bindings, city);

  let states: EquipmentStates | undefined;
  if (!params.backfillDone) {
    const to = Date.now();
    const hours = envInt('DEMO_HISTORY_HOURS', 24, 1);
    const { history } = await postHistory(service.httpUrl, service.adminToken, city, { seed: params.seed, from: to - hours * HOUR_MS, to, statusBudget: envInt('DEMO_HISTORY_STATUS', 60_000, 1) }, log);
    // From 1 January of the previous year: the default interview list (the previous calendar year) has a full year of evidence.
    const from = Math.min(to - 365 * 86_400_000, cstMidnight(previousYear(to).from));
    // Before the live gateways: live alerts would otherwise absorb or hide the year's older events of the same elevators.
    await postYear(service.httpUrl, service.adminToken, city, { seed: params.seed, from, to }, log);
    params.backfillDone = true;
    writeCityFile(path, params);
    // The year's records are stored: run the scheduled rules now rather than at 02:00, so the late units' elevators show as overdue.
    await service.ingest.drained(120_000);
    await runScheduledRules(service, log);
    await generateInterviewList(service, log);
    // When the year took a while, one more sample of everything, so no equipment looks silent before the live gateways take over.
    if (Date.now() - to > (service.config.OFFLINE_TIMEOUT_S * 1000) / 2) {
      const t0 = Date.now();
      report(log, 'history top-up', await postRecords(service.httpUrl, service.adminToken, history.until(Date.now())), t0);
    }
    states = history.states;
  }

  await registerDemoContacts(service, log);
  await seedSupervision(service, params.seed, log);

  const outageMin = envInt('DEMO_OUTAGE_MIN', 4);
  const live: RunningGateways = await runGateways({
    mqttUrl: `mqtt://127.0.0.1:${service.mqttPort}`,
    moreMqttUrls: (process.env.DEMO_MQTT_URLS ?? '').split(',').map((u) => u.trim()).filter(Boolean),
    city,
    secrets,
    ratePerSecond: envInt('DEMO_RATE', 200),
    seed: params.seed,
    log,
    eventBoost: envInt('DEMO_EVENT_BOOST', 30),
    recordSpeed: envInt('DEMO_RECORD_SPEED', 200, 1),
    rescueSpeed: envInt('DEMO_RESCUE_SPEED', 1, 1),
    summaryEveryMs: 10_000,
    outages: outageMin > 0 ? { everyMs: outageMin * 60_000, durationMs: 8 * 60_000 } : undefined,
    states,
  });
  // Stop our clients as the service shuts down, so they do not try to reconnect.
  const stop = () => void live.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  log.info({ rate: envInt('DEMO_RATE', 200), gateways: bindings }, 'demo gateways running');
}

/**
 * The supervision work of the demo city (issue 13): hazards, orders in every state, one spot-check draw, the credit
 * lists of the previous year, the public page. Each step is idempotent (a restarted demo adds nothing) and a
 * failed one is logged, never the end of the demo.
 */
async function seedSupervision(service: Service, seed: number, log: Logger): Promise<void> {
  const steps: [string, () => Promise<unknown>][] = [
    ['hazards', async () => {
      await seedDemoHazards(service, log, { seed });
      await service.ingest.drained(60_000);
    }],
    // orders cite some of the hazards as their evidence
    ['orders', () => seedDemoOrders(service, log, service.hazards.openHazards().slice(0, 6).map((h) => h.id))],
    ['spot check', () => seedDemoSpotCheck(service, log, seed)],
    ['credit lists', () => seedDemoCredit(service, log)],
    ['public page', () => seedDemoPublic(service, log)],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (err) {
      log.error({ err }, `demo ${what} could not be seeded`);
    }
  }
}

function report(log: SimLog, what: string, p: PostProgress, since: number): void {
  if (p.rejected) log.warn({ rejected: p.rejected, examples: p.rejections }, `some ${what} messages were rejected`);
  log.info({ objects: p.objects, accepted: p.accepted, rejected: p.rejected, requests: p.requests, seconds: Math.round((Date.now() - since) / 1000) }, `${what} done`);
}

/**
 * The recent telemetry (status and gas readings over [from, to)) over the
 * HTTP ingest API. Post it before the year (postYear): the year's events are
 * older, so they are then no sign of life and raise no offline alerts.
 */
export async function postHistory(
  httpUrl: string, token: string, city: City, o: { seed: number; from: number; to: number; statusBudget?: number }, log: SimLog,
): Promise<{ history: TelemetryHistory; rejected: number }> {
  const history = new TelemetryHistory(city, { seed: o.seed, from: o.from, statusBudget: o.statusBudget });
  const t0 = Date.now();
  log.info({ hours: (o.to - o.from) / HOUR_MS, statusEveryMin: history.statusStepMs(o.to) / 60_000 }, 'backfilling recent elevator status and gas readings (chart history)');
  const h = await postRecords(httpUrl, token, history.until(o.to));
  report(log, 'history', h, t0);
  return { history, rejected: h.rejected };
}

/** The year's records, faults and entrapments over [from, to), periodic inspections from 400 days earlier (the passes that set the due dates); returns how many objects were rejected. */
export async function postYear(httpUrl: string, token: string, city: City, o: { seed: number; from: number; to: number }, log: SimLog): Promise<number> {
  log.info({ from: new Date(o.from).toISOString(), to: new Date(o.to).toISOString() }, 'backfilling maintenance, inspection, complaint and rescue records, faults and entrapments');
  let lastLog = 0;
  const t0 = Date.now();
  const p = await postRecords(httpUrl, token, backfillRecords(city, { seed: o.seed, from: o.from, to: o.to, inspectionsFrom: o.from - 400 * DAY_MS }), {
    onProgress: (pr) => {
      if (Date.now() - lastLog < 2000) return;
      lastLog = Date.now();
      log.info({ objects: pr.objects, accepted: pr.accepted, rejected: pr.rejected, upTo: cstDate(pr.lastTs), done: `${Math.round(((pr.lastTs - o.from) / (o.to - o.from)) * 100)}%` }, 'backfill');
    },
  });
  report(log, 'backfill', p, t0);
  return p.rejected;
}

/** The inspectors' group chats, as DingTalk robots pointing at a local stand-in that logs what it is sent. */
async function registerDemoContacts(service: Service, log: Logger): Promise<void> {
  const port = envInt('DEMO_WEBHOOK_PORT', 8090);
  try {
    const sink = await startWebhookSink(port);
    sink.onReceive = (r) => {
      const md = (r.body as { markdown?: { title?: string; text?: string } }).markdown;
      log.info({ robot: r.path, title: md?.title, text: md?.text }, 'DingTalk robot received');
    };
    const contacts = [
      ...DISTRICTS.map((d, i) => ({ id: `dingtalk-${i + 1}`, name: `${d}特种设备监管群`, districts: [d], minSeverity: 'major', level: 0, format: 'dingtalk', webhook: `${sink.url}/robot/send?access_token=demo-${i + 1}`, secret: `SECdemo${i + 1}` })),
      { id: 'chief', name: '市局特种设备安全监察科科长', phone: '13900000000', districts: [], minSeverity: 'critical', level: 1, format: 'dingtalk', webhook: `${sink.url}/robot/send?access_token=chief` },
    ];
    for (const c of contacts) if (!service.registry.contacts.get(c.id)) service.registry.contacts.put(c);
    log.info({ robot: sink.url, contacts: contacts.length }, 'demo notification contacts: DingTalk robots (local stand-in) per district and a section chief');
  } catch (e) {
    log.warn({ port, err: (e as Error).message }, 'demo webhook receiver could not start (set DEMO_WEBHOOK_PORT); notifications will be retried and logged as failed');
  }
}

/** The previous year's interview list, with draft cases, as the monitoring center would start the year. */
async function generateInterviewList(service: Service, log: Logger): Promise<void> {
  try {
    const list = await service.supervision.generate(previousYear(), 'api');
    const cases = service.supervision.cases.openFor(list, 'demo');
    log.info({ id: list.id, period: `${list.periodFrom}..${list.periodTo}`, considered: list.considered, listed: list.units.map((u) => `${u.unit} ${u.reasons.map((r) => r.criterion).join('+')}`), cases: cases.length }, 'interview list (约谈名单) generated for the demo city');
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'could not generate the interview list');
  }
}

/** Runs every scheduled rule once over the API, as an operator would. */
async function runScheduledRules(service: Service, log: Logger): Promise<void> {
  for (const rule of RULE_NAMES) {
    try {
      const res = await fetch(`${service.httpUrl}/api/v1/rules/${rule}/run`, { method: 'POST', headers: { authorization: `Bearer ${service.adminToken}` }, signal: AbortSignal.timeout(300_000) });
      const body = (await res.json()) as { raised?: number; stillActive?: number; durationMs?: number; error?: string };
      if (res.ok) log.info({ rule, raised: body.raised, active: body.stillActive, ms: body.durationMs }, 'scheduled rule run over the demo city');
      else log.warn({ rule, status: res.status, error: body.error }, 'scheduled rule run failed');
    } catch (e) {
      log.warn({ rule, err: (e as Error).message }, 'could not run a scheduled rule');
    }
  }
}
