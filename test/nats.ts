// Test fixtures for the cluster log: a real nats-server with JetStream on
// loopback for a test file (bench/nats-server.ts: unsupervised, so a test can
// SIGKILL or SIGSTOP it and decide when it comes back), and a stream's count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsTestServer } from '../bench/nats-server.js';

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
