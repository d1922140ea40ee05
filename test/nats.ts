// Test fixtures for the cluster log: a real nats-server with JetStream on
// loopback for a test file (bench/nats-server.ts: unsupervised, so a test can
// SIGKILL or SIGSTOP it and decide when it comes back), a stream's count, and
// what a test of a killed server in a NATS cluster needs (keep it down, retry
// while RAFT elects).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsTestServer } from '../bench/nats-server.js';
import { sleep } from '../storage/local-server.js';

/** One nats-server for the file, started before its tests and removed after them; call at the top level. */
export function natsServerForFile(prefix: string): () => NatsTestServer {
  let server: NatsTestServer | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    server = await startNatsServer(dir);
  });
  afterAll(async () => {
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => server!;
}

/** How many messages the stream holds (batches, for the cluster log). */
export async function streamMessages(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** A port held by the test, as long as it wants: a killed supervised server cannot be started on it again. */
export function holdPort(port: number): Promise<Server> {
  return new Promise((res, rej) => {
    const srv = createServer().once('error', rej).listen(port, '127.0.0.1', () => res(srv));
  });
}

/** fn() once it succeeds, trying again for up to ms (say, while a meta or stream leader is being elected) */
export async function retrying<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const giveUpAt = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > giveUpAt) throw e;
      await sleep(100);
    }
  }
}
