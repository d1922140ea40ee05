// Hash routing: #/path?query. Works behind any static server and needs no fallback.
import { useEffect, useState } from 'preact/hooks';

export interface Route { hash: string; path: string; parts: string[]; query: URLSearchParams }

export function parseHash(hash = location.hash): Route {
  const raw = hash.replace(/^#/, '') || '/overview';
  const [p = '/', q = ''] = raw.split('?');
  const path = p.startsWith('/') ? p : `/${p}`;
  return { hash, path, parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export function useRoute(): Route {
  const [r, set] = useState(parseHash());
  useEffect(() => {
    const f = () => set((prev) => (prev.hash === location.hash ? prev : parseHash()));
    addEventListener('hashchange', f);
    f(); // the hash may have changed between render and subscription
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

export function href(path: string, query?: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== null && v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}
export const navigate = (path: string, query?: Record<string, string | number | null | undefined>) => (location.hash = href(path, query).slice(1));
/** Changes the query of the current page without a new history entry. */
export function setQuery(query: Record<string, string | number | null | undefined>): void {
  const r = parseHash();
  const merged: Record<string, string | number | null | undefined> = Object.fromEntries(r.query.entries());
  Object.assign(merged, query);
  history.replaceState(null, '', href(r.path, merged));
  dispatchEvent(new HashChangeEvent('hashchange'));
}

/** Where to go after signing in: the page the user wanted, never the login page itself. */
export function afterLogin(): string {
  const next = parseHash().query.get('next');
  return next && next.startsWith('/') && !next.startsWith('/login') ? next : '/overview';
}
