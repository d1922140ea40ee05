// Response shapes of the APIs the UI reads (see /api/openapi.json and views-api notes).
import type { ReasonData } from './i18n.js';
export interface Paged<T> { items: T[]; total: number; page: number; pageSize: number }

export interface Alert {
  id: number; type: string; severity: string; subjectKind: string; subject: string; district: string | null; unit: string | null;
  firstAt: number; lastAt: number; count: number; state: 'open' | 'acknowledged' | 'resolved';
  ackBy: string | null; ackAt: number | null; resolvedBy: string | null; resolvedAt: number | null; resolution: string | null;
  escalation: number; openedAt: number; notes: { at: number; by: string; text: string }[]; evidence: unknown[];
}

export interface KpiNumbers {
  elevators: number; elevatorsOnline: number; elevatorsOffline: number; elevatorsNeverSeen: number; elevatorOnlineRate: number | null; elevatorsNotNormal: number;
  gasSites: number; gasSitesOnline: number; gasSitesOffline: number; gasSitesNeverSeen: number; gasSiteOnlineRate: number | null;
  activeAlerts: number; alertsBySeverity: { critical: number; major: number; minor: number; warning: number }; unacknowledgedCritical: number;
  entrapmentsToday: number; entrapmentsActive: number; overdueMaintenance: number; overdueInspection: number;
}

export interface Entrapment {
  alertId: number; elevator: string; district: string | null; unit: string | null; address: string; state: string;
  trappedAt: number; dispatchedAt: number | null; arrivedAt: number | null; releasedAt: number | null;
  /** when the alert was resolved (cleared by the gateway, a rescue record, or by hand), if it was */
  resolvedAt: number | null; waitingMs: number; durationMs: number; overdueArrival: boolean;
}

export interface Overview {
  at: number;
  totals: KpiNumbers;
  districts: (KpiNumbers & { district: string })[];
  entrapmentsToday: Entrapment[];
  interview: null | { listId: number; periodFrom: string; periodTo: string; version: number; generatedAt: number; trigger: string; units: { rank: number; unit: string; name: string | null; reasons: ReasonData[] }[] };
  ingest: { messagesPerSec: number; influxWriting: boolean; spoolDepthMessages: number; spoolFull: boolean };
}

export interface ElevatorRow {
  code: string; address: string; district: string; userUnit: string | null; maintenanceUnit: string | null; maintenanceUnitName: string | null;
  nextInspectionDue: string | null; maintenanceIntervalDays: number | null; online: boolean | null; lastSeenAt: number | null;
  serviceMode: string | null; floor: number | null; statusAt: number | null; activeAlerts: number; worstSeverity: string | null;
  overdueMaintenance: boolean; overdueInspection: boolean;
}

export interface ElevatorDetailT {
  elevator: { code: string; address: string; district: string; userUnit: string | null; maintenanceUnit: string | null; maintenanceUnitName: string | null; nextInspectionDue: string | null; maintenanceIntervalDays: number | null };
  state: { online: boolean | null; lastSeenAt: number | null; status: null | Record<string, unknown> & { at: number } };
  overdue: {
    maintenance: { overdue: boolean; dueAt: number | null; lastRoutineAt: number | null; intervalDays: number | null; alertId: number | null };
    inspection: { overdue: boolean; dueAt: number | null; nextInspectionDue: string | null; lastPassAt: number | null; alertId: number | null };
  };
  openAlerts: Alert[];
  recentEvents: { at: number; id: string; type: string; state: string; floor: number | null; detail: unknown }[];
  maintenance: { at: number; id: string; kind: string; routine: boolean; unit: string | null; unitName: string | null }[];
  inspections: { at: number; id: string; kind: string; result: string; attempt: number; institution: string | null; nextDue: string | null; unit: string | null }[];
  entrapments: { alertId: number; trappedAt: number; dispatchedAt: number | null; arrivedAt: number | null; releasedAt: number | null; state: string }[];
}

export interface ElevatorSeries { code: string; from: number; to: number; intervalMs: number; points: { t: number; floor: number | null; floorMin: number | null; floorMax: number | null; runCount: number | null; doorCycles: number | null; trips: number | null; samples: number }[] }

export interface GasSiteRow { code: string; name: string; address: string; district: string; kind: string; online: boolean | null; lastSeenAt: number | null; detectors: number; maxLel: number | null; activeAlerts: number; worstSeverity: string | null }
export interface GasSiteDetailT {
  site: { code: string; name: string; address: string; district: string; kind: string };
  state: { online: boolean | null; lastSeenAt: number | null };
  thresholds: { level1: number; level2: number };
  detectors: { detector: string; lel: number | null; gas: string | null; pressureMPa: number | null; temperatureC: number | null; at: number | null; level: number; alertId: number | null }[];
  openAlerts: Alert[];
}
export interface GasSeries { code: string; from: number; to: number; intervalMs: number; detectors: { detector: string; points: { t: number; lel: number | null; lelMax: number | null }[] }[] }
export interface Filling { at: number; id: string; cylinder: string; medium: string; manufactured: string | null; nextInspectionDue: string | null; scrapDue: string | null; netKg: number | null; station: string | null; operator: string | null; inspectionOverdue: boolean; scrapOverdue: boolean; violation: boolean }

export interface Scorecard {
  unit: string; name: string | null; elevators: number;
  inspections: { first: number; passed: number; passRate: number | null; insufficient: boolean; reinspections: number };
  complaints: { count: number; rate: number | null; insufficient?: boolean };
  maintenance: { records: number; routine: number; overdueEpisodes: number; overdueElevatorDays: number; elevatorsWithoutRecords: number };
  overdueInspections: { count: number; elevatorDays: number };
  entrapments: { count: number; per100: number | null; meanArrivalMin: number | null; meanRescueMin: number | null; arrivalsOverLimit: number };
  dangerousFaults: number;
  /** open and overdue hazards at the period's end (absent in interview lists saved before hazards existed) */
  hazards?: { open: number; overdue: number };
}
/** GET /api/v1/scorecards/trend: per unit and CST calendar quarter */
export interface TrendPoint { quarter: string; first: number; passed: number; passRate: number | null; complaints: number; complaintRate: number | null }
export interface UnitTrend { unit: string; name: string | null; points: TrendPoint[] }
export interface Trend { quarters: string[]; items: UnitTrend[] }

export interface Criteria { passRateBelow: number; minInspections: number; complaintRateAtLeast: number; policy: string }

export interface InterviewListSummary { id: number; periodFrom: string; periodTo: string; version: number; generatedAt: number; trigger: string; criteria: Criteria; considered: number; listed: number }
export interface ListedUnit { rank: number; unit: string; name: string | null; reasons: ReasonData[]; scorecard: Scorecard }
export interface InterviewList extends Omit<InterviewListSummary, 'considered' | 'listed'> { units: ListedUnit[]; considered?: number; listed?: number }

export type CaseState = 'draft' | 'published' | 'scheduled' | 'held' | 'rectifying' | 'closed';
export interface InterviewCase {
  id: number; listId: number; unit: string; name: string | null; periodFrom: string; periodTo: string; state: CaseState; repeatOf: number | null; alertId: number | null;
  details: Record<string, unknown>; history: { state: CaseState; by: string; at: number; fields: Record<string, unknown> }[]; createdAt: number;
}

export interface RuleRun { id: number; rule: string; trigger: string; startedAt: number; durationMs: number | null; checked: number; raised: number; resolved: number; stillActive: number; error: string | null }
export interface DeadLetterBrief { seq: number; at: number; topic: string; sender: string | null; transport: string; reason?: string; message: string; excerpt: string }
/** GET /api/v1/ingest/rates: minute averages sampled by the server every 5 s */
export interface RatePoint { at: number; messagesPerSec: number; storedPerSec: number; deadLettersPerSec: number }
export interface IngestHealth {
  at: number;
  rates: { windowS: number; messagesPerSec: number; byChannel: Record<string, number>; byTransport: Record<string, number>; storedPerSec: number; deadLettersPerSec: number; duplicatesPerSec: number; refusalsPerSec: number };
  totals: { messages: number; stored: number; deadLetters: number; duplicates: number; refusals: number };
  deadLetters: { total: number; byReason: { reason: string; count: number; latest: DeadLetterBrief | null }[]; recent: DeadLetterBrief[] };
  spool: { depthMessages: number; depthBytes: number; limitBytes: number; full: boolean; usedRatio: number };
  influx: { writing: boolean; version: string | null; writeErrors: number };
  mqttClients: number; liveClients: number;
  rules: { rule: string; schedule: string | null; nextRunAt: number | null; running: boolean; lastRun: RuleRun | null }[];
  ruleRuns: RuleRun[];
}
