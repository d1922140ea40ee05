// Webhook bodies: generic JSON, DingTalk custom robot and WeCom group robot.
// DingTalk: POST {msgtype:'markdown', markdown:{title,text}, at:{atMobiles}},
// signed robots add `timestamp` and `sign` = base64(HMAC-SHA256(secret,
// `${timestamp}\n${secret}`)) to the URL. WeCom: POST {msgtype:'markdown',
// markdown:{content}}. Both answer HTTP 200 with {errcode, errmsg}; errcode 0
// is success.
import { createHmac } from 'node:crypto';
import { ALERT_TYPE_ZH, SEVERITY_ZH } from '../../domain/alerts.js';
import { cstTime } from '../../domain/time.js';
import type { Contact } from '../../registry/schemas.js';
import { findingZh, UNIT_RATES_ALERT, type Finding, type UnitRateFigures } from '../rules/unit-rates.js';
import type { AlertResult } from '../store.js';

export interface Request {
  url: string;
  body: string;
  headers: Record<string, string>;
}

const TRANSITION_ZH: Record<string, string> = {
  raised: '新告警', severity_raised: '级别升高', escalated: '告警升级', reminded: '未确认提醒', acknowledged: '已确认', resolved: '已解除', repeated: '重复发生', noted: '新备注',
};
const SUBJECT_ZH: Record<string, string> = { elevator: '电梯', gas_site: '燃气场所', cylinder: '气瓶', maintenance_unit: '维保单位' };

/** The human text of a transition, in Chinese, as markdown lines. */
export function describe(ev: AlertResult, dashboardUrl?: string): { title: string; lines: string[] } {
  const a = ev.alert;
  const what = ALERT_TYPE_ZH[a.type] ?? a.type;
  const title = `【${SEVERITY_ZH[a.severity]}】${TRANSITION_ZH[ev.transition] ?? ev.transition}：${what}`;
  const lines = [
    `**${title}**`,
    `- ${SUBJECT_ZH[a.subjectKind] ?? a.subjectKind}：${a.subject}`,
    ...(a.district ? [`- 区域：${a.district}`] : []),
    ...(a.unit ? [`- 维保单位：${a.unit}`] : []),
    ...(a.type === UNIT_RATES_ALERT && ev.transition !== 'resolved' ? flagLines(a.evidence.at(-1)) : []),
    `- 首次发生：${cstTime(a.firstAt)}`,
    ...(a.count > 1 ? [`- 发生次数：${a.count}（最近 ${cstTime(a.lastAt)}）`] : []),
    ...(a.escalation > 0 ? [`- 升级级别：${a.escalation}`] : []),
    ...(ev.transition === 'acknowledged' && a.ackBy ? [`- 确认人：${a.ackBy}`] : []),
    ...(ev.transition === 'resolved' ? [`- 解除：${a.resolvedBy ?? ''}，${a.resolution ?? ''}，${cstTime(ev.at)}`] : []),
    ...(ev.lagMs > 60_000 ? [`- 注意：数据迟到 ${Math.round(ev.lagMs / 60_000)} 分钟`] : []),
    `- 告警编号：${a.id}`,
    ...(dashboardUrl ? [`- [在监控中心查看](${dashboardUrl.replace(/\/$/, '')}/alerts/${a.id})`] : []),
  ];
  return { title, lines };
}

/** A unit flag's twelve months and failed criteria, from its newest evidence. */
function flagLines(ev: unknown): string[] {
  const e = ev as { window?: { from: string; to: string }; figures?: UnitRateFigures; findings?: Finding[] } | undefined;
  if (!e?.figures || !e.findings) return [];
  return [...(e.window ? [`- 统计期：${e.window.from} 起十二个月`] : []), ...e.findings.map((f) => `- ${findingZh(f, e.figures!)}`)];
}

/** Builds the HTTP request for one contact. `key` identifies the transition × contact (for receivers that de-duplicate). */
export function render(ev: AlertResult, contact: Contact, key: string, now: number, dashboardUrl?: string): Request {
  const headers = { 'content-type': 'application/json; charset=utf-8', 'idempotency-key': key };
  const { title, lines } = describe(ev, dashboardUrl);
  if (contact.format === 'dingtalk') {
    let url = contact.webhook;
    if (contact.secret) {
      const sign = createHmac('sha256', contact.secret).update(`${now}\n${contact.secret}`).digest('base64');
      url += `${url.includes('?') ? '&' : '?'}timestamp=${now}&sign=${encodeURIComponent(sign)}`;
    }
    const mention = contact.phone ? `\n\n@${contact.phone}` : '';
    const body = { msgtype: 'markdown', markdown: { title, text: lines.join('\n') + mention }, at: { atMobiles: contact.phone ? [contact.phone] : [], isAtAll: false } };
    return { url, body: JSON.stringify(body), headers };
  }
  if (contact.format === 'wecom') {
    // WeCom markdown cannot @ by phone; mentions need the text type. The phone is shown instead.
    const content = lines.join('\n') + (contact.phone ? `\n> 联系人：${contact.name} ${contact.phone}` : '');
    return { url: contact.webhook, body: JSON.stringify({ msgtype: 'markdown', markdown: { content } }), headers };
  }
  return {
    url: contact.webhook,
    body: JSON.stringify({ key, seq: ev.seq, transition: ev.transition, at: ev.at, lagMs: ev.lagMs, contact: contact.id, title, text: lines.join('\n'), alert: ev.alert }),
    headers,
  };
}

/** Reads a robot's answer: DingTalk and WeCom say errcode 0 on success even though the status is always 200. */
export function robotError(format: Contact['format'], status: number, body: string): string | null {
  if (status < 200 || status >= 300) return `HTTP ${status}: ${body.slice(0, 200)}`;
  if (format === 'generic') return null;
  try {
    const r = JSON.parse(body) as { errcode?: number; errmsg?: string };
    return r.errcode === undefined || r.errcode === 0 ? null : `errcode ${r.errcode}: ${r.errmsg ?? ''}`;
  } catch {
    return `not a robot answer: ${body.slice(0, 200)}`;
  }
}
