// Simulator command line: `npm run sim -- <command> [options]`
// (or `node dist/simulators/cli.js <command> …` after `npm run build`).
//
//   city      generate a city and register it over the HTTP API of a running service
//             --elevators N --units N --gas-sites N --seed S --url http://… --token T --out secrets.json
//   backfill  a year of maintenance/inspection/complaint/rescue records and the gateways' faults and entrapments for the same city
//             --seed S --elevators N --units N [--gas-sites N] (or --secrets f.json) [--from DATE --to DATE]
//             --out file.ndjson (format: see backfill.ts), or --url http://… --token T to post them
//   live      regenerate the city and run its gateways and partners against the broker
//             --url mqtt://… --secrets secrets.json --rate R [--seed S --elevators N …]
//             [--duration SECONDS] [--event-boost X] [--record-speed X] [--rescue-speed X] [--no-partners]
//
// `city --out f.json` writes { id: secret } to f.json and the city's parameters to
// f.city.json; later commands given --secrets f.json default to those parameters.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { backfillRecords, postRecords, writeNdjson } from './backfill.js';
import { generateCity, registerCityOverHttp } from './city.js';
import { readSecrets, writeSecrets, type CityFile } from './demo.js';
import { runGateways } from './gateways.js';
import { cstDate, cstMidnight } from '../domain/time.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { part: 'sim' } });

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    elevators: { type: 'string' }, units: { type: 'string' }, 'gas-sites': { type: 'string' }, seed: { type: 'string' },
    'per-gateway': { type: 'string' }, today: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' },
    out: { type: 'string' }, secrets: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' },
    from: { type: 'string' }, to: { type: 'string' }, 'event-boost': { type: 'string' }, 'record-speed': { type: 'string' },
    'rescue-speed': { type: 'string' },
    'no-partners': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  },
});

function fail(msg: string): never {
  console.error(msg);
  process.exit(2);
}

function num(name: keyof typeof values, def?: number): number {
  const raw = values[name];
  if (raw === undefined) return def ?? fail(`--${name} is required`);
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} ${String(raw)}: expected a non-negative number`);
  return n;
}

const need = (name: 'url' | 'token' | 'out' | 'secrets'): string => values[name] ?? fail(`--${name} is required`);

function cityParams(saved?: CityFile): CityFile {
  return {
    seed: num('seed', saved?.seed ?? 1),
    elevators: num('elevators', saved?.elevators ?? 2000),
    units: num('units', saved?.units ?? 40),
    gasSites: num('gas-sites', saved?.gasSites ?? 60),
    elevatorsPerGateway: num('per-gateway', saved?.elevatorsPerGateway ?? 4),
    today: values.today ?? saved?.today ?? cstDate(Date.now()),
  };
}

const date = (s: string | undefined, def: number): number => (s === undefined ? def : /^\d{4}-\d{2}-\d{2}$/.test(s) ? cstMidnight(s) : Date.parse(s));

async function main(): Promise<void> {
  const cmd = positionals[0];
  if (values.help || !cmd) {
    console.log('usage: sim city|backfill|live [options]  (see the top of simulators/cli.ts)');
    return;
  }
  if (cmd === 'city') {
    const params = cityParams();
    const city = generateCity(params);
    const out = need('out');
    const secrets = await registerCityOverHttp(need('url'), need('token'), city);
    writeSecrets(out, secrets, params);
    log.info({ elevators: city.elevators.length, units: city.units.length, gasSites: city.gasSites.length, gateways: city.gateways.length, partners: city.partners.length, out }, 'city registered');
  } else if (cmd === 'backfill') {
    const params = cityParams(values.secrets ? readSecrets(values.secrets).city : undefined);
    const city = generateCity(params);
    const to = date(values.to, Date.now());
    const from = date(values.from, to - 365 * 86_400_000);
    const records = backfillRecords(city, { seed: params.seed, from, to });
    if (values.url) {
      const p = await postRecords(values.url, need('token'), records, { onProgress: (x) => x.requests % 20 === 0 && log.info({ objects: x.objects, upTo: cstDate(x.lastTs) }, 'posting') });
      log.info({ objects: p.objects, accepted: p.accepted, rejected: p.rejected, examples: p.rejections }, 'backfill posted');
    } else {
      const out = need('out');
      const n = await writeNdjson(out, records);
      log.info({ records: n, out, from: new Date(from).toISOString(), to: new Date(to).toISOString() }, 'backfill written');
    }
  } else if (cmd === 'live') {
    const file = readSecrets(need('secrets'));
    const params = cityParams(file.city);
    const live = await runGateways({
      mqttUrl: values.url ?? 'mqtt://127.0.0.1:1883',
      city: generateCity(params),
      secrets: file.secrets,
      ratePerSecond: num('rate', 200),
      seed: params.seed,
      log,
      durationMs: values.duration === undefined ? undefined : num('duration') * 1000,
      eventBoost: num('event-boost', 1),
      recordSpeed: num('record-speed', 50),
      rescueSpeed: num('rescue-speed', 1),
      partners: !values['no-partners'],
    });
    process.once('SIGINT', () => void live.stop());
    process.once('SIGTERM', () => void live.stop());
    await live.done;
  } else {
    fail(`unknown command ${cmd}; expected city, backfill or live`);
  }
}

main().catch((e) => {
  log.error({ err: e }, 'simulator failed');
  process.exit(1);
});
