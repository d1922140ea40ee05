// fetch for the API: same origin, so the se_session cookie goes along. A 401
// anywhere sends the user to the login page; other errors carry the server's
// {error} sentence.
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const unauthorizedListeners = new Set<() => void>();
export const onUnauthorized = (f: () => void) => (unauthorizedListeners.add(f), () => void unauthorizedListeners.delete(f));

export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal; quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? 'GET', headers, credentials: 'same-origin', body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: init.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, (e as Error).message || 'network error');
  }
  if (res.status === 401 && !init.quiet401) for (const f of unauthorizedListeners) f();
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const d = data as { error?: string; issues?: string[] } | string | undefined;
    const msg = typeof d === 'object' && d?.error ? d.error + (d.issues?.length ? `: ${d.issues.join('; ')}` : '') : typeof d === 'string' && d ? d.slice(0, 300) : `HTTP ${res.status}`;
    throw new ApiError(res.status, msg);
  }
  return data as T;
}

/** Builds a query string, leaving out empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
