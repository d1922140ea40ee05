// Illegal cylinder filling (TSG 23-2021): filling a cylinder past its
// periodic-inspection date or its scrap date is a violation against the site.
import type { Filling } from '../../domain/messages.js';
import { cstDate } from '../../domain/time.js';

/** Why this filling is a violation, or null. Dates compare as China Standard Time calendar days. */
export function fillingViolation(f: Filling): string | null {
  const day = cstDate(f.ts);
  if (f.scrapDue !== undefined && f.scrapDue < day) return `cylinder ${f.cylinder} filled on ${day}, past its scrap date ${f.scrapDue}`;
  if (f.nextInspectionDue < day) return `cylinder ${f.cylinder} filled on ${day}, past its inspection date ${f.nextInspectionDue}`;
  return null;
}
