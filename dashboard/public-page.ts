// The public elevator page (一梯一码) and the QR label sheets, as server-rendered
// HTML: no script at all (fast on a phone, nothing for the CSP to allow), a
// plain form for the complaint. Pure functions from facts to HTML; the routes
// (dashboard/public-routes.ts) gather the facts.
import QRCode from 'qrcode';
import { COMPLAINT_CATEGORIES, type ComplaintCategoryCode } from '../domain/complaint-categories.js';
import { escapeHtml as esc } from '../supervision/exports.js';

export type Lang = 'zh' | 'en';

/** Only what a resident may see: what is on the elevator's certificate and sticker, no internal ids beyond the code. */
export interface PublicFacts {
  code: string;
  address: string;
  userUnit: string;
  maintenanceUnitName: string;
  /** YYYY-MM-DD (China Standard Time) of the newest routine maintenance, or null */
  lastRoutine: string | null;
  nextInspectionDue: string | null;
  inspection: 'valid' | 'overdue' | 'unknown';
  risk: string | null;
}

export const HOTLINE = '96333';

const CATEGORY_EN: Record<ComplaintCategoryCode, string> = {
  entrapment: 'Trapped in the car', noise: 'Strange noise', vibration: 'Shaking while running', door_fault: 'Door does not open/close properly',
  frequent_stops: 'Often out of service', poor_maintenance: 'Poor maintenance', button_fault: 'Buttons do not work',
  lighting_ventilation: 'Lighting or ventilation fault', levelling: 'Stops above/below the floor', certificate_expired: 'Inspection sticker expired',
};
export const categoryText = (c: ComplaintCategoryCode, lang: Lang) => (lang === 'zh' ? COMPLAINT_CATEGORIES[c] : CATEGORY_EN[c]);

const RISK: Record<string, [string, string]> = { high: ['高', 'High'], elevated: ['较高', 'Elevated'], general: ['一般', 'General'], low: ['低', 'Low'] };

const T = {
  title: ['电梯公示信息', 'Elevator information'],
  code: ['注册代码', 'Registration code'],
  address: ['安装地址', 'Address'],
  userUnit: ['使用单位', 'User unit'],
  maintenanceUnit: ['维保单位', 'Maintenance unit'],
  lastRoutine: ['最近一次例行维保', 'Last routine maintenance'],
  nextInspection: ['下次定期检验', 'Next periodic inspection'],
  risk: ['风险等级', 'Risk level'],
  none: ['无记录', 'no record'],
  valid: ['在检验有效期内', 'within validity'],
  overdue: ['已超过检验有效期', 'inspection overdue'],
  unknown: ['未登记', 'not registered'],
  hotline: ['电梯应急处置服务热线', 'Elevator emergency hotline'],
  trapped: ['被困电梯请勿扒门，请按轿厢内警铃或拨打', 'If trapped, do not force the doors: press the alarm button or call'],
  complain: ['反映问题', 'Report a problem'],
  complainHint: ['选择问题类型后提交，无需登录，不收集个人信息。', 'Choose the kind of problem and send it. No account needed; nothing personal is collected.'],
  category: ['问题类型', 'Problem'],
  choose: ['请选择', 'Choose'],
  send: ['提交', 'Send'],
  sent: ['已收到您反映的问题，监管部门将督促维保单位处理。谢谢！', 'Thank you: your report was received; the supervisors will follow it up with the maintenance unit.'],
  other: ['English', '中文'],
  notFound: ['未找到该电梯', 'Elevator not found'],
  label: ['扫码查看电梯信息、反映问题', 'Scan for this elevator\'s information and to report a problem'],
  labelsOf: ['电梯二维码标签', 'Elevator QR labels'],
  printHint: ['用浏览器打印（Ctrl+P）本页，每部电梯一张标签。', 'Print this page from the browser (Ctrl+P): one label per elevator.'],
} satisfies Record<string, [string, string]>;
const t = (k: keyof typeof T, lang: Lang) => T[k][lang === 'zh' ? 0 : 1];

const STYLE = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;color:#1f2937;background:#f3f4f6}
main{max-width:640px;margin:0 auto;padding:12px}header{display:flex;justify-content:space-between;align-items:center;gap:8px}h1{font-size:1.25rem;margin:8px 0}
section{background:#fff;border-radius:8px;padding:12px;margin:12px 0;box-shadow:0 1px 2px #0001}dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 12px;margin:0}
dt{color:#6b7280}dd{margin:0;overflow-wrap:anywhere}.bad{color:#b91c1c;font-weight:600}.ok{color:#047857}.hot{font-size:1.5rem;font-weight:700;color:#b91c1c}
select,button{font:inherit;padding:10px;width:100%;margin:6px 0;border-radius:6px;border:1px solid #d1d5db}button{background:#1d4ed8;color:#fff;border:0}
.msg{padding:10px;border-radius:6px}.msg.err{background:#fee2e2;color:#991b1b}.msg.ok{background:#d1fae5;color:#065f46}a{color:#1d4ed8}`;

function doc(lang: Lang, title: string, body: string, style = STYLE): string {
  return `<!doctype html><html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="robots" content="noindex"><link rel="icon" href="data:,"><title>${esc(title)}</title><style>${style}</style></head><body>${body}</body></html>`;
}

const pagePath = (code: string) => `/e/${encodeURIComponent(code)}`;
const toggle = (path: string, lang: Lang) => `<a href="${esc(path)}?lang=${lang === 'zh' ? 'en' : 'zh'}" data-testid="lang-toggle">${t('other', lang)}</a>`;

/** The public page of one elevator; `notice` is the answer to a complaint just sent (or refused). */
export function renderPublicPage(f: PublicFacts, lang: Lang, notice?: { ok: boolean; text: string }): string {
  const risk = f.risk === null ? '—' : (RISK[f.risk]?.[lang === 'zh' ? 0 : 1] ?? f.risk);
  const inspectionClass = f.inspection === 'overdue' ? 'bad' : f.inspection === 'valid' ? 'ok' : '';
  const row = (k: keyof typeof T, v: string, id: string, cls = '') => `<dt>${t(k, lang)}</dt><dd data-testid="${id}"${cls ? ` class="${cls}"` : ''}>${v}</dd>`;
  const options = (Object.keys(COMPLAINT_CATEGORIES) as ComplaintCategoryCode[]).map((c) => `<option value="${c}">${esc(categoryText(c, lang))}</option>`).join('');
  const path = pagePath(f.code);
  const body = `<main data-testid="public-elevator"><header><h1>${t('title', lang)}</h1>${toggle(path, lang)}</header>
<section><dl>${row('code', esc(f.code), 'pub-code')}${row('address', esc(f.address), 'pub-address')}${row('userUnit', esc(f.userUnit), 'pub-user-unit')}
${row('maintenanceUnit', esc(f.maintenanceUnitName), 'pub-maintenance-unit')}${row('lastRoutine', esc(f.lastRoutine ?? t('none', lang)), 'pub-last-routine')}
${row('nextInspection', `${esc(f.nextInspectionDue ?? '—')} <span>${t(f.inspection, lang)}</span>`, 'pub-inspection', inspectionClass)}${row('risk', esc(risk), 'pub-risk')}</dl></section>
<section><div>${t('hotline', lang)}</div><a class="hot" href="tel:${HOTLINE}" data-testid="pub-hotline">${HOTLINE}</a><div>${t('trapped', lang)} ${HOTLINE}</div></section>
<section><h2>${t('complain', lang)}</h2>${notice ? `<p class="msg ${notice.ok ? 'ok' : 'err'}" data-testid="pub-notice" role="status">${esc(notice.text)}</p>` : ''}
<p>${t('complainHint', lang)}</p><form method="post" action="${esc(path)}/complaint?lang=${lang}"><label>${t('category', lang)}
<select name="category" required data-testid="pub-category"><option value="">${t('choose', lang)}</option>${options}</select></label>
<button type="submit" data-testid="pub-send">${t('send', lang)}</button></form></section></main>`;
  return doc(lang, `${t('title', lang)} ${f.code}`, body);
}

export const sentText = (lang: Lang) => t('sent', lang);

/** A readable page for an error (unknown elevator, a refused complaint without a page to show it on). */
export function renderErrorPage(lang: Lang, title: string, text: string): string {
  return doc(lang, title, `<main data-testid="public-error"><header><h1>${esc(title)}</h1></header><section><p class="msg err">${esc(text)}</p>
<p>${t('hotline', lang)}: <a class="hot" href="tel:${HOTLINE}">${HOTLINE}</a></p></section></main>`);
}
export const notFoundTitle = (lang: Lang) => t('notFound', lang);

/**
 * The QR code of a URL as SVG. The options are fixed here so a label is the
 * same whenever it is printed (and a test can regenerate it).
 */
export const QR_OPTIONS = { type: 'svg', errorCorrectionLevel: 'M', margin: 2 } as const;
export const qrSvg = (url: string): Promise<string> => QRCode.toString(url, QR_OPTIONS);

export interface Label { code: string; address: string; url: string; svg: string }

const LABEL_STYLE = `*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,"Noto Sans CJK SC",sans-serif;color:#111}main{padding:8mm}
.hint{color:#555}@media print{.hint{display:none}}.sheet{display:flex;flex-wrap:wrap;gap:6mm}
.label{width:62mm;border:1px solid #111;border-radius:3mm;padding:3mm;text-align:center;break-inside:avoid}.label svg{width:100%;height:auto}
.code{font-weight:700;font-size:16px}.url{font-size:9px;overflow-wrap:anywhere;color:#333}`;

/** A printable sheet of labels: one per elevator (one label, or a building's elevators). */
export function renderLabels(title: string, labels: Label[], lang: Lang = 'zh'): string {
  const items = labels.map((l) => `<div class="label" data-testid="qr-label" data-code="${esc(l.code)}" data-url="${esc(l.url)}"><div class="code">${esc(l.code)}</div>
<div>${esc(l.address)}</div>${l.svg}<div>${t('label', lang)}</div><div>${t('hotline', lang)} ${HOTLINE}</div><div class="url">${esc(l.url)}</div></div>`).join('');
  return doc(lang, title, `<main><h1>${esc(title)}</h1><p class="hint">${t('printHint', lang)}</p><div class="sheet">${items}</div></main>`, LABEL_STYLE);
}
export const labelsTitle = (lang: Lang) => t('labelsOf', lang);
