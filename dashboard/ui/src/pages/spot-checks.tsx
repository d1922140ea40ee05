// 双随机抽查: draw elevators or units weighted by risk level with random
// inspectors (admins and inspectors), the draws with their seeds, each
// check's result recorded by its own inspector; and the public results page
// (一公开), shown without sign-in.
import { useState } from 'preact/hooks';
import { api, qs, type ApiError } from '../api.js';
import { districtName, getLang, setLang, t, type Key } from '../i18n.js';
import { useApi } from '../hooks.js';
import { href, setQuery, type Route } from '../router.js';
import { dateTime, shanghaiDate, addDays } from '../format.js';
import { Brand, Card, ErrorBox, Loaded, Select } from '../ui.js';
import { currentUser } from '../session.js';
import type { Paged } from '../types.js';
import { RISK_LEVELS, RiskBadge, riskName, type RiskLevel } from './risk.js';

interface Draw {
  id: number; kind: 'elevator' | 'unit'; periodFrom: string; periodTo: string; n: number; seed: number;
  params: { districts: string[] | null; weights: Record<RiskLevel, number>; candidates: number }; drawnBy: string; drawnAt: number; done?: number;
}
interface Check {
  id: number; drawId: number; code: string; unit: string; unitName: string | null; district: string; address: string; level: RiskLevel; inspector: string;
  result: 'passed' | 'problems' | null; problems: string | null; checkedOn: string | null; recordedBy: string | null;
}
interface PublishedCheck { drawId: number; periodFrom: string; periodTo: string; code: string; address: string; unitName: string; checkedOn: string; result: 'passed' | 'problems' }

const resultText = (r: string | null) => (r ? t(`sp_${r}` as Key) : t('spPending'));

function DrawForm(props: { onDone: (id: number) => void }) {
  const today = shanghaiDate();
  const [v, setV] = useState<Record<string, string>>({ kind: 'elevator', n: '10', from: today.slice(0, 8) + '01', to: addDays(today.slice(0, 8) + '01', 31).slice(0, 8) + '01', seed: '', high: '4', elevated: '3', general: '2', low: '1' });
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: string) => (e: Event) => setV({ ...v, [k]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const body = {
        kind: v.kind, n: Number(v.n), from: v.from, to: v.to, ...(v.seed ? { seed: Number(v.seed) } : {}),
        weights: Object.fromEntries(RISK_LEVELS.map((l) => [l, Number(v[l])])),
      };
      const r = await api<{ draw: Draw }>('/api/v1/spot-checks/draws', { method: 'POST', body });
      props.onDone(r.draw.id);
    } catch (x) {
      setErr(x as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="filters wrap" onSubmit={submit} data-testid="draw-form">
      <Select label={t('spKind')} value={v.kind!} onChange={(k) => setV({ ...v, kind: k || 'elevator' })} options={[['elevator', t('spKindElevator')], ['unit', t('spKindUnit')]]} testid="draw-kind" />
      <label class="field inline"><span>{t('spN')}</span><input type="number" min={1} max={10000} value={v.n} onInput={set('n')} data-testid="draw-n" style="width:6em" /></label>
      <label class="field inline"><span>{t('spPeriod')}</span><input type="date" value={v.from} onInput={set('from')} data-testid="draw-from" /></label>
      <label class="field inline"><span>—</span><input type="date" value={v.to} onInput={set('to')} data-testid="draw-to" /></label>
      <label class="field inline"><span>{t('spSeed')}</span><input type="number" min={0} value={v.seed} onInput={set('seed')} data-testid="draw-seed" style="width:9em" /></label>
      <span class="field inline"><span>{t('spWeights')}</span>
        {RISK_LEVELS.map((l) => <label key={l} class="small">{riskName(l)} <input type="number" min={0} step="any" value={v[l]} onInput={set(l)} data-testid={`draw-w-${l}`} style="width:4em" /></label>)}
      </span>
      <button class="btn primary small" type="submit" disabled={busy} data-testid="draw-submit">{t('spDraw')}</button>
      <ErrorBox error={err} />
    </form>
  );
}

function ResultForm(props: { c: Check; onDone: () => void }) {
  const [result, setResult] = useState<'passed' | 'problems'>('passed');
  const [problems, setProblems] = useState('');
  const [checkedOn, setCheckedOn] = useState(shanghaiDate());
  const [err, setErr] = useState<ApiError | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api(`/api/v1/spot-checks/${props.c.id}/result`, { method: 'POST', body: { result, checkedOn, ...(result === 'problems' ? { problems } : {}) } });
      props.onDone();
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  return (
    <form class="filters" onSubmit={submit} data-testid={`result-form-${props.c.id}`}>
      <select value={result} onChange={(e) => setResult((e.target as HTMLSelectElement).value as 'passed' | 'problems')} data-testid="result-select">
        <option value="passed">{t('sp_passed')}</option><option value="problems">{t('sp_problems')}</option>
      </select>
      {result === 'problems' && <input placeholder={t('spProblemsText')} value={problems} required onInput={(e) => setProblems((e.target as HTMLInputElement).value)} data-testid="result-problems" />}
      <input type="date" value={checkedOn} onInput={(e) => setCheckedOn((e.target as HTMLInputElement).value)} data-testid="result-date" />
      <button class="btn small primary" type="submit" data-testid="result-submit">{t('spRecord')}</button>
      <ErrorBox error={err} />
    </form>
  );
}

function DrawDetail(props: { id: number; onChanged: () => void }) {
  const res = useApi<{ draw: Draw; checks: Check[] }>(`/api/v1/spot-checks/draws/${props.id}`);
  const me = currentUser();
  return (
    <Loaded data={res.data} error={res.error} reload={res.reload}>
      {({ draw, checks }) => (
        <Card title={t('spDrawNo', { id: draw.id })} testid="draw-detail">
          <div class="muted small pad-b" data-testid="draw-meta">
            {t('spPeriod')} {draw.periodFrom} — {addDays(draw.periodTo, -1)} · {t('spSeedShort')} <b data-testid="draw-seed-value">{draw.seed}</b> · {t('spDrawnBy')} {draw.drawnBy} · {dateTime(draw.drawnAt)} · {t('spCandidates', { n: draw.params.candidates })}
            {' · '}{t('spWeights')} {RISK_LEVELS.map((l) => `${riskName(l)} ${draw.params.weights[l]}`).join(' / ')}
          </div>
          <table class="table" data-testid="checks-table">
            <thead><tr><th>{t('code')}</th><th>{t('district')}</th><th>{t('address')}</th><th>{t('unit')}</th><th>{t('riskLevel')}</th><th>{t('spInspector')}</th><th>{t('spResult')}</th><th>{t('spCheckedOn')}</th></tr></thead>
            <tbody>
              {checks.map((c) => (
                <tr key={c.id} data-testid={`check-row-${c.code}`}>
                  <td>{draw.kind === 'elevator' ? <a href={href(`/equipment/elevator/${c.code}`)}>{c.code}</a> : c.code}</td>
                  <td>{districtName(c.district)}</td>
                  <td class="ellipsis" title={c.address}>{c.address || '—'}</td>
                  <td>{c.unitName ?? c.unit}</td>
                  <td><RiskBadge level={c.level} /></td>
                  <td>{c.inspector}</td>
                  <td data-testid={`check-result-${c.code}`}>
                    {c.result ? <span class={c.result === 'problems' ? 'bad' : ''}>{resultText(c.result)}{c.problems ? `：${c.problems}` : ''}</span>
                      : me && (me.role === 'admin' || me.username === c.inspector) ? <ResultForm c={c} onDone={() => (res.reload(), props.onChanged())} /> : <span class="muted">{t('spPending')}</span>}
                  </td>
                  <td>{c.checkedOn ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </Loaded>
  );
}

export function SpotChecksPage(props: { route: Route }) {
  const q = props.route.query;
  const selected = Number(q.get('draw') ?? 0) || null;
  const draws = useApi<Paged<Draw & { done: number }>>(`/api/v1/spot-checks/draws${qs({ pageSize: 50 })}`);
  const me = currentUser();
  const id = selected ?? draws.data?.items[0]?.id ?? null;
  return (
    <div class="page" data-testid="page-spot-checks">
      <div class="page-head">
        <h1>{t('spTitle')}</h1>
        <div class="filters">
          <a class="btn small" href={href('/public/spot-checks')} target="_blank" rel="noopener" data-testid="public-link">{t('spPublicLink')}</a>
          <a class="btn small" href="/api/v1/public/spot-checks/export?format=csv" download data-testid="sp-export-csv">{t('scExportCsv')}</a>
          <a class="btn small" href="/api/v1/public/spot-checks/export?format=xlsx" download data-testid="sp-export-xlsx">{t('scExportXlsx')}</a>
        </div>
      </div>
      {me && me.role !== 'viewer' && <Card title={t('spNew')}><DrawForm onDone={(d) => { draws.reload(); setQuery({ draw: d }); }} /></Card>}
      <div class="grid side">
        <Card title={t('spDraws')} testid="draws-list">
          <Loaded data={draws.data} error={draws.error} reload={draws.reload}>
            {(d) => (
              <ul class="list">
                {d.items.length === 0 && <li class="muted">{t('empty')}</li>}
                {d.items.map((x) => (
                  <li key={x.id} class={x.id === id ? 'selected' : ''} data-testid={`draw-${x.id}`}>
                    <a href={href('/spot-checks', { draw: x.id })}>{t('spDrawNo', { id: x.id })}</a>{' '}
                    <span class="muted small">{x.periodFrom} · {x.kind === 'unit' ? t('spKindUnit') : t('spKindElevator')} · {t('spDone', { done: x.done, n: x.n })}</span>
                  </li>
                ))}
              </ul>
            )}
          </Loaded>
        </Card>
        {id ? <DrawDetail key={id} id={id} onChanged={draws.reload} /> : <div />}
      </div>
    </div>
  );
}

/** The public results page: no sign-in, only what may be public. */
export function PublicSpotChecksPage() {
  const res = useApi<{ items: PublishedCheck[] }>('/api/v1/public/spot-checks');
  return (
    <div class="public-page" data-testid="page-public-spot-checks">
      <header class="top">
        <Brand class="brand" />
        <div class="top-right"><button class="btn small ghost" onClick={() => setLang(getLang() === 'zh' ? 'en' : 'zh')}>{t('langSwitch')}</button></div>
      </header>
      <main class="main">
        <div class="page">
          <div class="page-head">
            <h1>{t('spPublicTitle')}</h1>
            <div class="filters">
              <a class="btn small" href="/api/v1/public/spot-checks/export?format=csv" download>{t('scExportCsv')}</a>
              <a class="btn small" href="/api/v1/public/spot-checks/export?format=xlsx" download>{t('scExportXlsx')}</a>
            </div>
          </div>
          <p class="muted small">{t('spPublicNote')}</p>
          <Card>
            <Loaded data={res.data} error={res.error} reload={res.reload}>
              {(d) => (
                <table class="table" data-testid="public-checks">
                  <thead><tr><th>{t('code')}</th><th>{t('address')}</th><th>{t('unit')}</th><th>{t('spCheckedOn')}</th><th>{t('spResult')}</th></tr></thead>
                  <tbody>
                    {d.items.length === 0 && <tr><td colSpan={5} class="muted center">{t('empty')}</td></tr>}
                    {d.items.map((c) => (
                      <tr key={`${c.drawId}-${c.code}`} data-testid={`public-row-${c.code}`}>
                        <td>{c.code}</td><td>{c.address}</td><td>{c.unitName}</td><td>{c.checkedOn}</td>
                        <td class={c.result === 'problems' ? 'bad' : ''}>{resultText(c.result)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Loaded>
          </Card>
        </div>
      </main>
    </div>
  );
}
