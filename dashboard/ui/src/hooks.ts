import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';

export interface Loaded<T> { data: T | undefined; error: ApiError | null; loading: boolean; reload: () => void }

/**
 * GETs `path` (null: nothing) and keeps the last data while reloading. `keep`: also while another path
 * loads (a chart whose window moves on keeps its picture until the new one arrives).
 */
export function useApi<T>(path: string | null, opts: { keep?: boolean } = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  const pathRef = useRef(path);
  const run = useCallback(() => {
    const p = pathRef.current;
    if (!p) return;
    const n = ++seq.current;
    setLoading(true);
    api<T>(p).then(
      (d) => { if (n === seq.current) (setData(d), setError(null), setLoading(false)); },
      (e: unknown) => { if (n === seq.current) (setError(e instanceof ApiError ? e : new ApiError(0, String(e))), setLoading(false)); },
    );
  }, []);
  useEffect(() => {
    if (pathRef.current !== path && !opts.keep) setData(undefined);
    pathRef.current = path;
    run();
  }, [path]);
  return { data, error, loading, reload: run };
}

/** Re-renders every `ms` (for timers on screen). */
export function useTick(ms = 1000): number {
  const [now, set] = useState(Date.now());
  useEffect(() => {
    const iv = setInterval(() => set(Date.now()), ms);
    return () => clearInterval(iv);
  }, [ms]);
  return now;
}
