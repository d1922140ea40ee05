// A throwaway single nats-server with JetStream for tests and benchmarks:
// loopback only, its own store dir, killed by the caller. (The service's own
// supervised launcher is storage/nats.ts; this one stays minimal so the log's
// tests and benchmark can kill and restart the server at will.)
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

export interface NatsTestServer {
  url: string;
  port: number;
  storeDir: string;
  proc: ChildProcess;
  /** SIGKILL and wait for the exit */
  kill(): Promise<void>;
  /** start again on the same port and store dir */
  restart(): Promise<void>;
}

function launch(port: number, storeDir: string, timeoutMs: number): Promise<ChildProcess> {
  const proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((res, rej) => {
    let log = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`nats-server did not become ready within ${timeoutMs} ms:\n${log.slice(-2000)}`));
    }, timeoutMs);
    proc.once('error', (e) => {
      clearTimeout(timer);
      rej(new Error(`cannot start nats-server (is Debian's nats-server installed?): ${e.message}`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`nats-server exited with ${code} before it was ready:\n${log.slice(-2000)}`));
    });
    proc.stderr!.on('data', (d: Buffer) => {
      if (log.length < 20_000) log += d.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        proc.stderr!.removeAllListeners('data');
        proc.stderr!.resume(); // keep draining so the server never blocks on a full pipe
        res(proc);
      }
    });
  });
}

export async function startNatsServer(storeDir: string, timeoutMs = 15_000): Promise<NatsTestServer> {
  const port = await freePort();
  const s: NatsTestServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    proc: await launch(port, storeDir, timeoutMs),
    async kill() {
      const p = s.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await s.kill();
      s.proc = await launch(port, storeDir, timeoutMs);
    },
  };
  return s;
}
