// Entry point: `node dist/service/main.js [--demo]` (npm start builds it first).
// SIGTERM/SIGINT stop the service gracefully (drain, then exit).
import pino from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startService, type Service } from './service.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'se-monitor' } });

async function main(): Promise<void> {
  const demo = process.argv.includes('--demo');
  if (demo) {
    // The demo's stand-in DingTalk robot listens on loopback, which webhooks may not reach unless allowed: allow exactly it.
    const robot = `127.0.0.1:${process.env.DEMO_WEBHOOK_PORT || 8090}`;
    const allowed = (process.env.NOTIFY_ALLOW_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    if (!allowed.includes(robot)) process.env.NOTIFY_ALLOW_HOSTS = [...allowed, robot].join(',');
  }
  const config = loadConfig();
  // Handlers go in before start: /healthz answers while start is still finishing, and a signal
  // then must not take Node's default (death by signal, children left to their own watchdogs).
  let service: Service | null = null;
  let stopping = false;
  const drainAndExit = async (svc: Service) => {
    await svc.stop();
    process.exit(0);
  };
  const stop = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C while starting or draining: the operator means now.
      if (service === null) process.exit(130);
      return;
    }
    stopping = true;
    log.info({ signal }, service ? 'shutting down' : 'shutting down once started');
    if (service) void drainAndExit(service); // else right after start, below
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  service = await startService(config, log);
  if (stopping) return drainAndExit(service);
  if (demo) {
    const { runDemo } = await import('../simulators/demo.js');
    // The demo is a guest: if it fails, say so and keep the service running.
    runDemo(service, log.child({ part: 'demo' })).catch((e) => log.error({ err: e }, 'demo city stopped'));
  }
}

main().catch((e) => {
  if (e instanceof ConfigError) console.error(e.message);
  else log.fatal({ err: e }, 'service failed to start');
  process.exit(1);
});
