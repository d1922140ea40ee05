// Calendar helpers. The monitoring center keeps China Standard Time (UTC+8,
// no daylight saving), so a calendar day is a fixed 24 h window.

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** China Standard Time's offset from UTC */
export const CST_OFFSET_MS = 8 * HOUR_MS;

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

// RFC 3339 §5.6 date-time: "T" and "Z" may be lowercase, the offset is
// mandatory (Z or ±hh:mm), any number of fraction digits.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch ms of an RFC 3339 date-time, or a message saying what is wrong.
 *
 * Leap seconds (§5.7): a second of 60 is accepted only where a leap second can
 * fall, the last minute of a UTC day (23:59:60Z, or 07:59:60+08:00); which days
 * actually carry one is announced only months ahead, so the date is not checked.
 * Epoch ms (POSIX time) has no number for that second, so 23:59:60.xxx maps to
 * 23:59:59.999 (the last millisecond before midnight): the instant stays in its
 * own UTC day and minute and sorts after every earlier reading and before the
 * next day's first; all fractions of the leap second collapse onto that ms.
 * Fractions finer than a millisecond are truncated, as Date.parse does.
 */
export function parseRfc3339(s: string): number | string {
  const m = RFC3339.exec(s);
  if (!m) return 'must be an RFC 3339 date-time with offset, e.g. 2026-11-01T08:00:00+08:00';
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offMin = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return 'is not a calendar date';
  if (h > 23 || mi > 59 || sec > 60 || Number(m[10] ?? 0) > 23 || Number(m[11] ?? 0) > 59) return 'is not a valid time of day or offset';
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  const minuteUtc = utcMinute(y, mo - 1, d, h, mi) - offMin * MINUTE_MS;
  if (sec < 60) return minuteUtc + sec * 1000 + ms;
  if ((minuteUtc + MINUTE_MS) % DAY_MS !== 0) return 'has second 60, which only the last minute of a UTC day (23:59:60Z) can have';
  return minuteUtc + MINUTE_MS - 1;
}

/** Date.UTC, but a year below 100 is that year (Date.UTC reads 75 as 1975). */
function utcMinute(y: number, mo: number, d: number, h: number, mi: number): number {
  if (y >= 100) return Date.UTC(y, mo, d, h, mi);
  const t = new Date(Date.UTC(2000, mo, d, h, mi)); // a leap year: any valid day of the month exists
  return t.setUTCFullYear(y);
}
