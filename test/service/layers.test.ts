// Layers (README, "Architecture"): a module imports only its own layer or
// lower ones, so a lower part can be read, tested and changed without the
// parts built on it. Every import counts — static, `import type`, re-exports
// and dynamic `import()` — since a type-only import upward still ties the
// lower layer to the higher one's shape.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Lowest first. storage/ sits below broker/ and ingest/ because both use it
 * (the spool, the ledger, InfluxDB); the registry is below broker/ because
 * the broker authenticates gateways against it. service/, simulators/ and
 * bench/ compose everything and may import anything.
 */
const LAYERS: string[][] = [
  ['common', 'domain'],
  ['storage'],
  ['registry'],
  ['broker'],
  ['ingest'],
  ['alerts'],
  ['supervision'],
  ['dashboard'],
  ['service', 'simulators', 'bench'],
];
const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

/**
 * Upward imports known and not yet fixed: "from -> to" (paths from the
 * repository root, .ts). Each needs its reason; keep this list short and
 * empty it, never grow it to make a new upward import pass.
 */
const ALLOWED: ReadonlySet<string> = new Set<string>([
  // (none)
]);

/** Every relative import specifier of a TypeScript source. */
function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.'));
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const top = (p: string) => p.split(sep)[0]!;

describe('layers', () => {
  it('finds static, type-only, re-exported and dynamic imports', () => {
    const src = `import type { A } from '../dashboard/auth.js';\nimport { b } from './b.js';\nexport { c } from '../c.js';\nexport * from 'zod';\nconst e = await import('../service/e.js');\n`;
    expect(importsOf(src)).toEqual(['../dashboard/auth.js', './b.js', '../c.js', '../service/e.js']);
  });

  it('places every top-level source folder in a layer', () => {
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'dist', 'test', 'docs', 'scripts'].includes(e.name))
      .map((e) => e.name)
      .filter((d) => sources(d).length > 0);
    expect(folders.filter((d) => !rank.has(d))).toEqual([]);
    // and the README's folder table lists it
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(folders.filter((d) => !readme.includes(`| \`${d}/\` |`))).toEqual([]);
  });

  it('no module imports a higher layer', () => {
    const upward: string[] = [];
    let checked = 0;
    for (const folder of rank.keys()) {
      for (const file of sources(folder)) {
        for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
          const target = relative(ROOT, join(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts');
          const to = top(target);
          checked++;
          if (!rank.has(to)) continue; // test helpers, package.json and the like are not layered
          if (rank.get(to)! > rank.get(folder)! && !ALLOWED.has(`${file} -> ${target}`)) upward.push(`${file} -> ${target}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
    expect(upward).toEqual([]);
  });

  it('keeps the allow-list to imports that still exist', () => {
    for (const entry of ALLOWED) {
      const [file, target] = entry.split(' -> ') as [string, string];
      const specs = importsOf(readFileSync(join(ROOT, file), 'utf8')).map((s) => relative(ROOT, join(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
      expect(specs, entry).toContain(target);
    }
  });
});
