// `npm run user | import | sim` run the compiled code, so the documented way
// to create the first administrator works in a production install
// (`npm ci --omit=dev`: no tsx, no TypeScript). The install is reproduced in
// a temporary directory: package.json, scripts/, a copy of dist/ and only the
// packages the lock file does not mark as dev.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let install: string;

function npmRun(cwd: string, script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) =>
    execFile('npm', ['run', '--silent', script, '--', ...args], { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (e, out, err) =>
      resolve({ code: (e as { code?: number } | null)?.code ?? 0, out, err }),
    ),
  );
}

/** A production install: the packages `npm ci --omit=dev` keeps (symlinked), nothing else. */
function productionInstall(): string {
  const dir = mkdtempSync(join(tmpdir(), 'se-prod-'));
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  cpSync(join(root, 'scripts'), join(dir, 'scripts'), { recursive: true });
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [path, p] of Object.entries(lock.packages)) {
    // top-level packages only (node_modules/x or node_modules/@scope/x); their nested ones come along
    if (!/^node_modules\/(@[^/]+\/)?[^/@]+$/.test(path) || p.dev || !existsSync(join(root, path))) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(join(root, path), join(dir, path));
  }
  return dir;
}

beforeAll(() => {
  // dist/ as `npm run build` makes it (npm test builds first; this only rebuilds when a source is newer)
  const r = spawnSync(process.execPath, ['scripts/run-built.mjs', 'service/user-cli.ts', 'list'], { cwd: root, env: { ...process.env, DATA_DIR: mkdtempSync(join(tmpdir(), 'se-cli-')) }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  install = productionInstall();
});
afterAll(() => {
  if (install) rmSync(install, { recursive: true, force: true });
});

describe('command-line tools in a production install (no dev dependencies)', () => {
  it('the install really lacks the dev tools', () => {
    for (const dev of ['tsx', 'typescript', 'vite', 'vitest']) expect(existsSync(join(install, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(install, 'node_modules', 'better-sqlite3'))).toBe(true);
  });

  it('without dist/, npm run user says how to get a build', async () => {
    const r = await npmRun(install, 'user', ['list'], { DATA_DIR: join(install, 'data') });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/dist\/service\/user-cli\.js is missing/);
    expect(r.err).toMatch(/npm run build/);
  });

  it('with the build, npm run user creates the first administrator and lists it', async () => {
    cpSync(join(root, 'dist'), join(install, 'dist'), { recursive: true });
    const env = { DATA_DIR: join(install, 'data'), USER_PASSWORD: 'correct horse battery' };
    const created = await npmRun(install, 'user', ['create', '--username', 'chief', '--role', 'admin', '--display-name', '王科长'], env);
    expect(created.code, created.err).toBe(0);
    const listed = await npmRun(install, 'user', ['list'], env);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toMatch(/chief.*admin/);
  });

  it('npm run sim and npm run import run from the build', async () => {
    const out = join(install, 'records.ndjson');
    const sim = await npmRun(install, 'sim', ['backfill', '--seed', '3', '--elevators', '20', '--units', '3', '--out', out]);
    expect(sim.code, sim.err).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean).length).toBeGreaterThan(20);
    // the import needs a running service (test/ingest/bulk-import.test.ts); here: it loads and explains its usage
    const usage = await npmRun(install, 'import', []);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/usage: npm run import/);
  });
});
