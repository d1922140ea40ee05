// The printable supervision order (特种设备安全监察指令书) and the order list
// as CSV/XLSX, with the interview notice's print stylesheet and the shared
// spreadsheet helpers of supervision/exports.ts: a complete HTML page, no
// external resources, everything from the data HTML-escaped.
import { cstTime } from '../domain/time.js';
import { addTable, csv, DEFAULT_AUTHORITY, escapeHtml, newWorkbook, NOTICE_PRINT_HANDLER, NOTICE_STYLE, toBuffer, zhDate, type Column } from './exports.js';
import { CASE_STATE_ZH, ORDER_STATE_ZH, UNIT_KIND_ZH } from './order-rules.js';
import type { EnforcementCase, OrderStep, SupervisionOrder } from './orders.js';

type Listed = SupervisionOrder & { overdue: boolean };

const evidenceText = (o: SupervisionOrder) => [
  o.evidence.hazards.length ? `隐患 ${o.evidence.hazards.join('、')}` : '',
  o.evidence.alerts.length ? `告警 ${o.evidence.alerts.join('、')}` : '',
  o.evidence.elevators.length ? `电梯 ${o.evidence.elevators.join('、')}` : '',
].filter(Boolean).join('；');

const ORDER_COLUMNS: Column<Listed>[] = [
  { header: '指令书编号', width: 18, format: 'text', value: (o) => o.number },
  { header: '对象类型', width: 9, format: 'text', value: (o) => UNIT_KIND_ZH[o.unitKind] },
  { header: '单位', width: 14, format: 'text', value: (o) => o.unit },
  { header: '单位名称', width: 26, format: 'text', value: (o) => o.unitName ?? '' },
  { header: '所在区', width: 9, format: 'text', value: (o) => o.district ?? '' },
  { header: '状态', width: 14, format: 'text', value: (o) => ORDER_STATE_ZH[o.state] },
  { header: '是否逾期', width: 9, format: 'text', value: (o) => (o.overdue || o.overdueAt !== null ? '是' : '否') },
  { header: '整改事项', width: 50, format: 'text', value: (o) => o.items.map((t, i) => `${i + 1}. ${t}`).join('\n') },
  { header: '证据', width: 40, format: 'text', value: evidenceText },
  { header: '整改期限', width: 12, format: 'text', value: (o) => o.dueOn },
  { header: '签发人', width: 10, format: 'text', value: (o) => o.issuedBy },
  { header: '签发时间（北京时间）', width: 20, format: 'text', value: (o) => cstTime(o.issuedAt) },
  { header: '案件编号', width: 9, format: 'int', value: (o) => o.caseId },
];

export const ordersCsv = (orders: Listed[]): string => csv(ORDER_COLUMNS, orders);

export async function ordersXlsx(orders: Listed[], now = Date.now()): Promise<Buffer> {
  const wb = newWorkbook();
  addTable(wb, '安全监察指令书', `特种设备安全监察指令书台账（导出于 ${cstTime(now)} 北京时间）`, ORDER_COLUMNS, orders, 1);
  return toBuffer(wb);
}

const ACTION_ZH: Record<string, string> = {
  open: '签发', reply: '单位回复', send_back: '退回', close: '核查关闭', escalate: '转立案', overdue: '逾期', file: '立案', investigate: '调查', decide: '作出决定',
};

const stepText = (s: OrderStep): string => {
  const f = s.fields as Record<string, unknown>;
  const parts = [f.text, f.reason, f.conclusion, f.note, f.decision, f.penaltyYuan !== undefined ? `罚款 ${String(f.penaltyYuan)} 元` : null,
    Array.isArray(f.attachments) && f.attachments.length ? `附件：${(f.attachments as string[]).join('、')}` : null, s.action === 'overdue' ? `逾期告警 ${String(f.alertId)}` : null];
  return parts.filter((x) => x !== undefined && x !== null && x !== '').map(String).join('；');
};

const ORDER_STYLE = `
  ol.items { margin: 6px 0 6px 2em; padding-left: 1em; }
  table.steps td.nw { white-space: nowrap; }
`;

/**
 * The order as it is served on the unit: to whom, the evidence, the items to
 * rectify, the deadline, the authority; then its record of steps (and the
 * case's, once escalated) as an attachment.
 */
export function orderHtml(o: SupervisionOrder, steps: OrderStep[], kase: EnforcementCase | null, opts: { authority?: string | undefined } = {}): string {
  const authority = escapeHtml(opts.authority || DEFAULT_AUTHORITY);
  const name = escapeHtml(o.unitName ?? o.unit);
  const issued = zhDate(cstTime(o.issuedAt).slice(0, 10));
  const ev = (label: string, xs: (string | number)[]) => `<tr><th>${label}</th><td>${xs.length ? xs.map(escapeHtml).join('、') : '无'}</td></tr>`;
  const rows = steps.map((s, i) => `<tr><td class="n">${i + 1}</td><td class="nw">${cstTime(s.at).slice(0, 16)}</td><td class="nw">${escapeHtml(ACTION_ZH[s.action] ?? s.action)}</td><td>${escapeHtml(s.by)}</td><td>${escapeHtml(stepText(s))}</td></tr>`).join('\n');
  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>特种设备安全监察指令书 — ${escapeHtml(o.number)} — ${name}</title>
<style>${NOTICE_STYLE}${ORDER_STYLE}</style>
</head>
<body>
<div class="toolbar"><button type="button" onclick="${NOTICE_PRINT_HANDLER}">打印</button>打印时可选择“另存为 PDF”；本栏不会打印。</div>
<main class="page">
<div class="authority">${authority}</div>
<h1>特种设备安全监察指令书</h1>
<p class="docno">${escapeHtml(o.number)}</p>

<p class="to">${name}（${UNIT_KIND_ZH[o.unitKind]}${o.unitKind === 'maintenance' ? `，单位编号：${escapeHtml(o.unit)}` : ''}）：</p>
<p class="indent">经查，你单位存在下列特种设备安全问题（证据见下表）。${o.basis ? `依据${escapeHtml(o.basis)}，` : '依据《中华人民共和国特种设备安全法》等有关规定，'}现责令你单位于 <strong>${escapeHtml(zhDate(o.dueOn))}</strong> 前完成下列整改，并将整改情况及证明材料书面回复本局。逾期未整改的，本局将依法立案查处。</p>
<h2>一、整改事项</h2>
<ol class="items">
${o.items.map((t) => `<li>${escapeHtml(t)}</li>`).join('\n')}
</ol>
<h2>二、证据</h2>
<table class="arrangement">
${ev('隐患', o.evidence.hazards)}
${ev('告警', o.evidence.alerts)}
${ev('电梯', o.evidence.elevators)}
</table>
<p class="meta">当前状态：${ORDER_STATE_ZH[o.state]}${kase ? `；案件 ${kase.id}：${CASE_STATE_ZH[kase.state]}` : ''}。签发人：${escapeHtml(o.issuedBy)}。</p>

<div class="sign">
<p>${authority}</p>
<p>${escapeHtml(issued)}</p>
<p class="seal">（印章）</p>
</div>

<div class="receipt">
<p>被监察单位签收人：<span class="blank" style="min-width:8em"></span>　　签收日期：<span class="blank" style="min-width:8em"></span></p>
</div>

<section class="attachment">
<h2>附件：办理记录</h2>
<table class="evidence steps"><thead><tr><th class="n">序号</th><th>时间（北京时间）</th><th>环节</th><th>办理人</th><th>内容</th></tr></thead><tbody>
${rows}
</tbody></table>
</section>
</main>
</body>
</html>
`;
}
