// The shell: header (title, navigation, live state, user, language), the
// disconnected banner, and the routed page.
import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized } from './api.js';
import { getLang, setLang, t, useLang, type Key } from './i18n.js';
import { live, useConnState, useLiveFrames } from './live.js';
import { beep, soundOn } from './alarm.js';
import type { KpiNumbers } from './types.js';
import { afterLogin, href, navigate, parseHash, useRoute } from './router.js';
import { clearUser, loadSession, logout, useSession } from './session.js';
import { useTick } from './hooks.js';
import { Brand } from './ui.js';
import { LoginPage } from './pages/login.js';
import { OverviewPage } from './pages/overview.js';
import { AlertsPage } from './pages/alerts.js';
import { EquipmentPage } from './pages/equipment.js';
import { ElevatorDetail } from './pages/elevator.js';
import { GasSiteDetail } from './pages/gas-site.js';
import { ScorecardsPage } from './pages/scorecards.js';
import { InterviewsPage } from './pages/interviews.js';
import { IngestPage } from './pages/ingest.js';
import { CreditPage } from './pages/credit.js';
import { OrdersPage } from './pages/orders.js';
import { RiskPage } from './pages/risk.js';
import { PublicSpotChecksPage, SpotChecksPage } from './pages/spot-checks.js';
import { HazardsPage } from './pages/hazards.js';

const NAV: [string, Key][] = [
  ['/overview', 'navOverview'],
  ['/alerts', 'navAlerts'],
  ['/equipment', 'navEquipment'],
  ['/scorecards', 'navScorecards'],
  ['/interviews', 'navInterviews'],
  ['/credit', 'navCredit'],
  ['/orders', 'navOrders'],
  ['/risk', 'navRisk'],
  ['/spot-checks', 'navSpotChecks'],
  ['/hazards', 'navHazards'],
  ['/ingest', 'navIngest'],
];

/** Pages anyone may see without signing in. */
const isPublic = (path: string) => path.startsWith('/public/');

function ConnState() {
  const c = useConnState();
  const label = c.state === 'open' ? t('connOpen') : c.state === 'connecting' ? t('connConnecting') : t('connClosed');
  return <span class={`conn conn-${c.state}`} data-testid="conn-state" data-state={c.state} title={label}><i />{label}</span>;
}

function Banner() {
  const c = useConnState();
  useTick(1000);
  if (c.state === 'open') return null;
  if (c.state === 'connecting' && c.retryAt === null && live.lastFrameAt.size === 0) return null; // first connect
  const s = c.retryAt ? Math.max(0, Math.ceil((c.retryAt - Date.now()) / 1000)) : 0;
  return (
    <div class="banner" role="status" data-testid="conn-banner">
      <strong>{t('connClosed')}</strong> · {s ? t('connBanner', { s }) : t('connBannerNow')}
      {c.state === 'closed' && <button class="btn small" onClick={() => live.reconnectNow()}>{t('retry')}</button>}
    </div>
  );
}

/** Open critical alerts not yet acknowledged, summed over the kpi frames of the principal's districts. */
function useUnackedCritical(): number {
  const [by, setBy] = useState<Record<string, number>>({});
  useLiveFrames((f) => {
    if (f.type === 'kpi') {
      const k = f as unknown as KpiNumbers & { district: string };
      setBy((prev) => (prev[k.district] === k.unacknowledgedCritical ? prev : { ...prev, [k.district]: k.unacknowledgedCritical }));
    }
    if (f.type === 'alert' && (f.transition === 'raised' || f.transition === 'severity_raised') && (f.alert as { severity?: string }).severity === 'critical' && soundOn()) beep();
  });
  return Object.values(by).reduce((a, b) => a + b, 0);
}

function Header() {
  const { user } = useSession();
  const route = useRoute();
  const critical = useUnackedCritical();
  return (
    <header class="top">
      <Brand class="brand" />
      <nav class="nav">
        {NAV.map(([p, k]) => (
          <a key={p} href={href(p)} class={route.path.startsWith(p) ? 'active' : ''} data-testid={`nav-${p.slice(1)}`}>
            {t(k)}
            {p === '/alerts' && critical > 0 && <span class="badge sev-critical nav-count" data-testid="nav-critical" title={t('navCritical')}>{critical}</span>}
          </a>
        ))}
      </nav>
      <div class="top-right">
        <ConnState />
        {user && (
          <span class="user" data-testid="user-info">
            {user.displayName || user.username} · <span class="muted">{t(`role_${user.role}` as Key)}</span>
          </span>
        )}
        <button class="btn small ghost" data-testid="lang-switch" onClick={() => setLang(getLang() === 'zh' ? 'en' : 'zh')}>{t('langSwitch')}</button>
        {user && user.username !== 'admin-token' && (
          <button class="btn small ghost" data-testid="logout" onClick={() => void logout().then(() => navigate('/login'))}>{t('logout')}</button>
        )}
      </div>
    </header>
  );
}

function Page() {
  const route = useRoute();
  const [a, b, c] = route.parts;
  switch (a) {
    case 'overview': return <OverviewPage route={route} />;
    case 'alerts': return <AlertsPage route={route} />;
    case 'equipment':
      if (b === 'elevator' && c) return <ElevatorDetail code={c} route={route} />;
      if (b === 'gas-site' && c) return <GasSiteDetail code={c} route={route} />;
      return <EquipmentPage route={route} />;
    case 'scorecards': return <ScorecardsPage route={route} />;
    case 'interviews': return <InterviewsPage route={route} />;
    case 'credit': return <CreditPage route={route} />;
    case 'orders': return <OrdersPage route={route} />;
    case 'hazards': return <HazardsPage route={route} />;
    case 'ingest': return <IngestPage />;
    case 'risk': return <RiskPage route={route} />;
    case 'spot-checks': return <SpotChecksPage route={route} />;
    default: return <div class="pad muted">{t('notFound')}</div>;
  }
}

export function App() {
  const lang = useLang();
  useEffect(() => void (document.title = t('appTitle')), [lang]);
  const { user, checked } = useSession();
  const route = useRoute();
  useEffect(() => {
    void loadSession();
    return onUnauthorized(() => {
      clearUser();
      if (!location.hash.startsWith('#/login') && !isPublic(parseHash().path)) navigate('/login', { next: location.hash.slice(1) || '/overview' });
    });
  }, []);
  useEffect(() => {
    if (user) live.start();
    else live.stop();
  }, [user]);
  useEffect(() => {
    if (checked && !user && !location.hash.startsWith('#/login') && !isPublic(route.path)) navigate('/login', { next: location.hash.slice(1) || '/overview' });
    if (checked && user && route.path === '/login') location.hash = afterLogin();
  }, [checked, user, route.path]);

  if (route.path === '/public/spot-checks') return <PublicSpotChecksPage />; // 一公开: no sign-in
  if (!checked) return <div class="pad muted">{t('loading')}</div>;
  if (!user || route.path === '/login') return <LoginPage />;
  return (
    <div class="shell">
      <div class="sticky-top">
        <Header />
        <Banner />
      </div>
      <main class="main"><Page /></main>
    </div>
  );
}
