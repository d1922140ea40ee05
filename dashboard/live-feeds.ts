// State frames on the live feed (dashboard/live.ts broadcast), for screens
// that stay open:
//   {type:'kpi', at, district, ...KpiNumbers}   every KPI_MS, one frame per district (a client sums the
//                                                frames of one `at` for its totals; each goes only to
//                                                principals who may see that district)
//   {type:'equipment', at, items:[...]}          elevators / gas sites whose online state or service mode
//                                                changed, at most once per EQUIPMENT_MS per district
//   {type:'case', at, case}                      every interview-case change (cases concern units: everyone)
// Nothing is computed while no client is connected. Batching keeps a wall
// screen of a 30,000-elevator city fed when a gateway outage takes hundreds
// of elevators offline at once: one frame per district and second, with the
// state at sending time (a flapping elevator is sent once, as it is now).
import type { Logger } from 'pino';
import type { AlertStore } from '../alerts/store.js';
import type { InterviewCases } from '../supervision/cases.js';
import type { EquipmentFrameItem, EquipmentKind, Views } from './views.js';

export interface LiveSink {
  readonly clients: number;
  broadcast(frame: { type: string; [k: string]: unknown }, district: string | null): void;
  broadcastMany(frames: { payload: { type: string; [k: string]: unknown }; district: string | null }[]): void;
}

const KPI_MS = 2000;
const EQUIPMENT_MS = 1000;

export function startLiveFeeds(deps: { live: LiveSink; views: Views; alerts: AlertStore; cases: InterviewCases; log: Logger; kpiMs?: number; equipmentMs?: number }): { stop(): void } {
  const { live, views, log } = deps;
  /** changed equipment, `kind:code`, sent on the next equipment tick */
  const pending = new Set<string>();
  const mark = (kind: EquipmentKind, code: string) => {
    if (live.clients) pending.add(`${kind}:${code}`);
  };

  const offAlerts = deps.alerts.onTransition(({ alert, transition }) => {
    if (alert.type !== 'offline' || (transition !== 'raised' && transition !== 'resolved')) return;
    if (alert.subjectKind === 'elevator' || alert.subjectKind === 'gas_site') mark(alert.subjectKind, alert.subject);
  });
  const offState = views.state.onChange((c) => mark(c.kind, c.code));
  const offCases = deps.cases.onChange((c) => {
    if (live.clients) live.broadcast({ type: 'case', at: Date.now(), case: c }, null);
  });

  const kpiTimer = setInterval(() => {
    if (!live.clients) return;
    try {
      const at = Date.now();
      live.broadcastMany([...views.kpiByDistrict(at)].map(([district, k]) => ({ payload: { type: 'kpi', at, district, ...k }, district })));
    } catch (err) {
      log.error({ err }, 'live kpi frame failed');
    }
  }, deps.kpiMs ?? KPI_MS);
  kpiTimer.unref();

  const equipmentTimer = setInterval(() => {
    if (!pending.size) return;
    const keys = [...pending];
    pending.clear();
    if (!live.clients) return;
    try {
      const at = Date.now();
      const byDistrict = new Map<string, EquipmentFrameItem[]>();
      for (const key of keys) {
        const i = key.indexOf(':');
        const item = views.equipmentFrameItem(key.slice(0, i) as EquipmentKind, key.slice(i + 1));
        if (!item) continue; // left the registry meanwhile
        let list = byDistrict.get(item.district);
        if (!list) byDistrict.set(item.district, (list = []));
        list.push(item);
      }
      live.broadcastMany([...byDistrict].map(([district, items]) => ({ payload: { type: 'equipment', at, items }, district })));
    } catch (err) {
      log.error({ err }, 'live equipment frame failed');
    }
  }, deps.equipmentMs ?? EQUIPMENT_MS);
  equipmentTimer.unref();

  return {
    stop() {
      clearInterval(kpiTimer);
      clearInterval(equipmentTimer);
      offAlerts();
      offState();
      offCases();
      pending.clear();
    },
  };
}
