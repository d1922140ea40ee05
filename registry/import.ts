// Parsing bulk-import files (CSV with a header row, or NDJSON) into rows. A
// row that cannot be parsed is reported with its number and never stops the
// others.
import { parse } from 'csv-parse/sync';

export type ImportFormat = 'csv' | 'ndjson';

export interface ParsedRows {
  rows: { row: number; input: Record<string, unknown> }[];
  errors: { row: number; error: string }[];
}

export function parseRows(text: string, format: ImportFormat, firstRow = 1): ParsedRows {
  const out: ParsedRows = { rows: [], errors: [] };
  if (format === 'ndjson') {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      try {
        const v = JSON.parse(line);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
        out.rows.push({ row: firstRow + i, input: v });
      } catch (e) {
        out.errors.push({ row: firstRow + i, error: `line is not a JSON object: ${(e as Error).message}` });
      }
    });
    return out;
  }
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true });
  } catch (e) {
    out.errors.push({ row: firstRow, error: `CSV could not be read: ${(e as Error).message}` });
    return out;
  }
  for (const { record, info } of records) {
    // Empty cells mean "not given", so optional fields fall back to their defaults.
    const input = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== '').map(([k, v]) => [k, csvValue(k, v)]));
    out.rows.push({ row: firstRow + info.lines - 1, input });
  }
  return out;
}

const NUMERIC = new Set(['ts', 'attempt', 'floor', 'lel', 'pressureMPa', 'temperatureC', 'netKg', 'speed', 'load', 'runCount', 'runHours', 'doorCycles', 'maintenanceIntervalDays']);
const BOOLEAN = new Set(['doorZone', 'passengers']);
/** List fields of the records (a hazard's evidence): one cell, entries separated by `;` or `|` (URLs hold neither unescaped). */
const LIST = new Set(['evidence']);

/**
 * CSV cells are text; numeric and boolean fields of the schemas are
 * recovered so the same schemas apply. Codes and ids stay text even when
 * they are all digits.
 */
export function csvValue(key: string, v: string): unknown {
  if (NUMERIC.has(key) && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (BOOLEAN.has(key) && (v === 'true' || v === 'false' || v === '1' || v === '0')) return v === 'true' || v === '1';
  if (LIST.has(key)) return v.split(/[;|]/).map((x) => x.trim()).filter(Boolean);
  return v;
}
