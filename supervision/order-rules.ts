// The rules of supervision orders (安全监察指令书) and the cases (立案) they
// escalate to, as pure functions from state to what may happen next. The
// store (supervision/orders.ts) applies them; the routes and the UI ask the
// same functions which actions are allowed now, so they never disagree.
//
//   order: open ─reply→ replied ─close→ closed
//                         └─send_back→ sent_back ─reply→ replied …
//          open | sent_back | replied, past the deadline ─escalate→ escalated (a case is filed)
//   case:  filed ─investigate→ investigating ─decide→ decided ─close→ closed
import { z } from 'zod';

export const ORDER_STATES = ['open', 'replied', 'sent_back', 'closed', 'escalated'] as const;
export type OrderState = (typeof ORDER_STATES)[number];
export const ORDER_ACTIONS = ['reply', 'send_back', 'close', 'escalate'] as const;
export type OrderAction = (typeof ORDER_ACTIONS)[number];

export const CASE_STATES = ['filed', 'investigating', 'decided', 'closed'] as const;
export type EnforcementState = (typeof CASE_STATES)[number];
export const CASE_ACTIONS = ['investigate', 'decide', 'close'] as const;
export type CaseAction = (typeof CASE_ACTIONS)[number];

const ORDER_RULES: Record<OrderAction, { from: readonly OrderState[]; to: OrderState; pastDue?: true }> = {
  reply: { from: ['open', 'sent_back'], to: 'replied' },
  send_back: { from: ['replied'], to: 'sent_back' },
  close: { from: ['replied'], to: 'closed' },
  escalate: { from: ['open', 'sent_back', 'replied'], to: 'escalated', pastDue: true },
};

const CASE_RULES: Record<CaseAction, { from: EnforcementState; to: EnforcementState }> = {
  investigate: { from: 'filed', to: 'investigating' },
  decide: { from: 'investigating', to: 'decided' },
  close: { from: 'decided', to: 'closed' },
};

export type Outcome<S> = { to: S } | { refused: string };

/** What `action` does to an order now: its next state, or why it is refused (a 409 for people). */
export function orderTransition(o: { id: number; state: OrderState; dueAt: number }, action: OrderAction, now: number): Outcome<OrderState> {
  const rule = ORDER_RULES[action];
  if (!rule.from.includes(o.state)) {
    const allowed = orderActions(o, now);
    return { refused: `order ${o.id} is ${o.state}: ${action} is not allowed now (${allowed.length ? `allowed: ${allowed.join(', ')}` : 'no further steps'})` };
  }
  if (rule.pastDue && now < o.dueAt) return { refused: `order ${o.id} is not past its rectification deadline yet; it can be escalated to a case only once overdue` };
  return { to: rule.to };
}

/** The actions an order allows now. */
export function orderActions(o: { state: OrderState; dueAt: number }, now: number): OrderAction[] {
  return ORDER_ACTIONS.filter((a) => ORDER_RULES[a].from.includes(o.state) && (!ORDER_RULES[a].pastDue || now >= o.dueAt));
}

export function caseTransition(c: { id: number; state: EnforcementState }, action: CaseAction): Outcome<EnforcementState> {
  const rule = CASE_RULES[action];
  if (rule.from === c.state) return { to: rule.to };
  const next = caseActions(c);
  return { refused: `case ${c.id} is ${c.state}: ${action} is not allowed now (${next.length ? `allowed: ${next.join(', ')}` : 'the case is closed'})` };
}

export const caseActions = (c: { state: EnforcementState }): CaseAction[] => CASE_ACTIONS.filter((a) => CASE_RULES[a].from === c.state);

/** Orders that have just gone overdue: still with the unit (open or sent back), past the deadline, not yet flagged. */
export const newlyOverdue = <O extends { state: OrderState; dueAt: number; overdueAt: number | null }>(orders: O[], now: number): O[] =>
  orders.filter((o) => (o.state === 'open' || o.state === 'sent_back') && now >= o.dueAt && o.overdueAt === null);

// ---------------------------------------------------------------------------
// What each step needs. `by` is set by the routes from the signed-in principal.

const by = z.string().min(1).max(64);
const text = (max: number) => z.string().trim().min(1).max(max);
/** An attachment: an http(s) URL or a file reference (a path-like name the unit's document store knows). */
const FILE_REF = /^[\p{L}\p{N}_.\-/ ()]{1,200}$/u;
const isAttachment = (s: string) => {
  if (FILE_REF.test(s) && !s.includes(':')) return true;
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
};
const attachment = z.string().max(500).refine(isAttachment, { message: 'must be an http(s) URL or a file reference (letters, digits, _ . - / space, at most 200)' });

export const unitKinds = ['maintenance', 'user'] as const;
export type UnitKind = (typeof unitKinds)[number];

export const OPEN_SCHEMA = z.object({
  by,
  unitKind: z.enum(unitKinds),
  /** a registered maintenance unit's id, or the user unit's name as the registry's elevators carry it */
  unit: text(200),
  items: z.array(text(1000)).min(1).max(30),
  /** the rectification deadline, YYYY-MM-DD (Beijing time, the whole day included) */
  dueOn: z.iso.date(),
  /** the legal basis cited on the printed order */
  basis: text(500).optional(),
  evidence: z.object({
    hazards: z.array(text(64)).max(50).default([]),
    alerts: z.array(z.number().int().positive()).max(50).default([]),
    elevators: z.array(text(64)).max(200).default([]),
  }).refine((e) => e.hazards.length + e.alerts.length + e.elevators.length > 0, { message: 'cite at least one hazard, alert or elevator as evidence' }),
});
export type OpenOrderInput = z.input<typeof OPEN_SCHEMA>;

export const ORDER_STEP_SCHEMAS = {
  reply: z.object({ by, text: text(5000), attachments: z.array(attachment).max(10, 'at most 10 attachments').default([]), onBehalfOf: text(200).optional() }),
  send_back: z.object({ by, reason: text(2000) }),
  close: z.object({ by, conclusion: text(2000) }),
  escalate: z.object({ by, reason: text(2000) }),
} as const satisfies Record<OrderAction, z.ZodType>;

export const CASE_STEP_SCHEMAS = {
  investigate: z.object({ by, note: text(5000) }),
  decide: z.object({ by, decision: text(5000), penaltyYuan: z.number().min(0).max(100_000_000).optional() }),
  close: z.object({ by, conclusion: text(2000) }),
} as const satisfies Record<CaseAction, z.ZodType>;

/** zod issues as one line a person can act on */
export { issuesText } from '../common/errors.js';

export const ORDER_STATE_ZH: Record<OrderState, string> = { open: '待整改', replied: '已回复待核查', sent_back: '已退回重新整改', closed: '已核查关闭', escalated: '已转立案' };
export const CASE_STATE_ZH: Record<EnforcementState, string> = { filed: '已立案', investigating: '调查中', decided: '已作出决定', closed: '已结案' };
export const UNIT_KIND_ZH: Record<UnitKind, string> = { maintenance: '维保单位', user: '使用单位' };
