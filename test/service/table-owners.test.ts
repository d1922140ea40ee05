// One owner per table (issue 11): the module that creates a table is the
// only production code that runs SQL on it; everyone else calls the owner's
// typed methods. That is what lets a store move to another backend (or
// another node) without chasing its table through the code base. The scan
// reads every string and template literal of every production .ts file
// (comments are not literals, so they never count) and finds the tables it
// names after FROM, JOIN, INTO, UPDATE, TABLE and ON (an index's table).
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ENTITIES } from '../../registry/schemas.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Not production code: tests and benchmarks may set up data directly; the UI runs no SQL. */
const SKIP = new Set(['test', 'bench', 'dist', 'node_modules', 'docs', 'scripts', 'data', 'test-artifacts', join('dashboard', 'ui')]);
/** Stands for an interpolation `${…}` inside a template literal. */
const HOLE = '\u0000';
/**
 * The registry creates one table per entity from a template
 * (`CREATE TABLE … ${table}`): the scan cannot read those names, so they are
 * named here, from the same list the registry uses.
 */
const TEMPLATE_TABLES: Record<string, string[]> = {
  [join('registry', 'registry.ts')]: Object.keys(ENTITIES).map((n) => n.replace('-', '_')),
};

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.name.startsWith('.') || SKIP.has(p)) return [];
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The text of every string and template literal (interpolations as HOLE), without comments. */
export function literals(source: string): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) out.push(n.text);
    else if (ts.isTemplateExpression(n)) out.push(n.head.text + n.templateSpans.map((s) => HOLE + s.literal.text).join(''));
    ts.forEachChild(n, visit);
  };
  visit(ts.createSourceFile('x.ts', source, ts.ScriptTarget.Latest, false));
  return out;
}

// SQL keywords are written in capitals throughout the code base; prose in messages ("read from the ledger") is not.
const CREATE = /\bCREATE\s+(?:TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_]\w*|\u0000)/g;
const NAMES = /\b(?:FROM|JOIN|INTO|UPDATE|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|ON)\s+"?([A-Za-z_]\w*)/g;

export interface Scan {
  /** table → the files that create it */
  creators: Map<string, string[]>;
  /** file → the tables its SQL names */
  uses: Map<string, Set<string>>;
}

export function scan(files: { path: string; source: string }[], templateTables: Record<string, string[]> = {}): Scan {
  const creators = new Map<string, string[]>();
  const uses = new Map<string, Set<string>>();
  const created = (table: string, path: string) => creators.set(table, [...(creators.get(table) ?? []), path]);
  const texts = files.map((f) => ({ path: f.path, texts: literals(f.source) }));
  for (const { path, texts: lits } of texts) {
    for (const t of lits) {
      for (const m of t.matchAll(CREATE)) {
        if (m[1] !== HOLE) created(m[1]!, path);
        else if (templateTables[path]) templateTables[path].forEach((table) => created(table, path));
        else throw new Error(`${path} creates a table whose name is a template (${t.slice(0, 80)}): name its tables in TEMPLATE_TABLES`);
      }
    }
  }
  for (const { path, texts: lits } of texts) {
    for (const t of lits) {
      for (const m of t.matchAll(NAMES)) {
        if (!creators.has(m[1]!)) continue;
        let s = uses.get(path);
        if (!s) uses.set(path, (s = new Set()));
        s.add(m[1]!);
      }
    }
  }
  return { creators, uses };
}

/** `file: table` for every table named outside its owner, and `table: created in a, b` for a table with more than one. */
export function violations({ creators, uses }: Scan): string[] {
  const out: string[] = [];
  for (const [table, files] of creators) {
    const distinct = [...new Set(files)];
    if (distinct.length > 1) out.push(`${table}: created in ${distinct.join(', ')}`);
  }
  for (const [path, tables] of uses) {
    for (const table of tables) if (!creators.get(table)!.includes(path)) out.push(`${path}: ${table}`);
  }
  return out.sort();
}

describe('table owners', () => {
  it('reads SQL in string and template literals, not in comments', () => {
    const src = [
      `// SELECT * FROM b_table`,
      `/* UPDATE b_table SET x = 1 */`,
      `const q = db.prepare(\`SELECT a.id FROM a_table a LEFT JOIN b_table b ON b.id = a.id WHERE a.k = \${k}\`);`,
      `const msg = 'read from b_table failed';`,
    ].join('\n');
    const files = [
      { path: 'a.ts', source: `db.exec('CREATE TABLE IF NOT EXISTS a_table (id INTEGER)');\n${src}` },
      { path: 'b.ts', source: 'db.exec(`CREATE TABLE b_table (id INTEGER)`); db.exec("CREATE INDEX b_x ON b_table (id)");' },
    ];
    expect(violations(scan(files))).toEqual(['a.ts: b_table']);
  });

  it('finds INSERT INTO, UPDATE, DELETE FROM and an index on a table it does not own', () => {
    const owner = { path: 'o.ts', source: `db.exec('CREATE TABLE t1 (id INTEGER)')` };
    for (const sql of ['INSERT INTO t1 (id) VALUES (1)', 'UPDATE t1 SET id = 2', 'DELETE FROM t1', 'CREATE INDEX IF NOT EXISTS t1_x ON t1 (id)']) {
      expect(violations(scan([owner, { path: 'x.ts', source: `db.exec(${JSON.stringify(sql)})` }]))).toEqual(['x.ts: t1']);
    }
  });

  it('fails when a table is created in two places', () => {
    const files = [
      { path: 'a.ts', source: `db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER)')` },
      { path: 'b.ts', source: `db.exec(\`CREATE TABLE IF NOT EXISTS t (id INTEGER)\`)` },
    ];
    expect(violations(scan(files))).toEqual(['t: created in a.ts, b.ts']);
  });

  it('names the tables of a template CREATE TABLE, and refuses one it cannot name', () => {
    const reg = { path: 'r.ts', source: 'db.exec(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT)`)' };
    const other = { path: 'x.ts', source: `db.prepare('SELECT data FROM units')` };
    expect(violations(scan([reg, other], { 'r.ts': ['units'] }))).toEqual(['x.ts: units']);
    expect(() => scan([reg, other])).toThrow(/TEMPLATE_TABLES/);
  });

  it('every table of the service has one owner, the only production code that runs SQL on it', () => {
    const files = sources('.').map((path) => ({ path, source: readFileSync(join(ROOT, path), 'utf8') }));
    const s = scan(files, TEMPLATE_TABLES);
    // the scan found the service's tables (a broken pattern must not pass by finding nothing)
    for (const t of ['alerts', 'records', 'dead_letters', 'elevators', 'rescue_timings', 'elevator_facts']) expect(s.creators.has(t), t).toBe(true);
    expect(files.some((f) => f.path.split(sep)[0] === 'dashboard')).toBe(true);
    expect(violations(s)).toEqual([]);
  });
});
