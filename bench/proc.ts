// CPU time of processes from /proc, for the benchmarks' CPU-per-message
// figures (bench:dashboard, bench:cluster).
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux). */
const HZ = 100;

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces): [0] state, [1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime. */
export const statFields = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
};

/** user + system CPU seconds of a process so far (NaN once it is gone). */
export const cpuS = (pid: number | undefined) => {
  try {
    const f = statFields(pid!);
    return (Number(f[11]) + Number(f[12])) / HZ;
  } catch {
    return NaN;
  }
};

/** The live children of a process. */
export function childrenOf(ppid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return Number(statFields(pid)[1]) === ppid;
    } catch {
      return false;
    }
  });
}

/**
 * CPU seconds of a process and its children so far, by pid: its own, its
 * exited children's (cutime + cstime, waited for) and each live child's (a
 * PostgreSQL postmaster's backends). Diff two with cpuDelta.
 */
export function treeCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    const f = statFields(pid);
    out.set(pid, (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / HZ);
  } catch {
    return out;
  }
  for (const c of childrenOf(pid)) {
    const s = cpuS(c);
    if (!Number.isNaN(s)) out.set(c, s);
  }
  return out;
}

/** CPU seconds spent between two treeCpu snapshots (a child born in between counts from 0). */
export const cpuDelta = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, s]) => sum + s - (before.get(pid) ?? 0), 0);
