// A credit publication as CSV and XLSX (the helpers of supervision/exports.ts):
// every unit's grade with the points each factor took, and the red and black
// lists, each marked with its period and version.
import { cstTime } from '../domain/time.js';
import { addTable, csv, newWorkbook, periodText, toBuffer, type Column } from './exports.js';
import { FACTOR_MEASURE, FACTORS, type UnitGrade } from './credit.js';
import type { CreditPublication } from './credit-lists.js';

export const CREDIT_LIST_KINDS = ['all', 'red', 'black'] as const;
export type CreditListKind = (typeof CREDIT_LIST_KINDS)[number];
export const KIND_ZH: Record<CreditListKind, string> = { all: '信用等级', red: '守信红名单', black: '失信黑名单' };

const FACTOR_ZH: Record<(typeof FACTORS)[number], string> = {
  pass_rate: '合格率扣分', complaint_rate: '投诉扣分', overdue_maintenance: '维保超期扣分', overdue_inspections: '检验超期扣分',
  late_arrivals: '救援超时扣分', dangerous_faults: '危险故障扣分', open_hazards: '未整改隐患扣分', overdue_hazards: '逾期隐患扣分',
  overdue_orders: '逾期指令书扣分', cases: '立案扣分', interviews: '约谈扣分',
};

const columns = (p: CreditPublication): Column<UnitGrade>[] => [
  { header: '单位编号', width: 14, format: 'text', value: (g) => g.unit },
  { header: '单位名称', width: 30, format: 'text', value: (g) => g.name ?? '' },
  { header: '电梯台数', width: 9, format: 'int', value: (g) => g.elevators },
  { header: '得分', width: 8, format: 'dec2', value: (g) => g.score },
  { header: '信用等级', width: 9, format: 'text', value: (g) => g.grade ?? '不评级' },
  ...FACTORS.map((f): Column<UnitGrade> => ({ header: FACTOR_ZH[f], width: 12, format: 'dec2', value: (g) => g.factors.find((x) => x.factor === f)?.points ?? 0 })),
  { header: '数据说明', width: 50, format: 'text', value: (g) => g.insufficient.join('；') },
  { header: '统计期间', width: 23, format: 'text', value: () => periodText({ from: p.periodFrom, to: p.periodTo }) },
  { header: '版本', width: 6, format: 'int', value: () => p.version },
];

/** The units of one kind of list, in the publication's order. */
export function unitsOf(p: CreditPublication, kind: CreditListKind): UnitGrade[] {
  if (kind === 'all') return p.grades;
  const by = new Map(p.grades.map((g) => [g.unit, g]));
  return p[kind].map((u) => by.get(u)!);
}

export const creditCsv = (p: CreditPublication, kind: CreditListKind): string => csv(columns(p), unitsOf(p, kind));

export async function creditXlsx(p: CreditPublication, now = Date.now()): Promise<Buffer> {
  const wb = newWorkbook();
  const period = { from: p.periodFrom, to: p.periodTo };
  for (const kind of ['red', 'black', 'all'] as const) {
    addTable(wb, KIND_ZH[kind], `维保单位${KIND_ZH[kind]}（${periodText(period, ' 至 ')}，第 ${p.version} 版）`, columns(p), unitsOf(p, kind), 2);
  }
  const ws = wb.addWorksheet('评分办法');
  ws.columns = [{ width: 30 }, { width: 12 }, { width: 12 }, { width: 50 }];
  ws.addRow(['扣分项', '每单位扣分', '封顶', '计量']).font = { bold: true };
  for (const f of FACTORS) ws.addRow([FACTOR_ZH[f], p.scoring.factors[f].points, p.scoring.factors[f].cap, FACTOR_MEASURE[f].zh]);
  const t = p.scoring.thresholds;
  ws.addRow([]);
  for (const [k, v] of [['等级', `A ≥ ${t.A}，B ≥ ${t.B}，C ≥ ${t.C}，其余为 D（满分 100，逐项扣分）`], ['合格率目标', `${p.scoring.passRateTarget * 100}%`],
    ['评级所需最少电梯台数', p.scoring.minElevators], ['计算合格率的最少首检数', p.scoring.minInspections], ['发布人', p.publishedBy],
    ['发布时间（北京时间）', cstTime(p.publishedAt)], ['导出时间（北京时间）', cstTime(now)]] as const) ws.addRow([k, v]);
  return toBuffer(wb);
}
