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
};

export const SEVERITY_ZH: Record<Severity, string> = { critical: '紧急', major: '严重', minor: '一般', warning: '提示' };
