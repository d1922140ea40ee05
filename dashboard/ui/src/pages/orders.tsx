// 安全监察指令书: orders by state, one order with its evidence, steps and
// case, the actions the server allows now (its `actions` lists), a form per
// action, the printable order and the CSV/XLSX export.
import { useState } from 'preact/hooks';
import { api, qs, type ApiError } from '../api.js';
import { t, type Key } from '../i18n.js';
import { useApi } from '../hooks.js';
import { href, setQuery, type Route } from '../router.js';
import { dateTime, shanghaiDate, addDays } from '../format.js';
import { canWrite } from '../session.js';
import { Card, Empty, ErrorBox, Loaded, Modal, Pager } from '../ui.js';

const STATES = ['open', 'replied', 'sent_back', 'closed', 'escalated'] as const;
type OrderState = (typeof STATES)[number];

interface Order {
  id: number; number: string; unitKind: 'maintenance' | 'user'; unit: string; unitName: string | null; district: string | null; state: OrderState;
  items: string[]; basis: string | null; evidence: { hazards: string[]; alerts: number[]; elevators: string[] }; dueOn: string; issuedBy: string; issuedAt: number;
  overdue: boolean; overdueAt: number | null; caseId: number | null;
}
interface Step { id: number; subject: 'order' | 'case'; action: string; to: string; by: string; at: number; fields: Record<string, unknown> }
interface Kase { id: number; state: string; decision: string | null; penaltyYuan: number | null; actions: string[] }
interface Detail extends Order { actions: string[]; steps: Step[]; case: Kase | null }
interface OrderPage { items: Order[]; total: number; page: number; pageSize: number; counts: Record<string, number> }

const split = (s: string | undefined, re = /[,，\s]+/) => (s ?? '').split(re).map((x) => x.trim()).filter(Boolean);

export function OrdersPage(props: { route: Route }) {
  const q = props.route.query;
  const state = q.get('state') ?? '';
  const page = Number(q.get('page') ?? 1) || 1;
  const id = Number(q.get('order') ?? 0);
  const list = useApi<OrderPage>(`/api/v1/supervision-orders${qs({ state, page, pageSize: 50 })}`, { keep: true });
  const [creating, setCreating] = useState(false);
  const writable = canWrite();
  const counts = list.data?.counts ?? {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return (
    <div class="page" data-testid="page-orders">
      <div class="page-head">
        <h1>{t('odTitle')}</h1>
        <div class="filters">
          {writable && <button class="btn small primary" onClick={() => setCreating(true)} data-testid="order-new">{t('odNew')}</button>}
          <a class="btn small" href={`/api/v1/supervision-orders/export${qs({ format: 'csv', state })}`} download data-testid="orders-export-csv">{t('odExportCsv')}</a>
          <a class="btn small" href={`/api/v1/supervision-orders/export${qs({ format: 'xlsx', state })}`} download data-testid="orders-export-xlsx">{t('odExportXlsx')}</a>
        </div>
      </div>
      <div class="tabs" data-testid="order-tabs">
        <a class={state === '' ? 'active' : ''} href={href('/orders')} data-testid="order-tab-all">{t('all')} ({total})</a>
        {STATES.map((s) => <a key={s} class={state === s ? 'active' : ''} href={href('/orders', { state: s })} data-testid={`order-tab-${s}`}>{t(`os_${s}` as Key)} ({counts[s] ?? 0})</a>)}
      </div>
      <Card testid="orders-list">
        <Loaded data={list.data} error={list.error} reload={list.reload}>
          {(d) => (d.items.length === 0 ? <Empty text={t('odNone')} /> : (
            <>
              <table class="table">
                <thead><tr><th>{t('odNumber')}</th><th>{t('odUnit')}</th><th>{t('state')}</th><th>{t('odDue')}</th><th>{t('odIssued')}</th></tr></thead>
                <tbody>
                  {d.items.map((o) => (
                    <tr key={o.id} class={`clickable${o.id === id ? ' selected' : ''}`} onClick={() => setQuery({ order: o.id })} data-testid={`order-row-${o.id}`}>
                      <td>{o.number}</td>
                      <td><b>{o.unitName ?? o.unit}</b><div class="muted small">{t(`odKind_${o.unitKind}` as Key)} · {o.unit}</div></td>
                      <td>{o.overdue && <span class="badge overdue">{t('odOverdue')}</span>}<OrderBadge s={o.state} id={o.id} /></td>
                      <td>{o.dueOn}</td>
                      <td>{o.issuedBy}<div class="muted small">{dateTime(o.issuedAt)}</div></td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager page={d.page} pageSize={d.pageSize} total={d.total} onPage={(p) => setQuery({ page: p })} />
            </>
          ))}
        </Loaded>
      </Card>
      {id > 0 && <OrderPanel id={id} writable={writable} onClose={() => setQuery({ order: null })} onChange={list.reload} />}
      {creating && <NewOrder onClose={() => setCreating(false)} onDone={(o) => (setCreating(false), list.reload(), setQuery({ order: o.id }))} />}
    </div>
  );
}

const OrderBadge = (p: { s: string; id: number }) => <span class={`badge order-${p.s}`} data-testid={`order-state-${p.id}`} data-state={p.s}>{t(`os_${p.s}` as Key)}</span>;

function OrderPanel(props: { id: number; writable: boolean; onClose: () => void; onChange: () => void }) {
  const d = useApi<Detail>(`/api/v1/supervision-orders/${props.id}`);
  const [form, setForm] = useState<{ path: string; action: string } | null>(null);
  const done = () => (setForm(null), d.reload(), props.onChange());
  return (
    <Modal title={d.data ? `${d.data.number} · ${d.data.unitName ?? d.data.unit}` : t('odTitle')} onClose={props.onClose} testid="order-panel">
      <Loaded data={d.data} error={d.error} reload={d.reload}>
        {(o) => (
          <section class="case-box" data-testid={`order-${o.id}`}>
            <h3>{o.overdue && <span class="badge overdue">{t('odOverdue')}</span>}<OrderBadge s={o.state} id={o.id} /> {t('odDue')} {o.dueOn}</h3>
            <ol class="items">{o.items.map((x, i) => <li key={i}>{x}</li>)}</ol>
            <p class="small" data-testid="order-evidence"><b>{t('odEvidence')}</b>：{[
              o.evidence.hazards.length > 0 && <span key="h">{t('odHazards')} {o.evidence.hazards.join('、')}</span>,
              o.evidence.alerts.length > 0 && <span key="a">{t('odAlerts')} {o.evidence.alerts.map((a) => `#${a}`).join(' ')}</span>,
              o.evidence.elevators.length > 0 && <span key="e">{t('odElevators')} {o.evidence.elevators.map((e) => <a key={e} href={href(`/equipment/elevator/${e}`)}>{e} </a>)}</span>,
            ].filter(Boolean).flatMap((x, i) => (i ? [' · ', x] : [x]))}</p>
            {props.writable && (
              <div class="row-end" data-testid="order-actions">
                {o.actions.map((a) => <button key={a} class="btn small" onClick={() => setForm({ path: `/api/v1/supervision-orders/${o.id}/${a}`, action: a })} data-testid={`order-action-${a}`}>{t(`oa_${a}` as Key)}</button>)}
                {o.case?.actions.map((a) => <button key={`c${a}`} class="btn small" onClick={() => setForm({ path: `/api/v1/enforcement-cases/${o.case!.id}/${a}`, action: a === 'close' ? 'case_close' : a })} data-testid={`case-action-${a}`}>{t(`oa_${a === 'close' ? 'case_close' : a}` as Key)}</button>)}
              </div>
            )}
            {form && <StepForm {...form} unit={o.unitName ?? o.unit} onDone={done} onCancel={() => setForm(null)} />}
            {o.case && <p data-testid="order-case"><b>{t('odCase')} #{o.case.id}</b> <span class="badge" data-state={o.case.state} data-testid="case-state">{t(`cs_${o.case.state}` as Key)}</span>{o.case.decision && <> · {o.case.decision}</>}</p>}
            <h3>{t('odSteps')}</h3>
            <ul class="notes" data-testid="order-steps">
              {o.steps.map((s) => (
                <li key={s.id}><span class="muted">{dateTime(s.at)} · {s.by}</span> <b>{t(`oa_${s.subject === 'case' && s.action === 'close' ? 'case_close' : s.action}` as Key)}</b> <span class="small">{fieldsText(s.fields)}</span></li>
              ))}
            </ul>
            <div class="row-end"><a class="btn small" href={`/api/v1/supervision-orders/${o.id}/print`} target="_blank" rel="noopener" data-testid="order-print">{t('odPrint')}</a></div>
          </section>
        )}
      </Loaded>
    </Modal>
  );
}

const fieldsText = (f: Record<string, unknown>) =>
  Object.entries(f).filter(([k]) => !['items', 'evidence', 'dueOn', 'caseId', 'alertId'].includes(k) && f[k] !== null)
    .map(([k, v]) => (k === 'penaltyYuan' ? `${t('ofPenalty')} ${String(v)}` : Array.isArray(v) ? v.join('、') : String(v))).join('；');

/** One form per step; the fields are what the step's schema asks for. */
const FIELDS: Record<string, [string, 'text' | 'lines' | 'number'][]> = {
  reply: [['text', 'text'], ['attachments', 'lines'], ['onBehalfOf', 'text']],
  send_back: [['reason', 'text']], escalate: [['reason', 'text']], close: [['conclusion', 'text']],
  investigate: [['note', 'text']], decide: [['decision', 'text'], ['penaltyYuan', 'number']], case_close: [['conclusion', 'text']],
};
const LABEL: Record<string, Key> = { text: 'ofText', attachments: 'ofAttachments', onBehalfOf: 'ofOnBehalf', reason: 'ofReason', conclusion: 'ofConclusion', note: 'ofNote', decision: 'ofDecision', penaltyYuan: 'ofPenalty' };

function StepForm(props: { path: string; action: string; unit: string; onDone: () => void; onCancel: () => void }) {
  const [v, setV] = useState<Record<string, string>>({ onBehalfOf: props.unit });
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = FIELDS[props.action] ?? [];
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [k, kind] of fields) {
      if (!v[k]) continue;
      body[k] = kind === 'lines' ? split(v[k], /\n+/) : kind === 'number' ? Number(v[k]) : v[k];
    }
    setBusy(true);
    setErr(null);
    try {
      await api(props.path, { method: 'POST', body });
      props.onDone();
    } catch (x) {
      setErr(x as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="step-form" onSubmit={submit} data-testid={`order-form-${props.action}`}>
      {fields.map(([k, kind]) => (
        <label class="field" key={k}><span>{t(LABEL[k]!)}</span>
          {kind === 'number' ? <input type="number" min={0} value={v[k] ?? ''} onInput={(e) => setV({ ...v, [k]: (e.target as HTMLInputElement).value })} data-testid={`of-${k}`} />
            : <textarea rows={kind === 'lines' ? 3 : 2} required={k !== 'attachments' && k !== 'onBehalfOf'} value={v[k] ?? ''} onInput={(e) => setV({ ...v, [k]: (e.target as HTMLTextAreaElement).value })} data-testid={`of-${k}`} />}
        </label>
      ))}
      <ErrorBox error={err} />
      <div class="row-end">
        <button type="button" class="btn ghost" onClick={props.onCancel}>{t('cancel')}</button>
        <button type="submit" class="btn primary" disabled={busy} data-testid="order-form-submit">{t(`oa_${props.action}` as Key)}</button>
      </div>
    </form>
  );
}

function NewOrder(props: { onClose: () => void; onDone: (o: Order) => void }) {
  const [v, setV] = useState<Record<string, string>>({ unitKind: 'maintenance', dueOn: addDays(shanghaiDate(), 15) });
  const [err, setErr] = useState<ApiError | null>(null);
  const set = (k: string) => (e: Event) => setV({ ...v, [k]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    try {
      props.onDone(await api<Order>('/api/v1/supervision-orders', {
        method: 'POST',
        body: {
          unitKind: v.unitKind, unit: v.unit ?? '', items: split(v.items, /\n+/), dueOn: v.dueOn, ...(v.basis ? { basis: v.basis } : {}),
          evidence: { hazards: split(v.hazards), alerts: split(v.alerts).map(Number), elevators: split(v.elevators) },
        },
      }));
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  return (
    <Modal title={t('odNew')} onClose={props.onClose} testid="order-new-form">
      <form class="step-form" onSubmit={submit}>
        <label class="field"><span>{t('odUnitKind')}</span>
          <select value={v.unitKind} onChange={set('unitKind')} data-testid="nf-unitKind">
            <option value="maintenance">{t('odKind_maintenance')}</option><option value="user">{t('odKind_user')}</option>
          </select>
        </label>
        <label class="field"><span>{t('odUnit')}</span><input required onInput={set('unit')} data-testid="nf-unit" /></label>
        <label class="field"><span>{t('odItems')}</span><textarea rows={3} required onInput={set('items')} data-testid="nf-items" /></label>
        <label class="field"><span>{t('odDue')}</span><input type="date" required value={v.dueOn} onInput={set('dueOn')} data-testid="nf-dueOn" /></label>
        <label class="field"><span>{t('odHazards')} ({t('odListHint')})</span><input onInput={set('hazards')} data-testid="nf-hazards" /></label>
        <label class="field"><span>{t('odAlerts')} ({t('odListHint')})</span><input onInput={set('alerts')} data-testid="nf-alerts" /></label>
        <label class="field"><span>{t('odElevators')} ({t('odListHint')})</span><input onInput={set('elevators')} data-testid="nf-elevators" /></label>
        <label class="field"><span>{t('odBasis')}</span><input onInput={set('basis')} data-testid="nf-basis" /></label>
        <ErrorBox error={err} />
        <div class="row-end">
          <button type="button" class="btn ghost" onClick={props.onClose}>{t('cancel')}</button>
          <button type="submit" class="btn primary" data-testid="nf-submit">{t('odNew')}</button>
        </div>
      </form>
    </Modal>
  );
}
