// 设备: elevators and gas-cylinder sites, searchable and filterable, updated
// in place by the live `equipment` frames.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { qs } from '../api.js';
import { districtName, t, term } from '../i18n.js';
import { useApi } from '../hooks.js';
import { useLiveFrames, useLiveRefresh } from '../live.js';
import { href, navigate, setQuery, type Route } from '../router.js';
import { shortDateTime } from '../format.js';
import { currentUser } from '../session.js';
import { Card, Loaded, OnlineDot, Pager, Select, SevBadge } from '../ui.js';
import { MAP_DISTRICTS } from '../map/DistrictMap.js';
import type { ElevatorRow, GasSiteRow, Paged } from '../types.js';
import { RiskBadge } from './risk.js';

const PAGE_SIZE = 50;

interface EquipmentFrameItem { code: string; kind: 'elevator' | 'gas_site'; online: boolean | null; lastSeenAt?: number | null; serviceMode?: string | null; floor?: number | null; statusAt?: number | null }

function useEquipmentFrames<T extends { code: string }>(kind: 'elevator' | 'gas_site', setItems: (f: (prev: T[]) => T[]) => void) {
  useLiveFrames((f) => {
    if (f.type !== 'equipment') return;
    const updates = new Map((f.items as EquipmentFrameItem[]).filter((i) => i.kind === kind).map((i) => [i.code, i]));
    if (!updates.size) return;
    setItems((prev) => prev.map((row) => {
      const u = updates.get(row.code);
      if (!u) return row;
      const { kind: _k, ...rest } = u;
      return { ...row, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) } as T;
    }));
  });
}

export function EquipmentPage(props: { route: Route }) {
  const gas = props.route.query.get('kind') === 'gas';
  return (
    <div class="page" data-testid="page-equipment">
      <div class="page-head">
        <h1>{t('navEquipment')}</h1>
        <div class="tabs">
          <a class={!gas ? 'active' : ''} href={href('/equipment', { district: props.route.query.get('district') })} data-testid="tab-elevators">{t('eqElevators')}</a>
          <a class={gas ? 'active' : ''} href={href('/equipment', { kind: 'gas', district: props.route.query.get('district') })} data-testid="tab-gas-sites">{t('eqGasSites')}</a>
        </div>
      </div>
      {gas ? <GasSiteList route={props.route} /> : <ElevatorList route={props.route} />}
    </div>
  );
}

function Filters(props: { route: Route; withOnline?: boolean; children?: ComponentChildren }) {
  const q = props.route.query;
  const [text, setText] = useState(q.get('q') ?? '');
  const districts = (currentUser()?.districts?.length ? currentUser()!.districts! : MAP_DISTRICTS);
  return (
    <div class="filters">
      <form class="field inline" onSubmit={(e) => { e.preventDefault(); setQuery({ q: text.trim(), page: null }); }}>
        <input type="search" placeholder={t('eqSearch')} value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} data-testid="equipment-search" />
        <button class="btn small" type="submit">{t('search')}</button>
      </form>
      <Select label={t('district')} value={q.get('district') ?? ''} onChange={(v) => setQuery({ district: v, page: null })} options={districts.map((d) => [d, districtName(d)])} testid="filter-district" />
      <Select label={t('eqOnlineAll')} value={q.get('online') ?? ''} onChange={(v) => setQuery({ online: v, page: null })}
        options={[['true', t('eqOnlineYes')], ['false', t('eqOnlineNo')], ['never', '—']]} testid="filter-online" />
      {props.children}
    </div>
  );
}

/** One page of equipment: the table (one row saying so when it is empty) and the pager under it. */
function ListTable(props: { testid: string; head: ComponentChildren; rows: ComponentChildren[]; columns: number; page: number; total: number }) {
  return (
    <>
      <table class="table" data-testid={props.testid}>
        <thead>{props.head}</thead>
        <tbody>
          {props.rows.length === 0 && <tr><td colSpan={props.columns} class="muted center">{t('empty')}</td></tr>}
          {props.rows}
        </tbody>
      </table>
      <Pager page={props.page} pageSize={PAGE_SIZE} total={props.total} onPage={(p) => setQuery({ page: p })} />
    </>
  );
}

function ElevatorList(props: { route: Route }) {
  const q = props.route.query;
  const page = Number(q.get('page') ?? 1) || 1;
  const sort = q.get('sort') ?? 'code';
  const path = `/api/v1/equipment/elevators${qs({ q: q.get('q'), district: q.get('district'), online: q.get('online'), overdue: q.get('overdue'), unit: q.get('unit'), sort, page, pageSize: PAGE_SIZE })}`;
  const res = useApi<Paged<ElevatorRow>>(path);
  const [items, setItems] = useState<ElevatorRow[]>([]);
  useEffect(() => void (res.data && setItems(res.data.items)), [res.data]);
  useEquipmentFrames<ElevatorRow>('elevator', setItems);
  useLiveRefresh([], res.reload, 2000, ['kpi', 'equipment']);
  // The page's risk levels in one request (the equipment list itself does not compute them).
  const codes = items.map((e) => e.code).join(',');
  const risk = useApi<{ levels: Record<string, { level: string; score: number }> }>(codes ? `/api/v1/risk/levels${qs({ codes })}` : null);
  const th = (key: string, label: string, cls = '') => (
    <th class={`sortable ${cls}`} onClick={() => setQuery({ sort: sort === key ? `-${key}` : key })}>{label}{sort === key ? ' ▲' : sort === `-${key}` ? ' ▼' : ''}</th>
  );
  return (
    <Card>
      <Filters route={props.route} withOnline>
        <Select label={t('eqOverdue')} value={q.get('overdue') ?? ''} onChange={(v) => setQuery({ overdue: v, page: null })}
          options={[['maintenance', t('eqMaintOverdue')], ['inspection', t('eqInspOverdue')], ['any', t('eqOverdue')]]} testid="filter-overdue" />
      </Filters>
      <Loaded data={res.data} error={res.error} reload={res.reload}>
        {(d) => (
          <ListTable testid="elevators-table" columns={11} page={page} total={d.total}
            head={
              <tr>
                {th('code', t('code'))}{th('district', t('district'))}{th('address', t('address'))}{th('unit', t('unit'))}
                <th>{t('state')}</th>{th('serviceMode', t('eqServiceMode'))}<th class="num">{t('eqFloor')}</th>{th('lastSeenAt', t('eqLastSeen'))}{th('activeAlerts', t('eqOpenAlerts'), 'num')}<th>{t('eqOverdue')}</th><th>{t('riskLevel')}</th>
              </tr>
            }
            rows={items.map((e) => (
              <tr key={e.code} class="clickable" onClick={() => navigate(`/equipment/elevator/${e.code}`)} data-testid={`elevator-row-${e.code}`}>
                <td><a href={href(`/equipment/elevator/${e.code}`)}>{e.code}</a></td>
                <td>{districtName(e.district)}</td>
                <td class="ellipsis" title={e.address}>{e.address}</td>
                <td class="ellipsis" title={e.maintenanceUnitName ?? ''}>{e.maintenanceUnitName ?? e.maintenanceUnit ?? '—'}</td>
                <td><OnlineDot online={e.online} /></td>
                <td class={e.serviceMode && e.serviceMode !== 'normal' ? 'warn' : ''}>{e.serviceMode ? term(e.serviceMode) : '—'}</td>
                <td class="num">{e.floor ?? '—'}</td>
                <td>{shortDateTime(e.lastSeenAt)}</td>
                <td class="num">{e.activeAlerts ? <>{e.activeAlerts} <SevBadge s={e.worstSeverity} /></> : <span class="muted">0</span>}</td>
                <td>
                  {e.overdueMaintenance && <span class="badge overdue">{t('eqMaintOverdue')}</span>}
                  {e.overdueInspection && <span class="badge overdue">{t('eqInspOverdue')}</span>}
                </td>
                <td><RiskBadge level={risk.data?.levels[e.code]?.level} score={risk.data?.levels[e.code]?.score} testid={`risk-${e.code}`} /></td>
              </tr>
            ))}
          />
        )}
      </Loaded>
    </Card>
  );
}

function GasSiteList(props: { route: Route }) {
  const q = props.route.query;
  const page = Number(q.get('page') ?? 1) || 1;
  const path = `/api/v1/equipment/gas-sites${qs({ q: q.get('q'), district: q.get('district'), online: q.get('online'), page, pageSize: PAGE_SIZE })}`;
  const res = useApi<Paged<GasSiteRow>>(path);
  const [items, setItems] = useState<GasSiteRow[]>([]);
  useEffect(() => void (res.data && setItems(res.data.items)), [res.data]);
  useEquipmentFrames<GasSiteRow>('gas_site', setItems);
  useLiveRefresh(['alert'], res.reload, 5000, ['kpi', 'equipment']);
  return (
    <Card>
      <Filters route={props.route} withOnline />
      <Loaded data={res.data} error={res.error} reload={res.reload}>
        {(d) => (
          <ListTable testid="gas-sites-table" columns={9} page={page} total={d.total}
            head={<tr><th>{t('code')}</th><th>{t('name')}</th><th>{t('district')}</th><th>{t('address')}</th><th>{t('state')}</th><th class="num">{t('eqDetectorsCount')}</th><th class="num">max %LEL</th><th>{t('eqLastSeen')}</th><th class="num">{t('eqOpenAlerts')}</th></tr>}
            rows={items.map((s) => (
              <tr key={s.code} class="clickable" onClick={() => navigate(`/equipment/gas-site/${s.code}`)} data-testid={`gas-site-row-${s.code}`}>
                <td><a href={href(`/equipment/gas-site/${s.code}`)}>{s.code}</a></td>
                <td>{s.name}</td>
                <td>{districtName(s.district)}</td>
                <td class="ellipsis" title={s.address}>{s.address}</td>
                <td><OnlineDot online={s.online} /></td>
                <td class="num">{s.detectors}</td>
                <td class={`num${(s.maxLel ?? 0) >= 20 ? ' bad' : (s.maxLel ?? 0) >= 10 ? ' warn' : ''}`}>{s.maxLel ?? '—'}</td>
                <td>{shortDateTime(s.lastSeenAt)}</td>
                <td class="num">{s.activeAlerts ? <>{s.activeAlerts} <SevBadge s={s.worstSeverity} /></> : <span class="muted">0</span>}</td>
              </tr>
            ))}
          />
        )}
      </Loaded>
    </Card>
  );
}

