// `npm run user | import | sim`: runs the compiled entry point from dist/,
// so these commands need no dev dependency (tsx) and keep working after
// `npm ci --omit=dev`. In a checkout with TypeScript installed, dist/ is
// first rebuilt when it is missing or older than a source file (a developer
// never runs stale code); without TypeScript and without dist/, it says how
// to get a build instead of failing on a missing module.
//
//   node scripts/run-built.mjs service/user-cli.ts [args…]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const [source, ...args] = process.argv.slice(2);
if (!source?.endsWith('.ts')) {
  console.error('usage: node scripts/run-built.mjs <entry>.ts [args…]');
  process.exit(2);
}
const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));

/** The TypeScript compiler, when dev dependencies are installed. */
function compiler() {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

/** True when some source file compiled into dist/ is newer than its output (or has none). */
function stale() {
  const { include, exclude } = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
  const skip = new Set(exclude.map((d) => join(root, d)));
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).some((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return !skip.has(path) && walk(path);
    if (!e.name.endsWith('.ts') || e.name.endsWith('.d.ts')) return false;
    const out = join(root, 'dist', relative(root, path).replace(/\.ts$/, '.js'));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs;
  });
  return include.some((d) => existsSync(join(root, d)) && walk(join(root, d)));
}

const tsc = compiler();
if (tsc && stale()) {
  console.error('building dist/ (tsc -p tsconfig.build.json) …');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error('the build failed (see above); nothing was run');
    process.exit(1);
  }
}
if (!existsSync(built)) {
  console.error(`${relative(root, built)} is missing: this installation has no build and no TypeScript compiler to make one.
Build where dev dependencies are installed (npm ci && npm run build), then keep dist/ when installing for production
(npm prune --omit=dev, or copy dist/ next to an npm ci --omit=dev).`);
  process.exit(1);
}
// The entry point sees the usual argv: [node, its own path, args…].
process.argv = [process.argv[0], built, ...args];
await import(pathToFileURL(built).href);
