// The overview: KPI numbers per district (registry, latest status and
// liveness in memory; alert counts from the alert store), today's
// entrapments with their rescue timings, the newest interview list and the
// ingest rates. It runs every 2 s for every screen (and the live KPI frames):
// each owner answers with a grouped count or a short list, never a row per
// elevator.
import { SEVERITIES, type Severity } from '../../domain/alerts.js';
import { cstDate, cstMidnight } from '../../domain/time.js';
import type { EquipmentState } from './equipment-state.js';
import type { IngestHealthView } from './ingest-health.js';
import type { EquipmentKind, Scope, ViewsDeps } from './common.js';

export interface KpiNumbers {
  elevators: number;
  elevatorsOnline: number;
  elevatorsOffline: number;
  elevatorsNeverSeen: number;
  elevatorOnlineRate: number | null;
  elevatorsNotNormal: number;
  gasSites: number;
  gasSitesOnline: number;
  gasSitesOffline: number;
  gasSitesNeverSeen: number;
  gasSiteOnlineRate: number | null;
  activeAlerts: number;
  alertsBySeverity: Record<Severity, number>;
  unacknowledgedCritical: number;
  entrapmentsToday: number;
  entrapmentsActive: number;
  overdueMaintenance: number;
  overdueInspection: number;
}

export const emptyKpi = (): KpiNumbers => ({
  elevators: 0, elevatorsOnline: 0, elevatorsOffline: 0, elevatorsNeverSeen: 0, elevatorOnlineRate: null, elevatorsNotNormal: 0,
  gasSites: 0, gasSitesOnline: 0, gasSitesOffline: 0, gasSitesNeverSeen: 0, gasSiteOnlineRate: null,
  activeAlerts: 0, alertsBySeverity: { critical: 0, major: 0, minor: 0, warning: 0 }, unacknowledgedCritical: 0,
  entrapmentsToday: 0, entrapmentsActive: 0, overdueMaintenance: 0, overdueInspection: 0,
});

function addKpi(into: KpiNumbers, k: KpiNumbers): void {
  for (const key of Object.keys(into) as (keyof KpiNumbers)[]) {
    if (key === 'alertsBySeverity') for (const s of SEVERITIES) into.alertsBySeverity[s] += k.alertsBySeverity[s];
    else if (typeof into[key] === 'number' && typeof k[key] === 'number') {
      const acc = into as unknown as Record<string, number>;
      acc[key] = acc[key]! + (k[key] as number);
    }
  }
}

function finishRates(k: KpiNumbers): KpiNumbers {
  k.elevatorOnlineRate = k.elevators ? k.elevatorsOnline / k.elevators : null;
  k.gasSiteOnlineRate = k.gasSites ? k.gasSitesOnline / k.gasSites : null;
  return k;
}

export class OverviewView {
  constructor(private readonly deps: ViewsDeps, private readonly state: EquipmentState, private readonly health: IngestHealthView) {}

  private never = { elevator: { codes: new Set<string>(), builtAt: 0, size: -1 }, gas_site: { codes: new Set<string>(), builtAt: 0, size: -1 } };

  /**
   * Registered equipment never heard from. Rebuilt from the whole registry when its size changed or every
   * 10 minutes (a code replaced by another); in between only the few members are checked again
   * (equipment is never "unseen").
   */
  private neverSeen(kind: EquipmentKind, now: number): Set<string> {
    const n = this.never[kind];
    const items = kind === 'elevator' ? this.deps.registry.elevators.items : this.deps.registry.gasSites.items;
    const { liveness } = this.deps.views;
    if (n.size !== items.size || now - n.builtAt > 600_000) {
      n.codes = new Set();
      for (const code of items.keys()) if (liveness.lastSeenAt(kind, code) === null) n.codes.add(code);
      n.size = items.size;
      n.builtAt = now;
    } else {
      for (const code of n.codes) if (liveness.lastSeenAt(kind, code) !== null) n.codes.delete(code);
    }
    return n.codes;
  }

  /** KPI numbers per district (every district with registered equipment, or alerts). */
  kpiByDistrict(now = Date.now()): Map<string, KpiNumbers> {
    const out = new Map<string, KpiNumbers>();
    const of = (d: string) => {
      let k = out.get(d);
      if (!k) out.set(d, (k = emptyKpi()));
      return k;
    };
    // Per elevator only what is cheap (a province has 100,000 and this runs every 2 s): offline from the
    // active offline alerts, never-seen from a set that only shrinks between full rebuilds.
    const { elevators, gasSites } = this.deps.registry;
    for (const e of elevators.items.values()) {
      const k = of(e.district);
      k.elevators++;
      const mode = this.state.status.get(e.code)?.serviceMode;
      if (mode !== undefined && mode !== 'normal') k.elevatorsNotNormal++;
    }
    for (const g of gasSites.items.values()) of(g.district).gasSites++;
    for (const key of this.deps.alerts.activeIds('offline').keys()) {
      const i = key.indexOf(':');
      const [kind, subject] = [key.slice(0, i), key.slice(i + 1)];
      if (kind === 'elevator') {
        const e = elevators.get(subject);
        if (e) of(e.district).elevatorsOffline++;
      } else if (kind === 'gas_site') {
        const g = gasSites.get(subject);
        if (g) of(g.district).gasSitesOffline++;
      }
    }
    for (const code of this.neverSeen('elevator', now)) {
      const e = elevators.get(code);
      if (e) of(e.district).elevatorsNeverSeen++;
    }
    for (const code of this.neverSeen('gas_site', now)) {
      const g = gasSites.get(code);
      if (g) of(g.district).gasSitesNeverSeen++;
    }
    for (const k of out.values()) {
      k.elevatorsOnline = Math.max(0, k.elevators - k.elevatorsOffline - k.elevatorsNeverSeen);
      k.gasSitesOnline = Math.max(0, k.gasSites - k.gasSitesOffline - k.gasSitesNeverSeen);
    }
    for (const r of this.deps.alerts.activeCounts()) {
      if (r.district === null) continue; // unit-level alerts (interview cases) belong to no district
      const k = of(r.district);
      k.activeAlerts += r.n;
      k.alertsBySeverity[r.severity] += r.n;
      if (r.severity === 'critical' && r.state === 'open') k.unacknowledgedCritical += r.n;
      if (r.type === 'entrapment') k.entrapmentsActive += r.n;
      if (r.type === 'maintenance_overdue') k.overdueMaintenance += r.n;
      if (r.type === 'inspection_overdue') k.overdueInspection += r.n;
    }
    for (const r of this.deps.alerts.countsByDistrictSince('entrapment', cstMidnight(cstDate(now)))) {
      if (r.district !== null) of(r.district).entrapmentsToday += r.n;
    }
    for (const k of out.values()) finishRates(k);
    return out;
  }

  overview(scope: Scope, now = Date.now()) {
    const byDistrict = this.kpiByDistrict(now);
    const totals = emptyKpi();
    const districts: ({ district: string } & KpiNumbers)[] = [];
    for (const [district, k] of [...byDistrict].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!scope(district)) continue;
      addKpi(totals, k);
      districts.push({ district, ...k });
    }
    finishRates(totals);
    const arrivalMs = this.deps.views.arrivalMs;
    const entrapmentsToday = this.entrapmentsToday(scope, now).map(({ alert: a, timing: t }) => {
      const [arrivedAt, releasedAt] = [t?.arrivedAt ?? null, t?.releasedAt ?? null];
      return {
        alertId: a.id, elevator: a.subject, district: a.district, unit: a.unit, address: this.deps.registry.elevators.get(a.subject)?.address ?? null, state: a.state,
        trappedAt: a.firstAt, dispatchedAt: t?.dispatchedAt ?? null, arrivedAt, releasedAt, resolvedAt: a.resolvedAt,
        waitingMs: Math.max(0, (arrivedAt ?? (a.state === 'resolved' ? (releasedAt ?? a.firstAt) : now)) - a.firstAt),
        durationMs: Math.max(0, (releasedAt ?? (a.state === 'resolved' ? a.firstAt : now)) - a.firstAt),
        overdueArrival: (arrivedAt ?? (a.state === 'resolved' ? -Infinity : now)) - a.firstAt > arrivalMs,
      };
    });
    const newest = this.deps.supervision.lists.list({ pageSize: 1 }).items[0];
    const list = newest ? this.deps.supervision.lists.get(newest.id as number) : undefined;
    const interview = list
      ? {
          listId: list.id, periodFrom: list.periodFrom, periodTo: list.periodTo, version: list.version, generatedAt: list.generatedAt, trigger: list.trigger,
          // reasons as data (criterion, value, threshold, and the counts behind the rate), which the UI words in
          // either language; `text` is the server's Chinese sentence, as in exports and notices
          units: list.units.map((u) => ({
            rank: u.rank, unit: u.unit, name: u.name,
            reasons: u.reasons.map((r) => ({ ...r, ...(r.criterion === 'pass_rate' ? { count: u.scorecard.inspections.passed, of: u.scorecard.inspections.first } : { count: u.scorecard.complaints.count, of: u.scorecard.elevators }) })),
          })),
        }
      : null;
    const rates = this.health.rates();
    return {
      at: now, totals, districts, entrapmentsToday, interview,
      ingest: { messagesPerSec: rates.messagesPerSec, influxWriting: this.deps.store.connected && this.deps.ingest.influxUp, spoolDepthMessages: this.deps.spool.depthCount, spoolFull: this.deps.spool.full },
    };
  }

  // ---- elevators

  /**
   * Today's entrapments and the still active ones the caller may see, newest first, at most 100, with their
   * rescue timings. Two owners, joined here: the alert store picks and orders the alerts (two index ranges, at
   * most 1,000 rows), the scope cuts them to 100, and only then are the timings of those 100 read by key. The
   * other way round (the timings of the day, then their alerts) would also need the active entrapments of
   * earlier days; joining whole tables in memory would read every entrapment ever, on every 2-second refresh.
   */
  private entrapmentsToday(scope: Scope, now: number) {
    const alerts = this.deps.alerts.recentOrActive('entrapment', cstMidnight(cstDate(now)), 1000).filter((a) => scope(a.district)).slice(0, 100);
    const timings = this.deps.views.timings.ofAlerts(alerts.map((a) => a.id));
    return alerts.map((alert) => ({ alert, timing: timings.get(alert.id) }));
  }
}
