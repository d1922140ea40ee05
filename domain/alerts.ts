// Alert vocabulary shared by the rule engine, the registry's contacts and the
// notifiers.
export const SEVERITIES = ['critical', 'major', 'minor', 'warning'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Alerts about a maintenance unit (an interview case, a unit's rates) carry no
 * district: a unit works across districts, and the scorecards, interview lists
 * and cases they come from are city-wide for every inspector. So every
 * inspector sees them on the dashboard; notifications go to the contacts of the
 * districts where the unit maintains elevators (alerts/notify/notifier.ts).
 */
export const isCityWide = (a: { district: string | null; subjectKind: string }): boolean => a.district === null && a.subjectKind === 'maintenance_unit';
/** The same rule for SQL over the alerts table. */
export const CITY_WIDE_SQL = `(district IS NULL AND subject_kind = 'maintenance_unit')`;

/**
 * A hazard open past its rectification deadline (supervision/hazards.ts): a
 * long-lived reminder like the daily overdue rules', so alert lists group it
 * with them (alerts/routes.ts OVERDUE_TYPES) rather than with live events.
 */
export const HAZARD_OVERDUE_ALERT = 'hazard_overdue';

/** True when `s` is at least as severe as `floor`. */
export const atLeast = (s: Severity, floor: Severity): boolean => SEVERITIES.indexOf(s) <= SEVERITIES.indexOf(floor);

/** Names of alert types and severities for people (zh-CN first; the UI adds English). */
export const ALERT_TYPE_ZH: Record<string, string> = {
  entrapment: '困人',
  unintended_car_movement: '轿厢意外移动',
  overspeed: '超速',
  door_open_while_running: '开门走梯',
  overtravel_top: '冲顶',
  overtravel_bottom: '蹲底',
  safety_circuit_open: '安全回路断路',
  door_lock_circuit_open: '门锁回路断路',
  stopped_outside_door_zone: '非平层停梯',
  door_close_fault: '关门故障',
  door_open_fault: '开门故障',
  motor_runtime_limiter: '电动机运转时间限制器动作',
  floor_position_lost: '楼层位置丢失',
  restart_prevention_fault: '防止电梯再启动故障',
  power_failure: '停电',
  alarm_button: '报警按钮',
  gas_leak: '燃气泄漏',
  illegal_filling: '违规充装',
  offline: '设备离线',
  maintenance_overdue: '维保超期',
  inspection_overdue: '定期检验超期',
  interview_case: '维保单位约谈',
  unit_rates: '维保单位指标预警',
  order_overdue: '监察指令书逾期未整改',
  major_hazard: '重大隐患',
  hazard_overdue: '隐患逾期未整改',
};

export const SEVERITY_ZH: Record<Severity, string> = { critical: '紧急', major: '严重', minor: '一般', warning: '提示' };

// The alert and its transitions as every layer sees them (the store in
// alerts/store.ts keeps them; storage/points.ts writes them to InfluxDB).
export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type SubjectKind = 'elevator' | 'gas_site' | 'cylinder' | 'maintenance_unit';

export interface Alert {
  id: number;
  type: string;
  severity: Severity;
  subjectKind: SubjectKind;
  subject: string;
  district: string | null;
  unit: string | null;
  firstAt: number;
  lastAt: number;
  count: number;
  state: AlertState;
  ackBy: string | null;
  ackAt: number | null;
  resolvedBy: string | null;
  resolvedAt: number | null;
  resolution: string | null;
  escalation: number;
  /** wall-clock time the alert was opened (re-notification and escalation count from here) */
  openedAt: number;
  /** processing lag of the occurrence that opened it (see RaiseInput.lagMs in alerts/store.ts) */
  openedLagMs: number;
  /** wall-clock time of the last reminder, if any */
  remindedAt: number | null;
  notes: { at: number; by: string; text: string }[];
  evidence: unknown[];
}

/**
 * `severity_raised`: a repeat at a higher severity (a gas alarm going from first to
 * second level). It is paged at the new severity, as news; a plain `repeated` is not.
 * `escalated` is something else: the contact level rising while nobody acknowledges.
 */
export type Transition = 'raised' | 'repeated' | 'severity_raised' | 'acknowledged' | 'resolved' | 'escalated' | 'reminded' | 'noted';

/** What a lifecycle call changed (after ThingsBoard's AlarmApiCallResult). */
export interface AlertResult {
  alert: Alert;
  transition: Transition;
  /** position in the transition log (alert_events.seq) */
  seq: number;
  /** event time of the transition */
  at: number;
  /** processing lag of the transition: how long after its event time it was processed */
  lagMs: number;
}
