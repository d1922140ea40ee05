// The live channel: one WebSocket to /api/v1/live for the whole page. It
// remembers the seq of the last alert transition and resumes with since=,
// reconnects by itself with exponential backoff, and hands frames to whoever
// listens. Pages that want state frames (kpi, equipment, case) use
// useLiveRefresh, which falls back to polling every 10 s when such frames
// never arrive.
import { useEffect, useRef, useState } from 'preact/hooks';

export type ConnState = 'connecting' | 'open' | 'closed';
export interface Frame { type: string; seq?: number; [k: string]: unknown }

type Listener = (f: Frame) => void;

class LiveClient {
  state: ConnState = 'closed';
  /** when the next reconnect attempt happens (ms epoch), while closed */
  retryAt: number | null = null;
  private ws: WebSocket | null = null;
  private seq: number | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private wanted = false;
  private frameListeners = new Set<Listener>();
  private stateListeners = new Set<() => void>();
  /** last time a frame of each type arrived */
  readonly lastFrameAt = new Map<string, number>();

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  }

  stop(): void {
    this.wanted = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000);
    this.ws = null;
    this.seq = null;
    this.setState('closed', null);
  }

  onFrame(f: Listener): () => void {
    this.frameListeners.add(f);
    return () => void this.frameListeners.delete(f);
  }
  onState(f: () => void): () => void {
    this.stateListeners.add(f);
    return () => void this.stateListeners.delete(f);
  }

  private setState(s: ConnState, retryAt: number | null): void {
    this.state = s;
    this.retryAt = retryAt;
    for (const f of this.stateListeners) f();
  }

  private connect(): void {
    if (!this.wanted) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/api/v1/live${this.seq !== null ? `?since=${this.seq}` : ''}`;
    this.setState('connecting', null);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    // a handshake that hangs (a proxy, a half-open connection) is given up and retried
    const handshake = setTimeout(() => ws.readyState === WebSocket.CONNECTING && ws.close(), 10_000);
    ws.onopen = () => {
      clearTimeout(handshake);
      this.attempt = 0;
      this.setState('open', null);
    };
    ws.onmessage = (ev) => {
      let f: Frame;
      try {
        f = JSON.parse(String(ev.data)) as Frame;
      } catch {
        return;
      }
      if (typeof f.seq === 'number' && (f.type === 'alert' || f.type === 'ready' || f.type === 'reset')) this.seq = f.seq;
      this.lastFrameAt.set(f.type, Date.now());
      for (const l of this.frameListeners) l(f);
    };
    ws.onclose = () => {
      clearTimeout(handshake);
      if (this.ws !== ws) return;
      this.ws = null;
      this.scheduleReconnect();
    };
    ws.onerror = () => undefined; // onclose follows
  }

  private scheduleReconnect(): void {
    if (!this.wanted) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setState('closed', Date.now() + delay);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  /** Reconnect now (a user clicked retry). */
  reconnectNow(): void {
    if (!this.wanted || this.state !== 'closed') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }
}

export const live = new LiveClient();

export function useConnState(): { state: ConnState; retryAt: number | null } {
  const [s, set] = useState({ state: live.state, retryAt: live.retryAt });
  useEffect(() => {
    const sync = () => set({ state: live.state, retryAt: live.retryAt });
    const off = live.onState(sync);
    sync(); // the state may have changed between render and subscription
    return off;
  }, []);
  return s;
}

export function useLiveFrames(fn: Listener): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => live.onFrame((f) => ref.current(f)), []);
}

/**
 * Calls `refresh` when a frame of one of `types` arrives (at most once per
 * `minGapMs`), and every 10 s whenever no such frame arrived in the last 15 s
 * (the server does not push them, or the connection is down). `heartbeat`:
 * frame types whose arrival also proves the push works (without refreshing).
 * Returns whether polling is in effect.
 */
export function useLiveRefresh(types: string[], refresh: () => void, minGapMs = 2000, heartbeat: string[] = types): boolean {
  const ref = useRef(refresh);
  ref.current = refresh;
  const last = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const [polling, setPolling] = useState(false);
  const key = `${types.join(',')}|${heartbeat.join(',')}`;
  useEffect(() => {
    const mountedAt = Date.now();
    last.current = mountedAt;
    const fire = () => {
      last.current = Date.now();
      ref.current();
    };
    const off = live.onFrame((f) => {
      if (!types.includes(f.type)) return;
      const wait = last.current + minGapMs - Date.now();
      if (wait <= 0) fire();
      else if (!pending.current) pending.current = setTimeout(() => ((pending.current = null), fire()), wait);
    });
    const iv = setInterval(() => {
      const newest = Math.max(mountedAt, ...heartbeat.map((t) => live.lastFrameAt.get(t) ?? 0), ...types.map((t) => live.lastFrameAt.get(t) ?? 0));
      const stale = live.state !== 'open' || Date.now() - newest > 15_000;
      setPolling(stale);
      if (stale && Date.now() - last.current >= 9_500) fire();
    }, 1000);
    return () => {
      off();
      clearInterval(iv);
      if (pending.current) clearTimeout(pending.current);
      pending.current = null;
    };
  }, [key, minGapMs]);
  return polling;
}
