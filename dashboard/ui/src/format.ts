// Dates and numbers for people: always in Asia/Shanghai, whatever the browser's zone.
import { getLang, t } from './i18n.js';

const TZ = 'Asia/Shanghai';
const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(kind: 'dt' | 'd' | 'tm' | 'short'): Intl.DateTimeFormat {
  const key = `${getLang()}:${kind}`;
  let f = cache.get(key);
  if (!f) {
    const locale = getLang() === 'en' ? 'en-GB' : 'zh-CN';
    const opts: Intl.DateTimeFormatOptions =
      kind === 'dt' ? { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
      : kind === 'd' ? { year: 'numeric', month: '2-digit', day: '2-digit' }
      : kind === 'tm' ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
      : { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false };
    f = new Intl.DateTimeFormat(locale, { ...opts, timeZone: TZ });
    cache.set(key, f);
  }
  return f;
}
const toDate = (v: number | string | null | undefined): Date | null => {
  if (v === null || v === undefined || v === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
};
export const dateTime = (v: number | string | null | undefined): string => { const d = toDate(v); return d ? fmt('dt').format(d) : '—'; };
export const dateOnly = (v: number | string | null | undefined): string => {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
  const d = toDate(v); return d ? fmt('d').format(d) : '—';
};
export const timeOnly = (v: number | string | null | undefined): string => { const d = toDate(v); return d ? fmt('tm').format(d) : '—'; };
export const shortDateTime = (v: number | string | null | undefined): string => { const d = toDate(v); return d ? fmt('short').format(d) : '—'; };

/** 12:34 or 1:02:03 for an elapsed duration. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`;
}
export const minutes = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '—' : t('minutes', { n: Math.round(ms / 60000) }));
export const pct = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || Number.isNaN(v) ? '—' : `${(v * 100).toFixed(digits)}%`);
export const num = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v.toLocaleString(getLang() === 'en' ? 'en-GB' : 'zh-CN'));
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < u.length - 1) (v /= 1024), i++;
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}
/** A calendar date in Shanghai, YYYY-MM-DD. */
export function shanghaiDate(ms = Date.now()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}

/** A YYYY-MM-DD date moved by whole days (calendar arithmetic, no time zone involved). */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
/** A period the API gives with an exclusive end ("2025-01-01" … "2026-01-01"), for people: its first and last day. */
export const periodText = (from: string, toExclusive: string): string => `${from} — ${addDays(toExclusive, -1)}`;
