// A unit flag (`unit_rates` alert) in the alert detail: the twelve months,
// the figures and failed criteria, and the button that opens the unit's
// interview case; and the flag column of the interview-list page.
import { useState } from 'preact/hooks';
import { api, type ApiError } from '../api.js';
import { reasonText, t } from '../i18n.js';
import { dateOnly } from '../format.js';
import { navigate } from '../router.js';
import { actor, canWrite } from '../session.js';
import { ErrorBox } from '../ui.js';
import type { Alert } from '../types.js';
import { EvidenceTable } from './interviews.js';

interface FlagEvidence {
  failedInspections?: Record<string, unknown>[];
  complaints?: Record<string, unknown>[];
  window?: { from: string; to: string };
  figures?: { first: number; passed: number; complaints: number; elevators: number; passRate: number | null; complaintRate: number | null };
  findings?: { criterion: 'pass_rate' | 'complaint_rate'; value: number; threshold: number }[];
}

/** The last day of a window whose end is exclusive (YYYY-MM-DD arithmetic, whatever the browser's time zone). */
const dayBefore = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

/**
 * One failed criterion for people, worded as the interview list's reasons (the decision was on the exact
 * rate; the figure is rounded for display, with more decimals where it would otherwise read as its threshold).
 */
function findingText(f: NonNullable<FlagEvidence['findings']>[number], g: NonNullable<FlagEvidence['figures']>): string {
  return reasonText({ ...f, text: '' }, f.criterion === 'pass_rate' ? { count: g.passed, of: g.first } : { count: g.complaints, of: g.elevators });
}

export function UnitFlagDetail(props: { a: Alert }) {
  const a = props.a;
  const ev = (a.evidence.at(-1) ?? {}) as FlagEvidence;
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<ApiError | null>(null);
  const openCase = async () => {
    setBusy(true);
    setErr(null);
    try {
      const r = await api<{ listId: number; case: { unit: string } }>(`/api/v1/alerts/${a.id}/interview-case`, { method: 'POST', body: { by: actor() } });
      navigate('/interviews', { list: r.listId, unit: r.case.unit });
    } catch (e) {
      setErr(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="unit-flag" data-testid={`unit-flag-${a.id}`}>
      {ev.window && <p>{t('flWindow', { from: ev.window.from, to: dayBefore(ev.window.to) })}</p>}
      {ev.figures && ev.findings && <ul class="reasons" data-testid="unit-flag-findings">{ev.findings.map((f) => <li key={f.criterion}>{findingText(f, ev.figures!)}</li>)}</ul>}
      {(['failedInspections', 'complaints'] as const).map((k) => (ev[k]?.length ? <EvidenceTable key={k} name={k} rows={ev[k]!} /> : null))}
      {canWrite() && (
        <button class="btn small primary" disabled={busy} onClick={() => void openCase()} data-testid={`open-case-${a.id}`}>{t('flOpenCase')}</button>
      )}
      <ErrorBox error={err} />
    </div>
  );
}

export interface UnitFlagState { unit: string; alertId: number; since: number; state: Alert['state']; resolvedAt: number | null }

/** The flag column of a listed unit: flagged since when, or flagged until when, or nothing. */
export function FlagCell(props: { f: UnitFlagState | undefined }) {
  const f = props.f;
  if (!f) return <span class="muted" data-testid="flag-none">—</span>;
  if (f.state !== 'resolved') {
    return <span class="badge sev-major" data-testid={`flag-${f.unit}`} data-state="active">{t('flActiveSince', { t: dateOnly(f.since) })}</span>;
  }
  return <span class="muted small" data-testid={`flag-${f.unit}`} data-state="resolved">{t('flWasFlagged', { from: dateOnly(f.since), to: dateOnly(f.resolvedAt) })}</span>;
}
