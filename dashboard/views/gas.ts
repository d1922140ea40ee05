// Gas sites: the list, one site's detectors with their latest %LEL, its
// series and cylinder fillings (InfluxDB), with alerts from the alert store.
import type { Page } from '../../registry/registry.js';
import type { GasSite } from '../../registry/schemas.js';
import type { EquipmentState } from './equipment-state.js';
import {
  activeBySubject, bool, fromInflux, groupTime, lit, onlineOf, paginate, readingFromRow, rowOf, seriesInterval, sortBy, ViewError,
  type ActiveSummary, type Scope, type ViewsDeps,
} from './common.js';
import type { Severity } from '../../domain/alerts.js';

export interface GasSiteItem {
  code: string;
  name: string;
  address: string;
  district: string;
  kind: string;
  online: boolean | null;
  lastSeenAt: number | null;
  detectors: number;
  maxLel: number | null;
  activeAlerts: number;
  worstSeverity: Severity | null;
}

export interface GasSiteQuery {
  district?: string | undefined;
  kind?: string | undefined;
  q?: string | undefined;
  online?: 'true' | 'false' | 'never' | undefined;
  alerts?: boolean | undefined;
  page: number;
  pageSize: number;
  sort: string;
}

export const GAS_SITE_SORTS = ['code', 'name', 'district', 'lastSeenAt', 'activeAlerts', 'maxLel'] as const;

export class GasViews {
  constructor(private readonly deps: ViewsDeps, private readonly state: EquipmentState) {}

  gasSiteItem(g: GasSite, active?: ActiveSummary): GasSiteItem {
    const det = this.state.readings.get(g.code);
    let maxLel: number | null = null;
    for (const r of det?.values() ?? []) maxLel = maxLel === null ? r.lel : Math.max(maxLel, r.lel);
    return {
      code: g.code, name: g.name, address: g.address, district: g.district, kind: g.kind ?? 'other',
      ...onlineOf(this.deps.views.liveness, 'gas_site', g.code), detectors: det?.size ?? 0, maxLel, activeAlerts: active?.count ?? 0, worstSeverity: active?.worst ?? null,
    };
  }

  gasSites(scope: Scope, q: GasSiteQuery): Page<GasSiteItem> {
    const active = activeBySubject(this.deps.alerts);
    const needle = q.q?.toLowerCase();
    const items: GasSiteItem[] = [];
    for (const g of this.deps.registry.gasSites.items.values()) {
      if (!scope(g.district)) continue;
      if (q.district && g.district !== q.district) continue;
      if (q.kind && g.kind !== q.kind) continue;
      if (needle && ![g.code, g.name, g.address].some((s) => s.toLowerCase().includes(needle))) continue;
      const it = this.gasSiteItem(g, active.get(`gas_site:${g.code}`));
      if (q.online && (q.online === 'never' ? it.online !== null : it.online !== (q.online === 'true'))) continue;
      if (q.alerts && it.activeAlerts === 0) continue;
      items.push(it);
    }
    const field = q.sort.replace(/^-/, '');
    const get: Record<string, (i: GasSiteItem) => string | number | null> = {
      code: (i) => i.code, name: (i) => i.name, district: (i) => i.district, lastSeenAt: (i) => i.lastSeenAt, activeAlerts: (i) => i.activeAlerts, maxLel: (i) => i.maxLel,
    };
    return paginate(sortBy(items, q.sort, get[field] ?? get.code!), q.page, q.pageSize);
  }

  private siteInScope(scope: Scope, code: string): GasSite {
    const g = this.deps.registry.gasSites.get(code);
    if (!g || !scope(g.district)) throw new ViewError(`gas site ${code} not found (or not in your districts)`, 404);
    return g;
  }

  async gasSite(scope: Scope, code: string) {
    const g = this.siteInScope(scope, code);
    const { gasLevel1Lel: level1, gasLevel2Lel: level2 } = this.deps.views;
    const latest = new Map(this.state.readings.get(code) ?? []);
    try {
      // Detectors not heard from since start-up: their newest reading in InfluxDB.
      const series = await this.deps.store.query(`SELECT * FROM "gas_reading" WHERE "site" = ${lit(code)} AND time > now() - 30d GROUP BY "detector" ORDER BY time DESC LIMIT 1`);
      for (const s of series) {
        const d = s.tags?.detector;
        const row = s.values[0];
        if (!d || !row) continue;
        const r = readingFromRow(d, rowOf(s, row));
        const prev = latest.get(d);
        if (!prev || prev.ts < r.ts) latest.set(d, r);
      }
    } catch (err) {
      this.deps.log.debug({ err }, 'gas site page: InfluxDB query failed; detectors from memory only');
    }
    const openAlerts = this.deps.alerts.unresolvedOf('gas_site', code);
    const detectors = [...latest.values()]
      .sort((a, b) => (a.detector < b.detector ? -1 : 1))
      .map((r) => ({
        detector: r.detector, lel: r.lel, gas: r.gas ?? null, pressureMPa: r.pressureMPa ?? null, temperatureC: r.temperatureC ?? null, at: r.ts,
        level: r.lel >= level2 ? 2 : r.lel >= level1 ? 1 : 0,
        alertId: openAlerts.find((a) => a.type === 'gas_leak' && a.subject === `${code}:${r.detector}`)?.id ?? null,
      }));
    return {
      site: { code: g.code, name: g.name, address: g.address, district: g.district, kind: g.kind ?? 'other' },
      state: onlineOf(this.deps.views.liveness, 'gas_site', code),
      thresholds: { level1, level2 },
      detectors,
      openAlerts,
    };
  }

  async gasSeries(scope: Scope, code: string, range: { from: number; to: number }) {
    this.siteInScope(scope, code);
    const intervalMs = seriesInterval(range.from, range.to);
    const series = await this.influxSeries(`SELECT mean("lel") AS "lel", max("lel") AS "lelMax" FROM "gas_reading"
      WHERE "site" = ${lit(code)} AND time >= ${range.from}ms AND time < ${range.to}ms GROUP BY ${groupTime(intervalMs)}, "detector" fill(none)`);
    const detectors = series
      .map((s) => ({
        detector: s.tags?.detector ?? '',
        points: s.values.map((v) => {
          const r = rowOf(s, v);
          return { t: Number(r.time), lel: r.lel == null ? null : Math.round(Number(r.lel) * 100) / 100, lelMax: r.lelMax == null ? null : Number(r.lelMax) };
        }),
      }))
      .sort((a, b) => (a.detector < b.detector ? -1 : 1));
    return { code, from: range.from, to: range.to, intervalMs, detectors };
  }

  async fillings(scope: Scope, code: string, q: { violations: boolean; from: number; to: number; page: number; pageSize: number }) {
    this.siteInScope(scope, code);
    const where = `"site" = ${lit(code)} AND time >= ${q.from}ms AND time < ${q.to}ms${q.violations ? ' AND ("inspection_overdue" = true OR "scrap_overdue" = true)' : ''}`;
    const [countRow] = await this.influx(`SELECT count("cylinder") AS "n" FROM "cylinder_filling" WHERE ${where}`);
    const rows = await this.influx(`SELECT * FROM "cylinder_filling" WHERE ${where} ORDER BY time DESC LIMIT ${q.pageSize} OFFSET ${(q.page - 1) * q.pageSize}`);
    const str = (v: unknown) => (v == null ? null : String(v));
    return {
      items: rows.map((r) => ({
        at: Number(r.time), id: String(r.id ?? ''), cylinder: String(r.cylinder ?? ''), medium: str(r.medium), manufactured: str(r.manufactured),
        nextInspectionDue: str(r.next_inspection_due), scrapDue: str(r.scrap_due), netKg: r.net_kg == null ? null : Number(r.net_kg),
        station: str(r.station), operator: str(r.operator), inspectionOverdue: bool(r.inspection_overdue), scrapOverdue: bool(r.scrap_overdue),
        violation: bool(r.inspection_overdue) || bool(r.scrap_overdue),
      })),
      total: Number(countRow?.n ?? 0), page: q.page, pageSize: q.pageSize, from: q.from, to: q.to,
    };
  }


  private influxSeries(q: string) {
    return fromInflux(this.deps.store.query(q));
  }

  private influx(q: string): Promise<Record<string, unknown>[]> {
    return fromInflux(this.deps.store.rows(q));
  }
}
