// 隐患: the hazard book (records/hazard, protocol v1.1): hazards found and
// rectified, filtered by state (open / overdue / rectified), level and unit,
// and the rectifications that named no hazard of theirs (unmatched).
import { qs } from '../api.js';
import { districtName, t, type Key } from '../i18n.js';
import { useApi } from '../hooks.js';
import { useLiveRefresh } from '../live.js';
import { href, setQuery, type Route } from '../router.js';
import { dateOnly, shortDateTime } from '../format.js';
import { Card, Loaded, Pager, Select } from '../ui.js';
import type { Paged } from '../types.js';

const PAGE_SIZE = 50;

interface HazardRow {
  id: string; elevator: string | null; site: string | null; unit: string | null; district: string | null;
  level: 'general' | 'major'; category: string; description: string | null; source: string;
  foundAt: number; dueAt: number; rectifiedAt: number | null; state: 'open' | 'overdue' | 'rectified'; evidence: string[];
}
interface Unmatched { id: string; hazardId: string; elevator: string | null; site: string | null; unit: string | null; at: number; kind: 'unknown_hazard' | 'other_equipment' | 'other_unit'; reason: string }

const UNMATCHED_KEY: Record<Unmatched['kind'], Key> = { unknown_hazard: 'hzUnknownHazard', other_equipment: 'hzOtherEquipment', other_unit: 'hzOtherUnit' };

const STATE_KEY: Record<HazardRow['state'], Key> = { open: 'hzStateOpen', overdue: 'hzStateOverdue', rectified: 'hzStateRectified' };

function Equipment(props: { h: { elevator: string | null; site: string | null } }) {
  const { elevator, site } = props.h;
  return elevator ? <a href={href(`/equipment/elevator/${elevator}`)}>{elevator}</a> : <a href={href(`/equipment/gas-site/${site}`)}>{site}</a>;
}

export function HazardsPage(props: { route: Route }) {
  const q = props.route.query;
  const page = Number(q.get('page') ?? 1) || 1;
  const sort = q.get('sort') ?? '-foundAt';
  const res = useApi<Paged<HazardRow>>(`/api/v1/hazards${qs({ state: q.get('state'), level: q.get('level'), unit: q.get('unit'), elevator: q.get('elevator'), sort, page, pageSize: PAGE_SIZE })}`);
  const units = useApi<Paged<{ id: string; name: string }>>('/api/v1/units?pageSize=500');
  const unmatched = useApi<Paged<Unmatched>>('/api/v1/hazards/unmatched?pageSize=20');
  useLiveRefresh(['alert'], res.reload, 5000);
  return (
    <div class="page" data-testid="page-hazards">
      <div class="page-head"><h1>{t('navHazards')}</h1></div>
      <Card>
        <div class="filters">
          <Select label={t('state')} value={q.get('state') ?? ''} onChange={(v) => setQuery({ state: v, page: null })} testid="hz-filter-state"
            options={[['open', t('hzStateOpen')], ['overdue', t('hzStateOverdue')], ['rectified', t('hzStateRectified')]]} />
          <Select label={t('hzLevel')} value={q.get('level') ?? ''} onChange={(v) => setQuery({ level: v, page: null })} testid="hz-filter-level"
            options={[['general', t('hzLevelGeneral')], ['major', t('hzLevelMajor')]]} />
          <Select label={t('unit')} value={q.get('unit') ?? ''} onChange={(v) => setQuery({ unit: v, page: null })} testid="hz-filter-unit"
            options={(units.data?.items ?? []).map((u) => [u.id, u.name])} />
          <span class="muted small">{t('hzDueNote')}</span>
        </div>
        <Loaded data={res.data} error={res.error} reload={res.reload}>
          {(d) => (
            <>
              <table class="table" data-testid="hazards-table">
                <thead>
                  <tr>
                    <th class="sortable" onClick={() => setQuery({ sort: sort === '-foundAt' ? 'foundAt' : '-foundAt' })}>{t('hzFoundAt')}{sort === 'foundAt' ? ' ▲' : sort === '-foundAt' ? ' ▼' : ''}</th>
                    <th>{t('hzEquipment')}</th><th>{t('district')}</th><th>{t('unit')}</th><th>{t('hzLevel')}</th><th>{t('hzCategory')}</th>
                    <th>{t('hzDescription')}</th><th>{t('hzDueAt')}</th><th>{t('state')}</th><th>{t('hzRectifiedAt')}</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.length === 0 && <tr><td colSpan={10} class="muted center">{t('empty')}</td></tr>}
                  {d.items.map((h) => (
                    <tr key={h.id} data-testid={`hazard-row-${h.id}`} data-state={h.state}>
                      <td>{shortDateTime(h.foundAt)}</td>
                      <td><Equipment h={h} /></td>
                      <td>{districtName(h.district)}</td>
                      <td>{(units.data?.items.find((u) => u.id === h.unit)?.name) ?? h.unit ?? '—'}</td>
                      <td>{h.level === 'major' ? <span class="badge sev-major">{t('hzLevelMajor')}</span> : t('hzLevelGeneral')}</td>
                      <td>{h.category}</td>
                      <td class="ellipsis" title={h.description ?? ''}>{h.description ?? '—'}</td>
                      <td>{dateOnly(h.dueAt)}</td>
                      <td>{h.state === 'overdue' ? <span class="badge overdue">{t(STATE_KEY[h.state])}</span> : <span class={h.state === 'rectified' ? 'muted' : ''}>{t(STATE_KEY[h.state])}</span>}</td>
                      <td>{h.rectifiedAt ? <>{shortDateTime(h.rectifiedAt)}{h.evidence.length > 0 && <span class="muted" title={h.evidence.join('\n')}> · {t('hzEvidence', { n: h.evidence.length })}</span>}</> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager page={page} pageSize={PAGE_SIZE} total={d.total} onPage={(p) => setQuery({ page: p })} />
            </>
          )}
        </Loaded>
      </Card>
      <Card title={t('hzUnmatched')} testid="hazards-unmatched">
        <Loaded data={unmatched.data} error={unmatched.error} reload={unmatched.reload}>
          {(d) => d.items.length === 0 ? <p class="muted">{t('empty')}</p> : (
            <table class="table">
              <thead><tr><th>{t('hzRectifiedAt')}</th><th>{t('hzEquipment')}</th><th>{t('hzHazardId')}</th><th>{t('hzReason')}</th></tr></thead>
              <tbody>
                {d.items.map((u) => <tr key={u.id}><td>{shortDateTime(u.at)}</td><td><Equipment h={u} /></td><td>{u.hazardId}</td><td title={u.reason} data-testid={`unmatched-${u.id}`}>{t(UNMATCHED_KEY[u.kind], { id: u.hazardId })}</td></tr>)}
              </tbody>
            </table>
          )}
        </Loaded>
      </Card>
    </div>
  );
}
