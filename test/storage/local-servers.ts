// What the tests of the project-local servers (influxd.test.ts,
// postgres.test.ts, nats.test.ts) share: temp data directories, a process liveness check
// that counts zombies as dead, and a parent process whose only job is to start
// a server (local-server-parent.ts), for the tests that kill that parent.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type Cleanups = (() => Promise<unknown>)[];

export const tempDir = (prefix: string, cleanups: Cleanups) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

/** The live children of a process (a postmaster's backends and workers). */
export function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]) === pid && alive(Number(d))) kids.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return kids;
}

/** Runs test/storage/local-server-parent.ts: a process whose only job is to start a project-local server. */
export function parent(kind: 'influxd' | 'postgres' | 'nats', dataDir: string, port: number, cleanups: Cleanups) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/storage/local-server-parent.ts', kind, dataDir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(async () => child.kill('SIGKILL'));
  const first = new Promise<{ pid?: number; error?: string }>((res, rej) => {
    createInterface({ input: child.stdout }).once('line', (l) => res(JSON.parse(l)));
    child.once('exit', (code) => rej(new Error(`parent exited (${code}) before printing`)));
  });
  return { child, first };
}
