// 约谈名单: list versions, listed units with reasons, evidence drill-down,
// the case workflow (draft → published → scheduled → held → rectifying →
// closed) with each step's form, exports and the printable notice.
import { useEffect, useState } from 'preact/hooks';
import { api, qs, type ApiError } from '../api.js';
import { complaintCategory, label, reasonText, t, term, type Key, type ReasonData } from '../i18n.js';
import { useApi } from '../hooks.js';
import { useLiveFrames, useLiveRefresh } from '../live.js';
import { href, setQuery, type Route } from '../router.js';
import { dateTime, periodText, shortDateTime } from '../format.js';
import { actor, canWrite } from '../session.js';
import { Card, Empty, ErrorBox, Loaded, Modal } from '../ui.js';
import { FlagCell, type UnitFlagState } from './unit-flag.js';
import type { CaseState, InterviewCase, InterviewList, InterviewListSummary, Paged, Scorecard } from '../types.js';

const NEXT: Record<CaseState, Exclude<CaseState, 'draft'> | null> = { draft: 'published', published: 'scheduled', scheduled: 'held', held: 'rectifying', rectifying: 'closed', closed: null };
const ORDER: CaseState[] = ['draft', 'published', 'scheduled', 'held', 'rectifying', 'closed'];

export function InterviewsPage(props: { route: Route }) {
  const q = props.route.query;
  const lists = useApi<Paged<InterviewListSummary>>('/api/v1/interview-lists?pageSize=100');
  const listId = Number(q.get('list') ?? 0) || lists.data?.items[0]?.id || 0;
  const list = useApi<InterviewList>(listId ? `/api/v1/interview-lists/${listId}` : null);
  const l = list.data;
  const cases = useApi<Paged<InterviewCase>>(l ? `/api/v1/interview-cases${qs({ periodFrom: l.periodFrom, periodTo: l.periodTo, pageSize: 500 })}` : null);
  const flags = useApi<{ items: UnitFlagState[] }>(l ? `/api/v1/interview-lists/${l.id}/flags` : null);
  const flagOf = new Map((flags.data?.items ?? []).map((f) => [f.unit, f]));
  useLiveRefresh(['alert'], () => flags.reload(), 2000, ['kpi']);
  const [byUnit, setByUnit] = useState<Map<string, InterviewCase>>(new Map());
  useEffect(() => setByUnit(new Map((cases.data?.items ?? []).map((c) => [c.unit, c]))), [cases.data]);
  useLiveFrames((f) => {
    if (f.type !== 'case') return;
    const c = f.case as InterviewCase;
    if (!l || c.periodFrom !== l.periodFrom || c.periodTo !== l.periodTo) return;
    setByUnit((m) => new Map(m).set(c.unit, c));
  });
  useLiveRefresh([], () => cases.reload(), 2000, ['case', 'kpi']);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<ApiError | null>(null);
  const unit = q.get('unit');
  const writable = canWrite();

  const post = async (path: string, body: unknown, after: () => void) => {
    setBusy(true);
    setErr(null);
    try {
      const r = await api<{ id?: number }>(path, { method: 'POST', body });
      after();
      return r;
    } catch (e) {
      setErr(e as ApiError);
      return null;
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page" data-testid="page-interviews">
      <div class="page-head">
        <h1>{t('ivTitle')}</h1>
        <div class="filters">
          {writable && (
            <button class="btn small" disabled={busy} data-testid="generate-list" onClick={() => void post('/api/v1/interview-lists', l ? { from: l.periodFrom, to: l.periodTo } : {}, () => lists.reload()).then((r) => r?.id && setQuery({ list: r.id, unit: null }))}>{t('ivGenerate')}</button>
          )}
          {l && (
            <>
              <a class="btn small" href={`/api/v1/interview-lists/${l.id}/export?format=csv`} download data-testid="list-export-csv">{t('ivExportCsv')}</a>
              <a class="btn small" href={`/api/v1/interview-lists/${l.id}/export?format=xlsx`} download data-testid="list-export-xlsx">{t('ivExportXlsx')}</a>
            </>
          )}
        </div>
      </div>
      <ErrorBox error={err} />
      <div class="grid side">
        <Card title={t('ivVersions')} testid="list-versions">
          <Loaded data={lists.data} error={lists.error} reload={lists.reload}>
            {(d) => (d.items.length === 0 ? <Empty text={t('ivNoLists')} /> : (
              <ul class="list selectable">
                {d.items.map((x) => (
                  <li key={x.id} class={x.id === listId ? 'selected' : ''} onClick={() => setQuery({ list: x.id, unit: null })} data-testid={`list-version-${x.id}`}>
                    <b>{periodText(x.periodFrom, x.periodTo)}</b> · {t('ivVersion', { v: x.version })}
                    <div class="muted small">{t('ivGenerated', { t: shortDateTime(x.generatedAt) })} · {x.listed}/{x.considered}</div>
                  </li>
                ))}
              </ul>
            ))}
          </Loaded>
        </Card>
        <Card title={l ? `${t('ivUnits')} · ${periodText(l.periodFrom, l.periodTo)} · ${t('ivVersion', { v: l.version })}` : t('ivUnits')} testid="listed-units"
          actions={l && writable && byUnit.size < l.units.length && (
            <button class="btn small primary" disabled={busy} data-testid="open-cases" onClick={() => void post(`/api/v1/interview-lists/${l.id}/cases`, { by: actor() }, () => cases.reload())}>{t('ivOpenCases')}</button>
          )}>
          {!listId ? <Empty text={t('ivSelectList')} /> : (
            <Loaded data={list.data} error={list.error} reload={list.reload}>
              {(d) => (
                <table class="table">
                  <thead><tr><th>#</th><th>{t('unit')}</th><th>{t('ivReasons')}</th><th>{t('ivFlag')}</th><th>{t('ivCaseState')}</th><th /></tr></thead>
                  <tbody>
                    {d.units.map((u) => {
                      const c = byUnit.get(u.unit);
                      return (
                        <tr key={u.unit} class={`clickable${unit === u.unit ? ' selected' : ''}`} onClick={() => setQuery({ unit: u.unit })} data-testid={`listed-unit-${u.unit}`}>
                          <td>{u.rank}</td>
                          <td><b>{u.name ?? u.unit}</b><div class="muted small">{u.unit}</div></td>
                          <td><ul class="reasons">{u.reasons.map((r) => <li key={r.criterion}>{reasonText(r, countsOf(r, u.scorecard))}</li>)}</ul></td>
                          <td><FlagCell f={flagOf.get(u.unit)} /></td>
                          <td>{c ? <CaseBadge c={c} /> : <span class="muted">{t('ivNoCase')}</span>}</td>
                          <td><a href={`/api/v1/interview-lists/${d.id}/units/${encodeURIComponent(u.unit)}/notice`} target="_blank" rel="noopener" onClick={(e) => e.stopPropagation()} data-testid={`notice-${u.unit}`}>{t('ivNotice')}</a></td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
            </Loaded>
          )}
        </Card>
      </div>
      {l && unit && (
        <UnitPanel listId={l.id} unit={unit} c={byUnit.get(unit) ?? null} writable={writable} onClose={() => setQuery({ unit: null })}
          onCase={(c) => setByUnit((m) => new Map(m).set(c.unit, c))} />
      )}
    </div>
  );
}

function CaseBadge(props: { c: InterviewCase }) {
  return (
    <span class={`badge case-${props.c.state}`} data-testid={`case-state-${props.c.id}`} data-state={props.c.state}>
      {t(`case_${props.c.state}` as Key)}{props.c.repeatOf !== null && <> · {t('ivRepeat')}</>}
    </span>
  );
}

function UnitPanel(props: { listId: number; unit: string; c: InterviewCase | null; writable: boolean; onClose: () => void; onCase: (c: InterviewCase) => void }) {
  const ev = useApi<Record<string, unknown> & { name?: string; reasons?: ReasonData[]; scorecard?: Scorecard }>(`/api/v1/interview-lists/${props.listId}/units/${encodeURIComponent(props.unit)}/evidence`);
  const [step, setStep] = useState<Exclude<CaseState, 'draft'> | null>(null);
  const c = props.c;
  return (
    <Modal title={`${ev.data?.name ?? props.unit} · ${t('ivEvidence')}`} onClose={props.onClose} testid="unit-panel">
      {c && (
        <section class="case-box" data-testid={`case-${c.id}`}>
          <h3>{t('ivCase')} #{c.id} <CaseBadge c={c} /></h3>
          <ol class="steps">
            {ORDER.map((s) => <li key={s} class={ORDER.indexOf(s) <= ORDER.indexOf(c.state) ? 'done' : ''}>{t(`case_${s}` as Key)}</li>)}
          </ol>
          {props.writable && NEXT[c.state] && (
            <button class="btn primary" data-testid={`case-step-${NEXT[c.state]}`} onClick={() => setStep(NEXT[c.state])}>{t(`step_${NEXT[c.state]!}` as Key)}</button>
          )}
          {step && <StepForm c={c} step={step} onDone={(nc) => (props.onCase(nc), setStep(null))} onCancel={() => setStep(null)} />}
          <h3>{t('ivHistory')}</h3>
          <ul class="notes">
            {c.history.map((h, i) => (
              <li key={i}><span class="muted">{dateTime(h.at)} · {h.by}</span> <b>{t(`case_${h.state}` as Key)}</b> <FieldsText f={h.fields} /></li>
            ))}
          </ul>
        </section>
      )}
      <div class="row-end">
        <a class="btn small" href={`/api/v1/interview-lists/${props.listId}/units/${encodeURIComponent(props.unit)}/notice`} target="_blank" rel="noopener">{t('ivNotice')}</a>
      </div>
      <Loaded data={ev.data} error={ev.error} reload={ev.reload}>
        {(d) => (
          <div class="evidence-tables">
            {d.reasons && <ul class="reasons" data-testid="evidence-reasons">{d.reasons.map((r, i) => <li key={i}>{reasonText(r, d.scorecard ? countsOf(r, d.scorecard) : null)}</li>)}</ul>}
            {Object.entries(d).filter(([k, v]) => k !== 'reasons' && Array.isArray(v) && v.length > 0 && typeof v[0] === 'object').map(([k, v]) => (
              <EvidenceTable key={k} name={k} rows={v as Record<string, unknown>[]} />
            ))}
          </div>
        )}
      </Loaded>
    </Modal>
  );
}


export function EvidenceTable(props: { name: string; rows: Record<string, unknown>[] }) {
  const cols = [...new Set(props.rows.slice(0, 20).flatMap((r) => Object.keys(r)))].filter((c) => c !== 'unit_source' && c !== 'categoryCode');
  const title = label(props.name);
  const cell = (k: string, v: unknown, row: Record<string, unknown>) => (v === null || v === undefined ? '—' : /time|At$/.test(k) && typeof v === 'number' ? dateTime(v)
    : k === 'category' ? complaintCategory(row.categoryCode as string | null, String(v)) // a code the API gives for the common categories
    : typeof v === 'object' ? JSON.stringify(v) : term(v));
  return (
    <details open={props.rows.length <= 20} data-testid={`evidence-${props.name}`}>
      <summary><b>{title}</b> ({props.rows.length})</summary>
      <div class="scroll-x">
        <table class="table compact">
          <thead><tr>{cols.map((c) => <th key={c}>{label(c)}</th>)}</tr></thead>
          <tbody>{props.rows.slice(0, 200).map((r, i) => (
            <tr key={i}>{cols.map((c) => <td key={c}>{c === 'elevator' && typeof r[c] === 'string' ? <a href={href(`/equipment/elevator/${r[c] as string}`)}>{r[c] as string}</a> : cell(c, r[c], r)}</td>)}</tr>
          ))}</tbody>
        </table>
      </div>
    </details>
  );
}

function FieldsText(props: { f: Record<string, unknown> }) {
  const parts = Object.entries(props.f).filter(([k]) => k !== 'listId' && k !== 'version').map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join('、') : String(v)}`);
  return parts.length ? <span class="small">{parts.join('；')}</span> : null;
}

/** The counts behind a reason's rate, from the unit's scorecard. */
const countsOf = (r: ReasonData, s: Scorecard) => (r.criterion === 'pass_rate' ? { count: s.inspections.passed, of: s.inspections.first } : { count: s.complaints.count, of: s.elevators });

const lines = (s: string) => s.split('\n').map((x) => x.trim()).filter(Boolean);

function StepForm(props: { c: InterviewCase; step: Exclude<CaseState, 'draft'>; onDone: (c: InterviewCase) => void; onCancel: () => void }) {
  const [v, setV] = useState<Record<string, string>>({});
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: string) => (e: Event) => setV({ ...v, [k]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { by: actor() };
    if (props.step === 'scheduled') Object.assign(body, { scheduledAt: v.scheduledAt ? `${v.scheduledAt}:00+08:00` : '', place: v.place ?? '', attendees: lines(v.attendees ?? '') });
    if (props.step === 'held') Object.assign(body, { minutes: v.minutes ?? '', commitments: lines(v.commitments ?? '') });
    if (props.step === 'rectifying') Object.assign(body, { rectifyDue: v.rectifyDue ?? '' });
    if (props.step === 'closed') Object.assign(body, { conclusion: v.conclusion ?? '' });
    setBusy(true);
    setErr(null);
    try {
      props.onDone(await api<InterviewCase>(`/api/v1/interview-cases/${props.c.id}/${props.step}`, { method: 'POST', body }));
    } catch (x) {
      setErr(x as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const s = props.step;
  return (
    <form class="step-form" onSubmit={submit} data-testid={`step-form-${s}`}>
      {s === 'scheduled' && (
        <>
          <label class="field"><span>{t('fScheduledAt')} (UTC+8)</span><input type="datetime-local" required onInput={set('scheduledAt')} data-testid="f-scheduledAt" /></label>
          <label class="field"><span>{t('fPlace')}</span><input required onInput={set('place')} data-testid="f-place" /></label>
          <label class="field"><span>{t('fAttendees')}</span><textarea rows={3} required onInput={set('attendees')} data-testid="f-attendees" /></label>
        </>
      )}
      {s === 'held' && (
        <>
          <label class="field"><span>{t('fMinutes')}</span><textarea rows={4} required onInput={set('minutes')} data-testid="f-minutes" /></label>
          <label class="field"><span>{t('fCommitments')}</span><textarea rows={3} required onInput={set('commitments')} data-testid="f-commitments" /></label>
        </>
      )}
      {s === 'published' && <p class="small" data-testid="f-publish-confirm">{t('fPublishConfirm')}</p>}
      {s === 'rectifying' && <label class="field"><span>{t('fRectifyDue')}</span><input type="date" required onInput={set('rectifyDue')} data-testid="f-rectifyDue" /></label>}
      {s === 'closed' && <label class="field"><span>{t('fConclusion')}</span><textarea rows={3} required onInput={set('conclusion')} data-testid="f-conclusion" /></label>}
      <ErrorBox error={err} />
      <div class="row-end">
        <button type="button" class="btn ghost" onClick={props.onCancel}>{t('cancel')}</button>
        <button type="submit" class="btn primary" disabled={busy} data-testid="step-submit">{t(`step_${s}` as Key)}</button>
      </div>
    </form>
  );
}
