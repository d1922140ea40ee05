// 告警: the live alert feed with filters, actions (ack / resolve / note),
// escalation level, a visual cue and an optional beep for critical alerts.
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs, type ApiError } from '../api.js';
import { ALERT_TYPES, alertType, districtName, t, transitionLabel } from '../i18n.js';
import { useApi } from '../hooks.js';
import { useLiveFrames, useLiveRefresh } from '../live.js';
import { href, setQuery, type Route } from '../router.js';
import { dateTime, shortDateTime } from '../format.js';
import { actor, canWrite, currentUser } from '../session.js';
import { Card, ErrorBox, Loaded, Modal, Pager, Select, SevBadge, StateBadge } from '../ui.js';
import { MAP_DISTRICTS } from '../map/DistrictMap.js';
import { setSound, soundOn } from '../alarm.js';
import type { Alert, Paged } from '../types.js';
import { UnitFlagDetail } from './unit-flag.js';

const SEVS = ['critical', 'major', 'minor', 'warning'];
const STATES = ['active', 'open', 'acknowledged', 'resolved'];
const PAGE_SIZE = 50;
/**
 * The overdue reminders' types (alerts/routes.ts OVERDUE_TYPES: the daily rules' and overdue hazards'). Hundreds arrive at once each morning, so
 * the default view (events) leaves them out and shows one line per rule and day instead; the 超期提醒 view lists them.
 */
const OVERDUE_TYPES = ['maintenance_overdue', 'inspection_overdue', 'hazard_overdue'];
const VIEWS = ['event', 'overdue', 'all'] as const;
type View = (typeof VIEWS)[number];
const SEV_RANK: Record<string, number> = { critical: 4, major: 3, minor: 2, warning: 1 };
/** The list's order, as the server sorts it: most severe first (default) or newest first; then newest. */
const orderOf = (sort: string) => (a: Alert, b: Alert) => (sort === '-severity' ? (SEV_RANK[b.severity] ?? 0) - (SEV_RANK[a.severity] ?? 0) : 0) || b.id - a.id;

const STATE_RANK: Record<string, number> = { open: 0, acknowledged: 1, resolved: 2 };
/** The more advanced of two copies of an alert: an alert only moves forward (state, repeats, escalation, notes). */
function later(a: Alert, b: Alert | undefined): Alert {
  if (!b) return a;
  const key = (x: Alert) => [STATE_RANK[x.state] ?? 0, x.count, x.escalation, x.notes?.length ?? 0, x.lastAt];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! > kb[i]! ? a : b;
  return a;
}

interface Filter { severity: string; state: string; type: string; district: string; category: string }

function matches(a: Alert, f: Filter): boolean {
  if (f.category && OVERDUE_TYPES.includes(a.type) !== (f.category === 'overdue')) return false;
  if (f.severity && a.severity !== f.severity) return false;
  if (f.type && a.type !== f.type) return false;
  if (f.district && a.district !== f.district) return false;
  if (f.state === 'active' && a.state === 'resolved') return false;
  if (f.state && f.state !== 'active' && a.state !== f.state) return false;
  return true;
}

export function AlertsPage(props: { route: Route }) {
  const q = props.route.query;
  const stateParam = q.get('state') ?? 'active';
  const type = q.get('type') ?? '';
  // a link to an overdue type (the overview's tiles) opens the overdue view
  const view = (VIEWS as readonly string[]).includes(q.get('view') ?? '') ? (q.get('view') as View) : OVERDUE_TYPES.includes(type) ? 'overdue' : 'event';
  const sort = q.get('sort') === 'newest' ? '-id' : '-severity';
  const f: Filter = { severity: q.get('severity') ?? '', state: stateParam === 'all' ? '' : stateParam, type, district: q.get('district') ?? '', category: view === 'all' ? '' : view };
  const page = Number(q.get('page') ?? 1) || 1;
  const path = `/api/v1/alerts${qs({ ...f, sort, page, pageSize: PAGE_SIZE })}`;
  const res = useApi<Paged<Alert>>(path);
  const order = orderOf(sort);
  const orderRef = useRef(order);
  orderRef.current = order;
  const [bulk, setBulk] = useState<{ count: number; upToId: number } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [items, setItems] = useState<Alert[]>([]);
  const [total, setTotal] = useState(0);
  // alert id → the transition just heard for it (badged for a few seconds)
  const [fresh, setFresh] = useState<Map<number, string>>(new Map());
  const [open, setOpen] = useState<number | null>(null);
  const [dialog, setDialog] = useState<{ kind: 'resolve' | 'note'; alert: Alert } | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [sound, setSoundState] = useState(soundOn);
  const fRef = useRef(f);
  fRef.current = f;
  const pageRef = useRef(page);
  pageRef.current = page;

  // Alerts heard on the live feed, kept so a list fetched a moment earlier does not undo them when it arrives late.
  const heard = useRef(new Map<number, Alert>());
  useEffect(() => {
    if (!res.data) return;
    const page1 = pageRef.current === 1;
    const newest = Math.max(0, ...res.data.items.map((x) => x.id));
    const shown = new Set(res.data.items.map((x) => x.id));
    const missed = [...heard.current.values()].filter((a) => page1 && !shown.has(a.id) && a.id > newest && matches(a, fRef.current));
    setItems([...missed, ...res.data.items.map((x) => later(x, heard.current.get(x.id)))].sort(orderRef.current).slice(0, PAGE_SIZE));
    setTotal(res.data.total + missed.length);
  }, [res.data]);

  useLiveFrames((frame) => {
    if (frame.type === 'reset') return res.reload();
    if (frame.type !== 'alert') return;
    const a = frame.alert as Alert;
    const transition = frame.transition as string;
    heard.current.set(a.id, later(a, heard.current.get(a.id)));
    if (heard.current.size > 500) heard.current.delete(heard.current.keys().next().value!);
    setItems((prev) => {
      const i = prev.findIndex((x) => x.id === a.id);
      const fits = matches(a, fRef.current);
      if (i >= 0) {
        if (!fits) return prev.map((x) => (x.id === a.id ? a : x)); // keep it visible until the next reload, updated
        const next = prev.slice();
        next[i] = a;
        return next;
      }
      // only a new alert joins the list (an older one not shown belongs to another page), in the list's order
      if (!fits || pageRef.current !== 1 || (prev.length > 0 && a.id < Math.max(...prev.map((x) => x.id)))) return prev;
      setTotal((n) => n + 1);
      return [a, ...prev].sort(orderRef.current).slice(0, PAGE_SIZE);
    });
    if (transition === 'raised' || transition === 'severity_raised' || transition === 'escalated' || transition === 'repeated') {
      setFresh((s) => new Map(s).set(a.id, transition));
      setTimeout(() => setFresh((s) => { const n = new Map(s); n.delete(a.id); return n; }), 8000);
    }
  });

  const act = async (a: Alert, action: 'ack' | 'resolve' | 'notes', body: Record<string, string>) => {
    setActionError(null);
    try {
      const updated = await api<Alert>(`/api/v1/alerts/${a.id}/${action}`, { method: 'POST', body: { by: actor(), ...body } });
      setItems((prev) => prev.map((x) => (x.id === updated.id ? updated : x)));
      return true;
    } catch (e) {
      setActionError(e as ApiError);
      return false;
    }
  };
  /** Asks how many open alerts the filter matches (and the newest of them), then asks the user to confirm. */
  const askBulk = async () => {
    setActionError(null);
    setNotice(null);
    try {
      const r = await api<Paged<Alert>>(`/api/v1/alerts${qs({ ...f, state: 'open', sort: '-id', pageSize: 1 })}`);
      if (r.total === 0) setNotice(t('alAckAllNone'));
      else setBulk({ count: r.total, upToId: r.items[0]!.id });
    } catch (e) {
      setActionError(e as ApiError);
    }
  };
  const ackBulk = async (upToId: number) => {
    setActionError(null);
    try {
      const filter = Object.fromEntries(Object.entries({ severity: f.severity, type: f.type, district: f.district, category: f.category }).filter(([, v]) => v));
      const r = await api<{ acknowledged: number; remaining: number }>('/api/v1/alerts/ack', { method: 'POST', body: { filter, upToId } });
      setBulk(null);
      setNotice(t('alAckedMany', { n: r.acknowledged }));
      res.reload();
    } catch (e) {
      setActionError(e as ApiError);
    }
  };
  const toggleSound = () => {
    setSound(!sound);
    setSoundState(!sound);
  };
  const writable = canWrite();
  const districts = (currentUser()?.districts?.length ? currentUser()!.districts! : MAP_DISTRICTS);

  return (
    <div class="page" data-testid="page-alerts">
      <div class="page-head">
        <h1>{t('alTitle')}</h1>
        <div class="seg" data-testid="alert-views">
          {VIEWS.map((v) => (
            <button key={v} class={`btn small ${view === v ? 'on' : ''}`} data-testid={`alert-view-${v}`}
              onClick={() => setQuery({ view: v === 'event' ? null : v, type: v !== 'all' && OVERDUE_TYPES.includes(type) !== (v === 'overdue') ? null : type || null, page: null })}>
              {t(v === 'event' ? 'alViewEvents' : v === 'overdue' ? 'alViewOverdue' : 'alViewAll')}
            </button>
          ))}
        </div>
        <div class="filters">
          <Select label={t('alSort')} value={sort === '-id' ? 'newest' : ''} onChange={(v) => setQuery({ sort: v || null, page: null })} options={[['newest', t('alSortNewest')]]} allLabel={t('alSortSeverity')} testid="alert-sort" />
          <Select label={t('severity')} value={f.severity} onChange={(v) => setQuery({ severity: v, page: null })} options={SEVS.map((s) => [s, t(`sev_${s}` as 'sev_critical')])} testid="filter-severity" />
          <Select label={t('state')} value={f.state} onChange={(v) => setQuery({ state: v || 'all', page: null })} options={STATES.map((s) => [s, t(`st_${s}` as 'st_open')])} testid="filter-state" />
          <Select label={t('type')} value={f.type} onChange={(v) => setQuery({ type: v, page: null })} options={ALERT_TYPES.filter((x) => !f.category || OVERDUE_TYPES.includes(x) === (f.category === 'overdue')).map((s) => [s, alertType(s)])} testid="filter-type" />
          <Select label={t('district')} value={f.district} onChange={(v) => setQuery({ district: v, page: null })} options={districts.map((d) => [d, districtName(d)])} testid="filter-district" />
          <label class="field inline check">
            <input type="checkbox" checked={sound} onChange={toggleSound} data-testid="sound-toggle" />
            <span>{t('alSound')}</span>
          </label>
        </div>
      </div>
      <ErrorBox error={actionError} />
      {view === 'event' && <OverdueGroups district={f.district} />}
      {notice && <div class="notice" role="status" data-testid="alerts-notice">{notice}</div>}
      <Card actions={writable && f.state !== 'resolved' && f.state !== 'acknowledged' && (
        <button class="btn small" data-testid="alerts-ack-all" onClick={() => void askBulk()}>{t('alAckAll')}</button>
      )}>
        <Loaded data={res.data} error={res.error} reload={res.reload}>
          {() => (
            <>
              <table class="table alerts" data-testid="alerts-table">
                <thead>
                  <tr>
                    <th>#</th><th>{t('severity')}</th><th>{t('type')}</th><th>{t('alSubject')}</th><th>{t('district')}</th>
                    <th>{t('alFirst')}</th><th>{t('alLast')}</th><th class="num">{t('count')}</th><th>{t('state')}</th><th>{t('alEscalation')}</th><th />
                  </tr>
                </thead>
                <tbody>
                  {items.length === 0 && <tr><td colSpan={11} class="muted center">{t('empty')}</td></tr>}
                  {items.map((a) => (
                    <Fragment key={a.id}>
                      <tr class={`alert-row sev-row-${a.severity} st-row-${a.state}${a.severity === 'critical' && a.state === 'open' ? ' critical-open' : ''}${fresh.has(a.id) ? ' fresh' : ''}${open === a.id ? ' expanded' : ''}`}
                        data-testid={`alert-row-${a.id}`} data-severity={a.severity} onClick={() => setOpen(open === a.id ? null : a.id)}>
                        <td>{a.id}{fresh.has(a.id) && <span class={`badge new tr-${fresh.get(a.id)}`} data-testid="alert-transition">{transitionLabel(fresh.get(a.id)!)}</span>}</td>
                        <td><SevBadge s={a.severity} /></td>
                        <td>{alertType(a.type)}</td>
                        <td><SubjectLink a={a} /></td>
                        <td>{districtName(a.district)}</td>
                        <td>{shortDateTime(a.firstAt)}</td>
                        <td>{shortDateTime(a.lastAt)}</td>
                        <td class="num">{a.count}</td>
                        <td><StateBadge s={a.state} testid={`alert-state-${a.id}`} /></td>
                        <td data-testid={`alert-escalation-${a.id}`}>{a.escalation > 0 ? <span class="badge esc">{t('alEscLevel', { n: a.escalation })}</span> : <span class="muted">—</span>}</td>
                        <td class="actions" onClick={(e) => e.stopPropagation()}>
                          {writable && a.state === 'open' && <button class="btn small" data-testid={`alert-ack-${a.id}`} onClick={() => void act(a, 'ack', {})}>{t('alAck')}</button>}
                          {writable && a.state !== 'resolved' && <button class="btn small" data-testid={`alert-resolve-${a.id}`} onClick={() => setDialog({ kind: 'resolve', alert: a })}>{t('alResolve')}</button>}
                          {writable && <button class="btn small ghost" data-testid={`alert-note-${a.id}`} onClick={() => setDialog({ kind: 'note', alert: a })}>{t('alNote')}</button>}
                        </td>
                      </tr>
                      {open === a.id && (
                        <tr class="detail-row" data-testid={`alert-detail-${a.id}`}>
                          <td colSpan={11}><AlertDetail a={a} /></td>
                        </tr>
                      )}
                    </Fragment>
                  ))}
                </tbody>
              </table>
              <Pager page={page} pageSize={PAGE_SIZE} total={total} onPage={(p) => setQuery({ page: p })} />
            </>
          )}
        </Loaded>
      </Card>
      {bulk && (
        <Modal title={t('alAckAll')} onClose={() => setBulk(null)} testid="ack-all-dialog">
          <p data-testid="ack-all-count" data-count={bulk.count}>{t('alAckAllText', { n: bulk.count })}</p>
          <div class="row-end">
            <button type="button" class="btn ghost" onClick={() => setBulk(null)}>{t('cancel')}</button>
            <button type="button" class="btn primary" data-testid="ack-all-submit" onClick={() => void ackBulk(bulk.upToId)}>{t('alAckAllConfirm', { n: bulk.count })}</button>
          </div>
        </Modal>
      )}
      {dialog && (
        <TextDialog
          title={`${dialog.kind === 'resolve' ? t('alResolve') : t('alNote')} #${dialog.alert.id} · ${alertType(dialog.alert.type)} ${dialog.alert.subject}`}
          label={dialog.kind === 'resolve' ? t('alReason') : t('alNoteText')}
          testid={dialog.kind === 'resolve' ? 'resolve-dialog' : 'note-dialog'}
          onClose={() => setDialog(null)}
          onSubmit={async (text) => {
            const ok = await act(dialog.alert, dialog.kind === 'resolve' ? 'resolve' : 'notes', dialog.kind === 'resolve' ? { reason: text } : { text });
            if (ok) setDialog(null);
          }}
          error={actionError}
        />
      )}
    </div>
  );
}

/**
 * The daily overdue alerts of the default view: one line per rule and day opened (not one row per
 * elevator), each leading to the overdue view of that type. Refreshed when alerts change.
 */
function OverdueGroups(props: { district: string }) {
  const groups = useApi<{ items: { type: string; day: string; count: number; open: number; worst: string }[] }>(`/api/v1/alerts/groups${qs({ category: 'overdue', district: props.district })}`);
  useLiveRefresh(['alert', 'reset'], groups.reload, 5000);
  const items = groups.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <div class="card overdue-groups" data-testid="overdue-groups">
      <span class="muted small">{t('alGroupsTitle')}</span>
      <ul class="list compact-list">
        {items.slice(0, 8).map((g) => (
          <li key={`${g.type}|${g.day}`} data-testid={`overdue-group-${g.type}-${g.day}`} data-count={g.count}>
            <SevBadge s={g.worst} /> <strong>{alertType(g.type)}</strong> · {t('alGroupLine', { day: g.day, n: g.count, open: g.open })}{' '}
            <a href={href('/alerts', { view: 'overdue', type: g.type, district: props.district })} data-testid={`overdue-group-link-${g.type}`}>{t('alGroupView')} →</a>
          </li>
        ))}
      </ul>
    </div>
  );
}

function SubjectLink(props: { a: Alert }) {
  const a = props.a;
  if (a.subjectKind === 'elevator') return <a href={href(`/equipment/elevator/${a.subject}`)} onClick={(e) => e.stopPropagation()}>{a.subject}</a>;
  if (a.subjectKind === 'gas_site') return <a href={href(`/equipment/gas-site/${a.subject.split(':')[0]}`)} onClick={(e) => e.stopPropagation()}>{a.subject}</a>;
  if (a.subjectKind === 'maintenance_unit') return <a href={href('/scorecards', { unit: a.subject })} onClick={(e) => e.stopPropagation()}>{a.subject}</a>;
  return <span>{a.subject}</span>;
}

export function AlertDetail(props: { a: Alert }) {
  const a = props.a;
  return (
    <div class="alert-detail">
      <div class="kv">
        <span>{t('alOpened')}</span><b>{dateTime(a.openedAt)}</b>
        {a.unit && <><span>{t('unit')}</span><b>{a.unit}</b></>}
        {a.ackBy && <><span>{t('st_acknowledged')}</span><b>{t('alAckBy', { by: a.ackBy, t: dateTime(a.ackAt) })}</b></>}
        {a.resolvedBy && <><span>{t('st_resolved')}</span><b>{t('alResolvedBy', { by: a.resolvedBy, t: dateTime(a.resolvedAt), r: a.resolution ?? '' })}</b></>}
      </div>
      {a.type === 'unit_rates' && <UnitFlagDetail a={a} />}
      {a.notes.length > 0 && (
        <>
          <h3>{t('alNotes')}</h3>
          <ul class="notes">{a.notes.map((n, i) => <li key={i}><span class="muted">{dateTime(n.at)} · {n.by}</span> {n.text}</li>)}</ul>
        </>
      )}
      {a.evidence.length > 0 && (
        <>
          <h3>{t('alEvidence')}</h3>
          <pre class="evidence">{a.evidence.slice(-5).map((e) => JSON.stringify(e)).join('\n')}</pre>
        </>
      )}
    </div>
  );
}

export function TextDialog(props: { title: string; label: string; testid: string; onClose: () => void; onSubmit: (text: string) => Promise<void>; error: ApiError | null }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <Modal title={props.title} onClose={props.onClose} testid={props.testid}>
      <form onSubmit={(e) => { e.preventDefault(); setBusy(true); void props.onSubmit(text.trim()).finally(() => setBusy(false)); }}>
        <label class="field">
          <span>{props.label}</span>
          <textarea rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} required data-testid={`${props.testid}-text`} />
        </label>
        <ErrorBox error={props.error} />
        <div class="row-end">
          <button type="button" class="btn ghost" onClick={props.onClose}>{t('cancel')}</button>
          <button type="submit" class="btn primary" disabled={busy || !text.trim()} data-testid={`${props.testid}-submit`}>{t('submit')}</button>
        </div>
      </form>
    </Modal>
  );
}
