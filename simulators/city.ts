// A seeded, deterministic city of Shaoyang: maintenance units, elevators, gas
// sites, partners and gateways as plain data, plus the simulator-only facts
// behind them (a unit's first-inspection pass rate, how often it is late,
// how many floors an elevator serves). The same seed and sizes always give
// the same city; only `nextInspectionDue` moves with `today`.
import type { Elevator, GasSite, Gateway, Partner, Unit } from '../registry/schemas.js';
import type { Registry } from '../registry/registry.js';
import { clamp, Rng } from './random.js';
import { addDays, cstDate } from '../domain/time.js';

export const DISTRICTS = ['大祥区', '双清区', '北塔区', '邵东市', '武冈市', '新邵县', '邵阳县', '隆回县'] as const;
const DISTRICT_WEIGHTS = [5, 4, 3, 3, 2, 1.5, 1.5, 2];
const ROADS = ['宝庆路', '敏州路', '红旗路', '邵州路', '西湖路', '东大路', '城南路', '雨溪路', '建设路', '双拥路', '桃花路', '学院路', '五一路', '新华路', '龙山路', '火车站路', '资江路', '百春园路', '人民路', '解放路'];
const PLACES = ['金色家园', '湘中花园', '桃花新城', '资江名苑', '宝庆华府', '城南公园小区', '碧桂园', '中央豪庭', '滨江壹号', '书香名邸', '阳光水岸', '紫薇花园', '恒大名都', '锦绣江南', '东方明珠小区', '丽景园', '世纪城', '翰林苑', '天元小区', '佳和花园'];
const WORDS = ['宏达', '安顺', '鑫源', '恒通', '华信', '永安', '昌盛', '天力', '金峰', '顺达', '嘉禾', '瑞丰', '兴邦', '中联', '宝通', '众成', '康泰', '捷运', '诚信', '远航', '吉祥', '泰安', '蓝天', '长城', '明珠', '新城', '龙腾', '凯旋', '华夏', '天宇'];
const UNIT_SUFFIXES = ['电梯维保有限公司', '电梯工程有限公司', '机电设备安装有限公司', '电梯服务有限公司'];
const HOSPITALS = ['邵阳市中心医院', '邵阳学院附属第一医院', '邵阳市第二人民医院', '邵阳市中医医院', '邵阳市妇幼保健院'];
const MALLS = ['步步高广场', '友阿国际广场', '宝庆商业广场', '万达广场', '新一佳超市', '华府购物中心'];
const HOTELS = ['宝庆大酒店', '邵阳国际酒店', '锦江之星', '华天大酒店', '如家酒店'];
const SCHOOLS = ['邵阳学院', '邵阳市第一中学', '邵阳职业技术学院', '湖南工业职业技术学院邵阳校区'];
const EATERIES = ['米粉店', '土菜馆', '大酒楼', '餐馆', '小厨', '火锅店', '食堂'];

export interface SimUnit extends Unit {
  /** target first-inspection pass rate: 0.75–0.95 for most units, 0.45–0.6 for the poor performers in inspection */
  passRate: number;
  /** 0–1: how often the unit's routine maintenance is late */
  lateness: number;
  /** multiplier of the base complaint rate: 0.25–0.75 for most units, 4–7 for the poor performers in complaints */
  complaintFactor: number;
}

export interface SimElevator extends Elevator {
  nextInspectionDue: string;
  /** top floor served */
  floors: number;
  /** lowest floor served (-2, -1 or 1) */
  lowestFloor: number;
}

export interface SimGasSite extends GasSite {
  /** detector ids within the site */
  detectors: string[];
  gas: 'LPG' | 'natural_gas';
}

export interface City {
  seed: number;
  /** reference date (YYYY-MM-DD, CST) the inspection due dates are relative to */
  today: string;
  units: SimUnit[];
  elevators: SimElevator[];
  gasSites: SimGasSite[];
  partners: Partner[];
  gateways: Gateway[];
  /** partner ids of the inspection institute and the complaint hotline */
  institute: string;
  hotline: string;
}

export interface CityOptions {
  seed: number;
  elevators: number;
  units: number;
  gasSites: number;
  elevatorsPerGateway?: number;
  /** YYYY-MM-DD; default: today in China Standard Time */
  today?: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
export const unitPartnerId = (unitId: string) => `P-${unitId}`;

// About a quarter of the units perform poorly — a low first-inspection pass
// rate, many complaints, or both — and the rest clearly well, so a year's
// interview list names a fifth to a third of them (the city's summoned 24),
// give or take the chance of a small unit's sample.
const POOR_SHARE = 0.22;

function generateUnits(rng: Rng, count: number): SimUnit[] {
  const used = new Set<string>();
  const units: SimUnit[] = [];
  const pr = rng.fork('poor');
  const poor = new Set(pr.shuffle([...Array(count).keys()].map((i) => i + 1)).slice(0, Math.round(count * POOR_SHARE)));
  for (let i = 1; i <= count; i++) {
    let name = '';
    for (let tries = 0; tries < 20 && (!name || used.has(name)); tries++) {
      const place = rng.chance(0.6) ? '邵阳市' : rng.pick(DISTRICTS);
      name = `${place}${rng.pick(WORDS)}${rng.pick(UNIT_SUFFIXES)}`;
    }
    if (used.has(name)) name = `邵阳市${rng.pick(WORDS)}${i}号${rng.pick(UNIT_SUFFIXES)}`;
    used.add(name);
    const late = rng.chance(0.2);
    const lateness = late ? rng.range(0.4, 0.8) : rng.range(0.02, 0.15);
    const weak = poor.has(i) ? pr.weighted(['pass', 'complaints', 'both'] as const, [50, 30, 20]) : null;
    const passRate = weak === 'pass' || weak === 'both' ? pr.range(0.45, 0.6) : pr.range(0.8, 0.95) - 0.05 * lateness;
    const complaintFactor = weak === 'complaints' || weak === 'both' ? pr.range(4, 7) : pr.range(0.25, 0.75);
    units.push({
      id: `MU${pad(i, 3)}`,
      name,
      phone: `0739-${rng.int(5000000, 5999999)}`,
      address: `${rng.pick(DISTRICTS)}${rng.pick(ROADS)}${rng.int(1, 399)}号`,
      passRate: Math.round(passRate * 100) / 100,
      lateness: Math.round(lateness * 100) / 100,
      complaintFactor: Math.round(complaintFactor * 100) / 100,
    });
  }
  return units;
}

interface Building {
  district: string;
  address: string;
  userUnit: string;
  floors: number;
  lowestFloor: number;
  lifts: number;
}

function generateBuilding(rng: Rng): Building {
  const district = rng.weighted(DISTRICTS, DISTRICT_WEIGHTS);
  const street = `${district}${rng.pick(ROADS)}${rng.int(1, 499)}号`;
  const kind = rng.weighted(['residential', 'office', 'mall', 'hospital', 'school', 'hotel'], [70, 10, 7, 5, 3, 5]);
  switch (kind) {
    case 'residential': {
      const place = rng.pick(PLACES);
      return { district, address: `${street}${place}${rng.int(1, 30)}栋`, userUnit: `邵阳市${place}物业管理有限公司`, floors: rng.int(7, 33), lowestFloor: rng.pick([1, 1, -1, -2]), lifts: rng.weighted([1, 2, 3, 4], [3, 5, 1, 1]) };
    }
    case 'office':
      return { district, address: `${street}${rng.pick(WORDS)}大厦`, userUnit: `邵阳市${rng.pick(WORDS)}物业服务有限公司`, floors: rng.int(8, 28), lowestFloor: rng.pick([1, -1, -2]), lifts: rng.int(2, 4) };
    case 'mall': {
      const mall = rng.pick(MALLS);
      return { district, address: `${street}${mall}`, userUnit: `${mall}商业管理有限公司`, floors: rng.int(4, 8), lowestFloor: -1, lifts: rng.int(2, 4) };
    }
    case 'hospital': {
      const h = rng.pick(HOSPITALS);
      return { district, address: `${street}${h}${rng.pick(['门诊楼', '住院部', '医技楼'])}`, userUnit: h, floors: rng.int(6, 22), lowestFloor: rng.pick([1, -1]), lifts: rng.int(2, 4) };
    }
    case 'school': {
      const s = rng.pick(SCHOOLS);
      return { district, address: `${street}${s}${rng.int(1, 12)}号楼`, userUnit: s, floors: rng.int(5, 12), lowestFloor: 1, lifts: rng.int(1, 2) };
    }
    default: {
      const h = rng.pick(HOTELS);
      return { district, address: `${street}${h}`, userUnit: `${h}有限公司`, floors: rng.int(8, 25), lowestFloor: rng.pick([1, -1]), lifts: rng.int(2, 4) };
    }
  }
}

function generateElevators(rng: Rng, count: number, units: SimUnit[], today: string): SimElevator[] {
  // Units differ in size: a few large companies maintain much of the city.
  const unitWeights = units.map(() => rng.range(0.3, 3));
  const elevators: SimElevator[] = [];
  while (elevators.length < count) {
    const b = generateBuilding(rng);
    const unit = rng.weighted(units, unitWeights);
    for (let k = 0; k < b.lifts && elevators.length < count; k++) {
      const n = elevators.length + 1;
      const overdue = rng.chance(0.03);
      const offset = overdue ? -rng.int(1, 90) : rng.int(1, 365);
      elevators.push({
        code: `E${pad(n, 5)}`,
        address: b.lifts > 1 ? `${b.address}${k + 1}号梯` : b.address,
        district: b.district,
        userUnit: b.userUnit,
        maintenanceUnit: unit.id,
        nextInspectionDue: addDays(today, offset),
        maintenanceIntervalDays: 15,
        floors: b.floors,
        lowestFloor: b.lowestFloor,
      });
    }
  }
  return elevators;
}

function generateGasSites(rng: Rng, count: number): SimGasSite[] {
  const sites: SimGasSite[] = [];
  for (let i = 1; i <= count; i++) {
    const district = rng.weighted(DISTRICTS, DISTRICT_WEIGHTS);
    const kind = rng.weighted(['filling_station', 'storage_depot', 'restaurant'] as const, [20, 15, 65]);
    const address = `${district}${rng.pick(ROADS)}${rng.int(1, 599)}号`;
    const word = rng.pick(WORDS);
    const name =
      kind === 'filling_station' ? `邵阳市${word}液化气充装站`
      : kind === 'storage_depot' ? `${district}${word}燃气储配站`
      : `${rng.chance(0.5) ? '老邵阳' : word}${rng.pick(EATERIES)}`;
    const detectors = kind === 'restaurant' ? rng.int(2, 4) : kind === 'filling_station' ? rng.int(4, 8) : rng.int(6, 12);
    sites.push({
      code: `G${pad(i, 4)}`,
      name,
      address,
      district,
      kind,
      detectors: Array.from({ length: detectors }, (_, d) => `D${pad(d + 1, 2)}`),
      gas: kind === 'restaurant' && rng.chance(0.4) ? 'natural_gas' : 'LPG',
    });
  }
  return sites;
}

export function generateCity(opts: CityOptions): City {
  const { seed, elevatorsPerGateway = 4 } = opts;
  const today = opts.today ?? cstDate(Date.now());
  const rng = new Rng(seed);
  const units = generateUnits(rng.fork('units'), Math.max(1, opts.units));
  const elevators = generateElevators(rng.fork('elevators'), opts.elevators, units, today);
  const gasSites = generateGasSites(rng.fork('gas-sites'), opts.gasSites);
  const institute = 'INST01';
  const hotline = 'HOTLINE';
  const partners: Partner[] = [
    { id: institute, kind: 'institute', name: '邵阳市特种设备检验检测所' },
    { id: hotline, kind: 'hotline', name: '邵阳市12345政务服务便民热线' },
    ...units.map((u): Partner => ({ id: unitPartnerId(u.id), kind: 'maintenance_unit', name: u.name, unit: u.id })),
  ];
  const gateways: Gateway[] = [];
  const per = Math.max(1, elevatorsPerGateway);
  const gwWidth = Math.max(4, String(Math.ceil(elevators.length / per)).length);
  for (let i = 0; i * per < elevators.length; i++) {
    const bound = elevators.slice(i * per, (i + 1) * per).map((e) => e.code);
    gateways.push({ id: `GW-E-${pad(i + 1, gwWidth)}`, name: `电梯物联网网关 ${bound[0]}–${bound[bound.length - 1]}`, elevators: bound, gasSites: [] });
  }
  gasSites.forEach((g, i) => gateways.push({ id: `GW-G-${pad(i + 1, 4)}`, name: `燃气监测网关 ${g.name}`, elevators: [], gasSites: [g.code] }));
  return { seed, today, units, elevators, gasSites, partners, gateways, institute, hotline };
}

/** Registry rows of a city (simulator-only fields removed), in registration order. */
export function cityEntities(city: City) {
  return {
    units: city.units.map(({ id, name, phone, address }): Unit => ({ id, name, phone, address })),
    elevators: city.elevators.map(({ code, address, district, userUnit, maintenanceUnit, nextInspectionDue, maintenanceIntervalDays }): Elevator => (
      { code, address, district, userUnit, maintenanceUnit, nextInspectionDue, maintenanceIntervalDays })),
    'gas-sites': city.gasSites.map(({ code, name, address, district, kind }): GasSite => ({ code, name, address, district, kind })),
    partners: city.partners,
    gateways: city.gateways,
  };
}

/** Ids that get a secret: every gateway and partner. */
export const principalIds = (city: City): string[] => [...city.gateways.map((g) => g.id), ...city.partners.map((p) => p.id)];

/** Puts the whole city into a registry and issues secrets; returns id → secret. */
export function registerCity(registry: Registry, city: City): Map<string, string> {
  for (const [name, items] of Object.entries(cityEntities(city)) as [keyof ReturnType<typeof cityEntities>, unknown[]][]) {
    const errors = registry.collection(name).putMany(items.map((input, row) => ({ row, input })));
    if (errors.length) throw new Error(`registering ${name} failed for ${errors.length} rows, e.g. row ${errors[0]!.row}: ${errors[0]!.error}`);
  }
  return registry.issueSecrets(principalIds(city));
}

/** The same over the HTTP API of a running service (admin token). */
export async function registerCityOverHttp(httpUrl: string, adminToken: string, city: City): Promise<Map<string, string>> {
  const base = httpUrl.replace(/\/$/, '');
  const auth = { authorization: `Bearer ${adminToken}` };
  for (const [name, items] of Object.entries(cityEntities(city))) {
    // Chunks well under the server's body limit.
    for (let i = 0; i < items.length; i += 1000) {
      const body = items.slice(i, i + 1000).map((x) => JSON.stringify(x)).join('\n');
      const res = await fetch(`${base}/api/v1/${name}/import`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body, signal: AbortSignal.timeout(120_000) });
      const text = await res.text();
      if (!res.ok) throw new Error(`POST /api/v1/${name}/import: HTTP ${res.status}: ${text.slice(0, 500)}`);
      const r = JSON.parse(text) as { failed: number; errors: { row: number; error: string }[] };
      if (r.failed) throw new Error(`importing ${name}: ${r.failed} rows failed, e.g. row ${r.errors[0]?.row}: ${r.errors[0]?.error}`);
    }
  }
  const secrets = new Map<string, string>();
  const ids = [...city.gateways.map((g) => ['gateways', g.id] as const), ...city.partners.map((p) => ['partners', p.id] as const)];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const [kind, id] = ids[next++]!;
      const res = await fetch(`${base}/api/v1/${kind}/${encodeURIComponent(id)}/secret`, { method: 'POST', headers: auth, signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`POST /api/v1/${kind}/${id}/secret: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
      secrets.set(id, ((await res.json()) as { secret: string }).secret);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return new Map(ids.map(([, id]) => [id, secrets.get(id)!]));
}
