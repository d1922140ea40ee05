// Calendar helpers. The monitoring center keeps China Standard Time (UTC+8,
// no daylight saving), so a calendar day is a fixed 24 h window.

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
const CST_OFFSET_MS = 8 * HOUR_MS;

/** YYYY-MM-DD of an instant, in China Standard Time. */
export function cstDate(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 10);
}

/** China Standard Time to the second, for people: 2026-11-22 15:04:05. */
export function cstTime(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Epoch ms of 00:00 China Standard Time on the given YYYY-MM-DD. */
export function cstMidnight(date: string): number {
  return Date.parse(`${date}T00:00:00+08:00`);
}

/** The date `days` after a YYYY-MM-DD date (negative for before). */
export function addDays(date: string, days: number): string {
  return cstDate(cstMidnight(date) + days * DAY_MS);
}

/** Whole days from date a to date b. */
export function daysBetween(a: string, b: string): number {
  return Math.round((cstMidnight(b) - cstMidnight(a)) / DAY_MS);
}
