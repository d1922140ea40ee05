// Elevators: the list (filter, search, sort, page over the registry in
// memory), one elevator's page and its time series. The registry, the latest
// status and liveness are in memory; alerts, facts, records and rescue
// timings come from their owners' methods.
import type { Status } from '../../domain/messages.js';
import { maintenanceOverdue, inspectionOverdue } from '../../alerts/rules/overdue.js';
import type { Page } from '../../registry/registry.js';
import type { Elevator } from '../../registry/schemas.js';
import type { EquipmentState } from './equipment-state.js';
import {
  activeBySubject, fromInflux, groupTime, lit, onlineOf, paginate, seriesInterval, sortBy, statusFromRow, ViewError,
  type ActiveSummary, type EquipmentKind, type Scope, type ViewsDeps,
} from './common.js';
import type { Severity } from '../../domain/alerts.js';

export interface ElevatorItem {
  code: string;
  address: string;
  district: string;
  userUnit: string;
  maintenanceUnit: string;
  maintenanceUnitName: string | null;
  nextInspectionDue: string | null;
  maintenanceIntervalDays: number;
  online: boolean | null;
  lastSeenAt: number | null;
  serviceMode: string | null;
  floor: number | null;
  statusAt: number | null;
  activeAlerts: number;
  worstSeverity: Severity | null;
  overdueMaintenance: boolean;
  overdueInspection: boolean;
}

export interface ElevatorQuery {
  district?: string | undefined;
  unit?: string | undefined;
  q?: string | undefined;
  online?: 'true' | 'false' | 'never' | undefined;
  serviceMode?: string | undefined;
  overdue?: 'maintenance' | 'inspection' | 'any' | undefined;
  alerts?: boolean | undefined;
  page: number;
  pageSize: number;
  sort: string;
}

export const ELEVATOR_SORTS = ['code', 'district', 'unit', 'address', 'lastSeenAt', 'activeAlerts', 'serviceMode'] as const;

/** A live `equipment` frame item. */
export interface EquipmentFrameItem {
  code: string;
  kind: EquipmentKind;
  district: string;
  online: boolean | null;
  lastSeenAt: number | null;
  serviceMode?: string | null;
  floor?: number | null;
  statusAt?: number | null;
}

export class ElevatorViews {
  constructor(private readonly deps: ViewsDeps, private readonly state: EquipmentState) {}

  elevatorItem(e: Elevator, active?: ActiveSummary): ElevatorItem {
    const st = this.state.status.get(e.code);
    return {
      code: e.code, address: e.address, district: e.district, userUnit: e.userUnit, maintenanceUnit: e.maintenanceUnit,
      maintenanceUnitName: this.deps.registry.units.get(e.maintenanceUnit)?.name ?? null, nextInspectionDue: e.nextInspectionDue ?? null,
      maintenanceIntervalDays: e.maintenanceIntervalDays ?? 15,
      ...onlineOf(this.deps.views.liveness, 'elevator', e.code),
      serviceMode: st?.serviceMode ?? null, floor: st?.floor ?? null, statusAt: st?.ts ?? null,
      activeAlerts: active?.count ?? 0, worstSeverity: active?.worst ?? null,
      overdueMaintenance: active?.types.has('maintenance_overdue') ?? false, overdueInspection: active?.types.has('inspection_overdue') ?? false,
    };
  }

  equipmentFrameItem(kind: EquipmentKind, code: string): EquipmentFrameItem | null {
    if (kind === 'elevator') {
      const e = this.deps.registry.elevators.get(code);
      if (!e) return null;
      const st = this.state.status.get(code);
      return { code, kind, district: e.district, ...onlineOf(this.deps.views.liveness, kind, code), serviceMode: st?.serviceMode ?? null, floor: st?.floor ?? null, statusAt: st?.ts ?? null };
    }
    const g = this.deps.registry.gasSites.get(code);
    return g ? { code, kind, district: g.district, ...onlineOf(this.deps.views.liveness, kind, code) } : null;
  }


  elevators(scope: Scope, q: ElevatorQuery): Page<ElevatorItem> {
    const active = activeBySubject(this.deps.alerts);
    const needle = q.q?.toLowerCase();
    const units = this.deps.registry.units;
    const field = q.sort.replace(/^-/, '');
    const candidates: Elevator[] = [];
    for (const e of this.deps.registry.elevators.items.values()) {
      if (!scope(e.district)) continue;
      if (q.district && e.district !== q.district) continue;
      if (q.unit && e.maintenanceUnit !== q.unit) continue;
      if (needle && ![e.code, e.address, e.userUnit, e.maintenanceUnit, units.get(e.maintenanceUnit)?.name ?? ''].some((s) => s.toLowerCase().includes(needle))) continue;
      candidates.push(e);
    }
    // Registry filters and sort only (the common case on a city of 30,000): build the items of one page.
    // Elevator and ElevatorItem share these fields: the same accessors sort either.
    type Registered = Pick<Elevator, 'code' | 'district' | 'maintenanceUnit' | 'address'>;
    const byRegistry: Record<string, (e: Registered) => string> = { code: (e) => e.code, district: (e) => e.district, unit: (e) => e.maintenanceUnit, address: (e) => e.address };
    if (!q.online && !q.serviceMode && !q.overdue && !q.alerts && byRegistry[field]) {
      const page = paginate(sortBy(candidates, q.sort, byRegistry[field]), q.page, q.pageSize);
      return { ...page, items: page.items.map((e) => this.elevatorItem(e, active.get(`elevator:${e.code}`))) };
    }
    const items: ElevatorItem[] = [];
    for (const e of candidates) {
      const it = this.elevatorItem(e, active.get(`elevator:${e.code}`));
      if (q.online && (q.online === 'never' ? it.online !== null : it.online !== (q.online === 'true'))) continue;
      if (q.serviceMode && (q.serviceMode === 'abnormal' ? it.serviceMode === null || it.serviceMode === 'normal' : it.serviceMode !== q.serviceMode)) continue;
      if (q.overdue === 'maintenance' && !it.overdueMaintenance) continue;
      if (q.overdue === 'inspection' && !it.overdueInspection) continue;
      if (q.overdue === 'any' && !it.overdueMaintenance && !it.overdueInspection) continue;
      if (q.alerts && it.activeAlerts === 0) continue;
      items.push(it);
    }
    const get: Record<string, (i: ElevatorItem) => string | number | null> = {
      ...byRegistry, lastSeenAt: (i) => i.lastSeenAt, activeAlerts: (i) => i.activeAlerts, serviceMode: (i) => i.serviceMode,
    };
    return paginate(sortBy(items, q.sort, get[field] ?? get.code!), q.page, q.pageSize);
  }

  /** The elevator if the caller may see it; otherwise 404, as for an unknown one. */
  private elevatorInScope(scope: Scope, code: string): Elevator {
    const e = this.deps.registry.elevators.get(code);
    if (!e || !scope(e.district)) throw new ViewError(`elevator ${code} not found (or not in your districts)`, 404);
    return e;
  }

  async elevator(scope: Scope, code: string, now = Date.now()) {
    const e = this.elevatorInScope(scope, code);
    let status: Status | undefined = this.state.status.get(code);
    const { store, log } = this.deps;
    let recentEvents: { at: number; id: string; type: string; state: string | null; floor: number | null; detail: string | null }[];
    try {
      if (!status) {
        const r = (await store.rows(`SELECT * FROM "elevator_status" WHERE "elevator" = ${lit(code)} AND time > now() - 30d ORDER BY time DESC LIMIT 1`))[0];
        if (r) status = statusFromRow(r);
      }
      recentEvents = (await store.rows(`SELECT "id", "type", "state", "floor", "detail" FROM "elevator_event" WHERE "elevator" = ${lit(code)} AND time > now() - 365d ORDER BY time DESC LIMIT 50`))
        .map((r) => ({ at: Number(r.time), id: String(r.id ?? ''), type: String(r.type), state: (r.state as string) ?? null, floor: r.floor == null ? null : Number(r.floor), detail: (r.detail as string) ?? null }));
    } catch (err) {
      // InfluxDB unreachable: raised events from the record ledger still tell the story
      log.debug({ err }, 'elevator page: InfluxDB query failed; events from the ledger');
      recentEvents = this.deps.views.ledger.eventsOf(code).map((r) => ({ ...r, state: 'raised', floor: null, detail: null }));
    }
    const facts = this.deps.scheduler.factsOf(code, now);
    const m = maintenanceOverdue(e, facts, now);
    const i = inspectionOverdue(e, facts, now);
    const openAlerts = this.deps.alerts.unresolvedOf('elevator', code);
    const alertOf = (type: string) => openAlerts.find((a) => a.type === type)?.id ?? null;
    const item = this.elevatorItem(e);
    return {
      elevator: {
        code: e.code, address: e.address, district: e.district, userUnit: e.userUnit, maintenanceUnit: e.maintenanceUnit,
        maintenanceUnitName: item.maintenanceUnitName, nextInspectionDue: e.nextInspectionDue ?? null, maintenanceIntervalDays: item.maintenanceIntervalDays,
      },
      state: {
        online: item.online, lastSeenAt: item.lastSeenAt,
        status: status
          ? {
              at: status.ts, serviceMode: status.serviceMode, carStatus: status.carStatus, direction: status.direction, floor: status.floor, doorZone: status.doorZone,
              doorStatus: status.doorStatus, passengers: status.passengers, speed: status.speed ?? null, load: status.load ?? null, runCount: status.runCount ?? null,
              runHours: status.runHours ?? null, doorCycles: status.doorCycles ?? null,
            }
          : null,
      },
      overdue: {
        maintenance: { overdue: m.overdue, dueAt: m.dueAt, lastRoutineAt: facts.lastRoutineAt, intervalDays: item.maintenanceIntervalDays, alertId: alertOf('maintenance_overdue') },
        inspection: { overdue: i.overdue, dueAt: i.dueAt, nextInspectionDue: e.nextInspectionDue ?? null, lastPassAt: facts.lastPassAt, alertId: alertOf('inspection_overdue') },
      },
      openAlerts,
      recentEvents,
      maintenance: this.deps.views.ledger.maintenanceOf(code).map((r) => ({ ...r, unitName: (r.unit && this.deps.registry.units.get(r.unit)?.name) || null })),
      inspections: this.deps.views.ledger.inspectionsOf(code),
      entrapments: this.entrapmentsOf(code),
    };
  }

  async elevatorSeries(scope: Scope, code: string, range: { from: number; to: number }) {
    this.elevatorInScope(scope, code);
    const intervalMs = seriesInterval(range.from, range.to);
    const rows = await this.rows(`SELECT last("floor") AS "floor", min("floor") AS "floorMin", max("floor") AS "floorMax", max("run_count") AS "runCount",
      spread("run_count") AS "spread", max("door_cycles") AS "doorCycles", count("floor") AS "samples"
      FROM "elevator_status" WHERE "elevator" = ${lit(code)} AND time >= ${range.from}ms AND time < ${range.to}ms GROUP BY ${groupTime(intervalMs)} fill(none)`);
    let prevRun: number | null = null;
    const points = rows.map((r) => {
      const runCount = r.runCount == null ? null : Number(r.runCount);
      let trips: number | null = runCount === null ? null : Number(r.spread ?? 0);
      // Trips between the previous interval's last count and this one's: the counter's increase.
      if (runCount !== null && prevRun !== null && runCount >= prevRun) trips = runCount - prevRun;
      if (runCount !== null) prevRun = runCount;
      return {
        t: Number(r.time), floor: r.floor == null ? null : Number(r.floor), floorMin: r.floorMin == null ? null : Number(r.floorMin), floorMax: r.floorMax == null ? null : Number(r.floorMax),
        runCount, doorCycles: r.doorCycles == null ? null : Number(r.doorCycles), trips, samples: Number(r.samples ?? 0),
      };
    });
    return { code, from: range.from, to: range.to, intervalMs, points };
  }

  /** The elevator's latest 20 entrapments with their rescue timings (two owners: the alerts, then the timings of those 20 by key). */
  private entrapmentsOf(code: string) {
    const alerts = this.deps.alerts.latestOf('entrapment', 'elevator', code, 20);
    const timings = this.deps.views.timings.ofAlerts(alerts.map((a) => a.id));
    return alerts.map((a) => {
      const t = timings.get(a.id);
      return { alertId: a.id, state: a.state, trappedAt: a.firstAt, dispatchedAt: t?.dispatchedAt ?? null, arrivedAt: t?.arrivedAt ?? null, releasedAt: t?.releasedAt ?? null };
    });
  }

  private rows(q: string): Promise<Record<string, unknown>[]> {
    return fromInflux(this.deps.store.rows(q));
  }
}
