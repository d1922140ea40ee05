// Exports for the people who act on the figures: the scorecards and the
// interview list as CSV (UTF-8 with BOM, CRLF, RFC 4180 quoting, so Excel on a
// Chinese Windows opens it as it is) and XLSX (exceljs: typed numbers, percent
// formats, a frozen bold header), and the printable interview notice
// (约谈通知书) of one listed unit with the records behind it: a complete HTML
// page with a print stylesheet and no external resources.
import ExcelJS from 'exceljs';
import { cstDate, cstTime, MINUTE_MS } from '../domain/time.js';
import { lastDay, type InterviewCriteria, type InterviewList, type ListedUnit } from './interview.js';
import { DEFAULT_SCORECARD, type Scorecard } from './scorecard.js';

export interface DatePeriod {
  /** YYYY-MM-DD, inclusive */
  from: string;
  /** YYYY-MM-DD, exclusive */
  to: string;
}

/** The records behind a listed unit, as `Supervision.evidence()` returns them: in time order. */
export interface Evidence {
  failedInspections: Record<string, unknown>[];
  complaints: Record<string, unknown>[];
}

export interface NoticeOptions {
  /** ISO time with offset, as a case's `scheduled` step records it */
  scheduledAt?: string | undefined;
  place?: string | undefined;
  attendees?: string[] | undefined;
  /** the issuing authority (default 邵阳市市场监督管理局) */
  authority?: string | undefined;
  /** YYYY-MM-DD of issue; blank lines to fill in by hand when absent */
  issuedOn?: string | undefined;
}

export const DEFAULT_AUTHORITY = '邵阳市市场监督管理局';
/** What a pass rate below the minimum sample reads as: never 0 % or 100 %. */
export const INSUFFICIENT = '样本不足';

// ---------------------------------------------------------------------------
// Columns, shared by CSV, XLSX and the notice's figures.

export type Value = string | number | null;
export type Format = 'text' | 'int' | 'dec1' | 'dec2' | 'percent';

export interface Column<T> {
  header: string;
  /** XLSX column width, in characters */
  width: number;
  format: Format;
  value: (x: T) => Value;
}

const NUM_FMT: Record<Exclude<Format, 'text'>, string> = { int: '0', dec1: '0.0', dec2: '0.00', percent: '0.0%' };
const arrivalLimitMin = DEFAULT_SCORECARD.arrivalLimitMs / MINUTE_MS;

/** The period as people read it: the last day inclusive. */
export const periodText = (p: DatePeriod, sep = '至') => `${p.from}${sep}${lastDay(p.to)}`;

const ID_COLUMNS: Column<Scorecard>[] = [
  { header: '单位编号', width: 14, format: 'text', value: (s) => s.unit },
  { header: '单位名称', width: 30, format: 'text', value: (s) => s.name ?? '' },
];

const FIGURE_COLUMNS: Column<Scorecard>[] = [
  { header: '电梯台数', width: 9, format: 'int', value: (s) => s.elevators },
  { header: '首检数', width: 8, format: 'int', value: (s) => s.inspections.first },
  { header: '首检合格数', width: 10, format: 'int', value: (s) => s.inspections.passed },
  { header: '一次合格率', width: 10, format: 'percent', value: (s) => (s.inspections.insufficient || s.inspections.passRate === null ? INSUFFICIENT : s.inspections.passRate) },
  { header: '复检数', width: 8, format: 'int', value: (s) => s.inspections.reinspections },
  { header: '投诉数', width: 8, format: 'int', value: (s) => s.complaints.count },
  { header: '投诉率(起/百台)', width: 14, format: 'dec2', value: (s) => s.complaints.rate },
  { header: '维保记录数', width: 10, format: 'int', value: (s) => s.maintenance.records },
  { header: '例行维保数', width: 10, format: 'int', value: (s) => s.maintenance.routine },
  { header: '维保超期次数', width: 12, format: 'int', value: (s) => s.maintenance.overdueEpisodes },
  { header: '超期电梯·天', width: 11, format: 'dec1', value: (s) => s.maintenance.overdueElevatorDays },
  { header: '无维保记录电梯数', width: 15, format: 'int', value: (s) => s.maintenance.elevatorsWithoutRecords },
  { header: '检验超期次数', width: 12, format: 'int', value: (s) => s.overdueInspections.count },
  { header: '检验超期电梯·天', width: 15, format: 'dec1', value: (s) => s.overdueInspections.elevatorDays },
  { header: '困人次数', width: 9, format: 'int', value: (s) => s.entrapments.count },
  { header: '困人率(次/百台)', width: 14, format: 'dec2', value: (s) => s.entrapments.per100 },
  { header: '平均到达(分钟)', width: 13, format: 'dec1', value: (s) => s.entrapments.meanArrivalMin },
  { header: '平均救出(分钟)', width: 13, format: 'dec1', value: (s) => s.entrapments.meanRescueMin },
  { header: `超${arrivalLimitMin}分钟到达`, width: 12, format: 'int', value: (s) => s.entrapments.arrivalsOverLimit },
  { header: '危险故障', width: 9, format: 'int', value: (s) => s.dangerousFaults },
  // blank in interview lists saved before hazards were counted
  { header: '未整改隐患', width: 10, format: 'int', value: (s) => s.hazards?.open ?? null },
  { header: '逾期隐患', width: 9, format: 'int', value: (s) => s.hazards?.overdue ?? null },
];

const on = <T>(cols: Column<Scorecard>[], card: (x: T) => Scorecard): Column<T>[] => cols.map((c) => ({ ...c, value: (x: T) => c.value(card(x)) }));
const periodColumn = <T>(p: DatePeriod): Column<T> => ({ header: '统计期间', width: 23, format: 'text', value: () => periodText(p) });

const scorecardColumns = (p: DatePeriod): Column<Scorecard>[] => [...ID_COLUMNS, ...FIGURE_COLUMNS, periodColumn(p)];
const listColumns = (l: InterviewList): Column<ListedUnit>[] => [
  { header: '排名', width: 6, format: 'int', value: (u) => u.rank },
  ...on(ID_COLUMNS, (u: ListedUnit) => ({ ...u.scorecard, name: u.name ?? u.scorecard.name })),
  { header: '约谈原因', width: 60, format: 'text', value: (u) => u.reasons.map((r) => r.text).join('；') },
  ...on(FIGURE_COLUMNS, (u: ListedUnit) => u.scorecard),
  periodColumn({ from: l.periodFrom, to: l.periodTo }),
];

/** A value as text, as the CSV and the notice show it. */
function text(v: Value, f: Format): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  // Rates are exact in the scorecard; only what is shown is rounded (XLSX keeps the exact number under its format).
  const d = f === 'dec2' ? 100 : f === 'dec1' ? 10 : 1;
  return f === 'percent' ? `${(v * 100).toFixed(1)}%` : String(Math.round(v * d) / d);
}

// ---------------------------------------------------------------------------
// CSV

const BOM = '\uFEFF';

/** A CSV field: quoted when it holds a quote, comma or line break; text that a spreadsheet would run as a formula is defused. */
function csvField(s: string, isText: boolean): string {
  const safe = isText && /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== safe.trim() ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csv<T>(cols: Column<T>[], rows: T[]): string {
  const lines = [cols.map((c) => csvField(c.header, true)), ...rows.map((r) => cols.map((c) => {
    const v = c.value(r);
    return csvField(text(v, c.format), typeof v === 'string');
  }))];
  return BOM + lines.map((l) => l.join(',')).join('\r\n') + '\r\n';
}

export const scorecardsCsv = (cards: Scorecard[], period: DatePeriod): string => csv(scorecardColumns(period), cards);
export const interviewListCsv = (list: InterviewList): string => csv(listColumns(list), list.units);

// ---------------------------------------------------------------------------
// XLSX

export function newWorkbook(): ExcelJS.Workbook {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'se-monitor';
  wb.created = new Date();
  return wb;
}

const thin = { style: 'thin' as const };
const border = { top: thin, left: thin, bottom: thin, right: thin };

/** One sheet: a title row, a bold frozen header with a filter, typed and formatted cells, set up to print on A4 landscape. */
export function addTable<T>(wb: ExcelJS.Workbook, sheetName: string, title: string, cols: Column<T>[], rows: T[], frozenColumns: number): ExcelJS.Worksheet {
  const ws = wb.addWorksheet(sheetName, {
    views: [{ state: 'frozen', xSplit: frozenColumns, ySplit: 2 }],
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '2:2' },
  });
  ws.columns = cols.map((c) => ({ width: c.width }));
  ws.getCell(1, 1).value = title;
  ws.getCell(1, 1).font = { bold: true, size: 14 };
  ws.mergeCells(1, 1, 1, cols.length);
  const header = ws.getRow(2);
  cols.forEach((c, i) => {
    const cell = header.getCell(i + 1);
    cell.value = c.header;
    cell.font = { bold: true };
    cell.alignment = { vertical: 'middle', horizontal: 'center', wrapText: true };
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFD9E1F2' } };
    cell.border = border;
  });
  rows.forEach((r, n) => {
    const row = ws.getRow(n + 3);
    cols.forEach((c, i) => {
      const v = c.value(r);
      const cell = row.getCell(i + 1);
      cell.value = v;
      cell.border = border;
      if (typeof v === 'number' && c.format !== 'text') cell.numFmt = NUM_FMT[c.format];
      else if (typeof v === 'string' && c.format !== 'text') cell.alignment = { horizontal: 'right' }; // 样本不足 in a number column
      else if (c.format === 'text' && c.width >= 40) cell.alignment = { wrapText: true, vertical: 'top' };
    });
  });
  ws.autoFilter = { from: { row: 2, column: 1 }, to: { row: 2, column: cols.length } };
  return ws;
}

export const toBuffer = async (wb: ExcelJS.Workbook): Promise<Buffer> => Buffer.from(await wb.xlsx.writeBuffer());

/** One table as a workbook: a title row, a bold frozen header, typed cells (the other exports' layout). */
export async function tableXlsx<T>(sheetName: string, title: string, cols: Column<T>[], rows: T[]): Promise<Buffer> {
  const wb = newWorkbook();
  addTable(wb, sheetName, title, cols, rows, 1);
  return toBuffer(wb);
}

export async function scorecardsXlsx(cards: Scorecard[], period: DatePeriod): Promise<Buffer> {
  const wb = newWorkbook();
  addTable(wb, `评分卡 ${periodText(period)}`, `维保单位评分卡（${periodText(period, ' 至 ')}）`, scorecardColumns(period), cards, ID_COLUMNS.length);
  return toBuffer(wb);
}

const POLICY_ZH: Record<InterviewCriteria['policy'], string> = { any: '任一标准不达标即列入', all: '全部标准均不达标方列入' };
const TRIGGER_ZH: Record<string, string> = { api: '手动生成', schedule: '定时生成' };

export async function interviewListXlsx(list: InterviewList, now = Date.now()): Promise<Buffer> {
  const wb = newWorkbook();
  const p = { from: list.periodFrom, to: list.periodTo };
  addTable(wb, `约谈名单 ${periodText(p)}`, `维保单位约谈名单（${periodText(p, ' 至 ')}，第 ${list.version} 版）`, listColumns(list), list.units, 1 + ID_COLUMNS.length);
  const c = list.criteria;
  const ws = wb.addWorksheet('约谈标准');
  ws.columns = [{ width: 26 }, { width: 70 }];
  const rows: [string, string | number, string?][] = [
    ['名单编号', list.id],
    ['版本', list.version],
    ['统计期间', periodText(p, ' 至 ')],
    ['生成时间（北京时间）', cstTime(list.generatedAt)],
    ['生成方式', TRIGGER_ZH[list.trigger] ?? list.trigger],
    ['参评单位数', list.considered],
    ['列入约谈单位数', list.units.length],
    ['一次合格率低于', c.passRateBelow, NUM_FMT.percent],
    ['计算合格率的最少首检数', c.minInspections],
    ['投诉率不低于(起/百台)', c.complaintRateAtLeast],
    ['判定规则', POLICY_ZH[c.policy]],
    ['说明', `一次合格率 = 首次定期检验合格数 ÷ 首次定期检验数（复检不计）；首检数少于 ${c.minInspections} 的单位记为“${INSUFFICIENT}”，不按合格率列入。投诉率 = 投诉数 ÷ 电梯台数 × 100。名单生成后即冻结，后到的数据只进入新版本。`],
    ['导出时间（北京时间）', cstTime(now)],
  ];
  ws.addRow(['项目', '内容']).font = { bold: true };
  for (const [label, value, fmt] of rows) {
    const row = ws.addRow([label, value]);
    row.getCell(1).font = { bold: true };
    row.getCell(2).alignment = { wrapText: true, vertical: 'top', horizontal: 'left' };
    if (fmt) row.getCell(2).numFmt = fmt;
  }
  ws.views = [{ state: 'frozen', ySplit: 1 }];
  return toBuffer(wb);
}

// ---------------------------------------------------------------------------
// The interview notice (约谈通知书)

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** 2025-01-01 → 2025年1月1日 */
export const zhDate = (date: string) => `${date.slice(0, 4)}年${Number(date.slice(5, 7))}月${Number(date.slice(8, 10))}日`;
/** An ISO time with offset → 2025年1月20日 09:30 (Beijing time); anything else as given. */
function zhDateTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${zhDate(cstDate(t))} ${cstTime(t).slice(11, 16)}` : iso;
}

const SOURCE_ZH: Record<string, string> = { '12345': '12345 热线', '96333': '96333 热线', other: '其他' };
const UNIT_SOURCE_ZH: Record<string, string> = { record: '记录载明', registry: '按登记' };
const BLANK = '<span class="blank"></span>';
const unitSource = (r: Record<string, unknown>) => UNIT_SOURCE_ZH[String(r.unit_source)] ?? r.unit_source;

/** An evidence table; a header ending in `|nw` keeps its column on one line. */
function evidenceTable(title: string, headers: string[], rows: unknown[][]): string {
  const cols = headers.map((h) => h.split('|') as [string, string?]);
  const cls = (c: string | undefined) => (c ? ` class="${c}"` : '');
  const head = `<tr><th class="n">序号</th>${cols.map(([h]) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.length
    ? rows.map((r, i) => `<tr><td class="n">${i + 1}</td>${r.map((v, j) => `<td${cls(cols[j]?.[1])}>${escapeHtml(v)}</td>`).join('')}</tr>`).join('\n')
    : `<tr><td class="none" colspan="${headers.length + 1}">无</td></tr>`;
  return `<h3>${escapeHtml(title)}（${rows.length} 条）</h3>\n<table class="evidence"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

const when = (r: Record<string, unknown>) => (Number.isFinite(Number(r.time)) ? cstTime(Number(r.time)).slice(0, 16) : '');

export const NOTICE_STYLE = `
  :root { color-scheme: light; }
  body { margin: 0; background: #e8e8e8; color: #000;
    font: 15px/1.65 "FangSong", "STFangsong", "仿宋", "SimSun", "Songti SC", "Noto Serif CJK SC", "Source Han Serif SC", serif; }
  .page { box-sizing: border-box; width: 210mm; min-height: 297mm; margin: 12px auto; padding: 20mm 18mm; background: #fff; box-shadow: 0 0 6px rgba(0,0,0,.25); }
  .toolbar { position: sticky; top: 0; z-index: 1; padding: 8px; text-align: center; background: #333; color: #fff;
    font: 14px/1.5 system-ui, "Microsoft YaHei", "PingFang SC", sans-serif; }
  .toolbar button { font: inherit; padding: 4px 16px; margin-right: 12px; cursor: pointer; }
  .authority { text-align: center; color: #c00; font-size: 26px; font-weight: bold; letter-spacing: 4px; border-bottom: 2px solid #c00; padding-bottom: 6px; }
  h1 { text-align: center; font-size: 28px; letter-spacing: 12px; margin: 14px 0 2px; font-family: "SimHei", "Heiti SC", "Noto Sans CJK SC", sans-serif; }
  .docno { text-align: center; margin: 0 0 12px; }
  h2 { font-size: 17px; margin: 14px 0 4px; font-family: "SimHei", "Heiti SC", "Noto Sans CJK SC", sans-serif; }
  h3 { font-size: 16px; margin: 14px 0 6px; }
  p { margin: 6px 0; text-align: justify; }
  .indent { text-indent: 2em; }
  .to { font-weight: bold; }
  ol.reasons { margin: 6px 0 6px 2em; padding-left: 1em; }
  table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 14px; line-height: 1.45; }
  table.figures { font-size: 13px; }
  table.figures th { white-space: nowrap; background: #f7f7f7; }
  table.evidence { font-size: 12.5px; }
  td.nw { white-space: nowrap; }
  th, td { border: 1px solid #000; padding: 3px 6px; vertical-align: top; }
  th { background: #f0f0f0; font-weight: bold; text-align: center; }
  td.n, th.n { width: 3em; text-align: center; }
  td.none { text-align: center; }
  table.figures td.v { text-align: right; width: 18%; }
  table.arrangement th { width: 7em; }
  .blank { display: inline-block; min-width: 12em; border-bottom: 1px solid #000; }
  .sign { margin-top: 20px; text-align: right; }
  .sign p { margin: 2px 0; text-align: right; }
  .seal { color: #666; }
  .receipt { margin-top: 16px; padding-top: 8px; border-top: 1px dashed #000; }
  .meta { margin-top: 4px; color: #333; font-size: 12.5px; line-height: 1.5; }
  .attachment { margin-top: 32px; }
  @page { size: A4; margin: 20mm 18mm 18mm 18mm; }
  @media print {
    body { background: #fff; }
    .toolbar { display: none !important; }
    .page { width: auto; min-height: 0; margin: 0; padding: 0; box-shadow: none; }
    th { background: #fff; }
    thead { display: table-header-group; }
    tr, .sign, .receipt, table.figures, table.arrangement { break-inside: avoid; page-break-inside: avoid; }
    h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
    .attachment { margin-top: 0; break-before: page; page-break-before: always; }
    .meta { color: #000; }
  }
`;

/** The notice's one script, its print button's handler (the notice route's policy allows exactly this one by its hash). */
export const NOTICE_PRINT_HANDLER = 'window.print()';

/**
 * The interview notice of one listed unit: the reasons, its figures, when and
 * where (from the case once it is scheduled, else lines to fill in), the
 * issuing authority and, as an attachment, the failed first inspections and
 * complaints behind it. Everything from the data is HTML-escaped.
 */
export function noticeHtml(list: InterviewList, unit: ListedUnit, evidence: Evidence, opts: NoticeOptions = {}): string {
  const s = unit.scorecard;
  const p = { from: list.periodFrom, to: list.periodTo };
  const authority = escapeHtml(opts.authority || DEFAULT_AUTHORITY);
  const name = escapeHtml(unit.name ?? s.name ?? unit.unit);
  const figures = FIGURE_COLUMNS.map((c) => [c.header, text(c.value(s), c.format) || '—'] as const);
  const figureRows: string[] = [];
  for (let i = 0; i < figures.length; i += 3) {
    const cells = figures.slice(i, i + 3).map(([h, v]) => `<th>${escapeHtml(h)}</th><td class="v">${escapeHtml(v)}</td>`);
    while (cells.length < 3) cells.push('<th></th><td class="v"></td>');
    figureRows.push(`<tr>${cells.join('')}</tr>`);
  }
  const inspections = evidence.failedInspections.map((r) => [when(r), r.elevator, r.institution, r.id, unitSource(r)]);
  const complaints = evidence.complaints.map((r) => [when(r), SOURCE_ZH[String(r.source)] ?? r.source, r.category, r.elevator ?? '', r.id, unitSource(r)]);
  const span = `${zhDate(p.from)} 至 ${zhDate(lastDay(p.to))}`;
  const scheduled = opts.scheduledAt ? escapeHtml(zhDateTime(opts.scheduledAt)) : `${BLANK} （年 月 日 时 分）`;
  const place = opts.place ? escapeHtml(opts.place) : BLANK;
  const attendees = opts.attendees?.length ? opts.attendees.map(escapeHtml).join('、') : `你单位法定代表人（或主要负责人）、技术负责人 ${BLANK}`;
  const issued = opts.issuedOn ? escapeHtml(zhDate(opts.issuedOn)) : '<span class="blank" style="min-width:4em"></span>年<span class="blank" style="min-width:2em"></span>月<span class="blank" style="min-width:2em"></span>日';

  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>约谈通知书 — ${name}</title>
<style>${NOTICE_STYLE}</style>
</head>
<body>
<div class="toolbar"><button type="button" onclick="${NOTICE_PRINT_HANDLER}">打印</button>打印时可选择“另存为 PDF”；本栏不会打印。</div>
<main class="page">
<div class="authority">${authority}</div>
<h1>约谈通知书</h1>
<p class="docno">编号：<span class="blank" style="min-width:8em"></span></p>

<p class="to">${name}（单位编号：${escapeHtml(unit.unit)}）：</p>
<p class="indent">经对你单位维护保养的 ${s.elevators} 台电梯在 ${span} 期间的定期检验、投诉等数据进行统计分析，你单位存在以下问题：</p>
<ol class="reasons">
${unit.reasons.map((r) => `<li>${escapeHtml(r.text)}</li>`).join('\n')}
</ol>
<p class="indent">为督促你单位落实电梯维护保养主体责任，依据《中华人民共和国特种设备安全法》等有关规定，本局决定对你单位进行约谈。请按下列时间、地点准时参加，并携带问题原因分析、整改措施及相关证明材料。</p>

<h2>一、约谈安排</h2>
<table class="arrangement">
<tr><th>约谈时间</th><td>${scheduled}</td></tr>
<tr><th>约谈地点</th><td>${place}</td></tr>
<tr><th>参加人员</th><td>${attendees}</td></tr>
</table>

<h2>二、主要指标（${span}）</h2>
<table class="figures">
${figureRows.join('\n')}
</table>
<p class="meta">注：一次合格率按首次定期检验计算（复检不计），首检数少于 ${list.criteria.minInspections} 的记为“${INSUFFICIENT}”；投诉率为每百台电梯投诉起数；所依据的记录见附件。
依据约谈名单第 ${list.id} 号（统计期间 ${escapeHtml(periodText(p, ' 至 '))}，第 ${list.version} 版，生成于 ${cstTime(list.generatedAt)} 北京时间），排名第 ${unit.rank}。</p>

<div class="sign">
<p>${authority}</p>
<p>${issued}</p>
<p class="seal">（印章）</p>
</div>

<div class="receipt">
<p>签收人：<span class="blank" style="min-width:8em"></span>　　签收日期：<span class="blank" style="min-width:8em"></span>　　（被约谈单位签收后交回）</p>
</div>

<section class="attachment">
<h2>附件：证据清单</h2>
<p>${name}，${span}，时间为北京时间。</p>
${evidenceTable('一、定期检验首检不合格记录', ['检验时间|nw', '电梯编号', '检验机构', '记录编号', '归属依据|nw'], inspections)}
${evidenceTable('二、投诉记录', ['投诉时间|nw', '来源|nw', '类别', '电梯编号', '记录编号', '归属依据|nw'], complaints)}
<p>注：“归属依据”为“记录载明”的，维保单位由记录本身载明；为“按登记”的，记录未载明维保单位，按电梯登记的维保单位认定。</p>
</section>
</main>
</body>
</html>
`;
}
