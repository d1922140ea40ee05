// The broker's and HTTP ingest's log in a cluster: an accepted publish goes
// to the JetStream partition of its equipment (or of its sender, for
// records, so one sender's records stay in order) and is acknowledged once
// the stream has stored it. Bounded by the log's pending bytes and the
// stream's own size.
import { parseTopic } from '../domain/channels.js';
import type { JetStreamLog } from './jetstream-log.js';
import type { IngressLog, SpoolMessage } from './spool.js';

/** The partition key of a message: the equipment it is about, else who sent it (the broker passes it along with the message: it has parsed the topic already). */
export function partitionKey(m: Pick<SpoolMessage, 'topic' | 'sender' | 'key'>): string {
  return m.key ?? parseTopic(m.topic)?.equipment?.code ?? m.sender;
}

export class ClusterIngress implements IngressLog {
  constructor(
    private readonly log: JetStreamLog,
    /** what this node has taken from the stream and not stored yet (its partitions' backlog) */
    private readonly backlog: () => { count: number; bytes: number },
    private readonly maxPendingBytes: number,
    readonly limitBytes: number,
  ) {}

  append(m: SpoolMessage, cb: (err?: Error) => void): void {
    this.log.append(m, partitionKey(m)).then(() => cb(), cb);
  }

  appendAsync(m: SpoolMessage): Promise<void> {
    return this.log.append(m, partitionKey(m));
  }

  get depthCount(): number {
    return this.backlog().count;
  }

  get depthBytes(): number {
    return this.backlog().bytes;
  }

  /** Appends waiting for the stream's acknowledgement fill their bound: new ones are refused at once. */
  get full(): boolean {
    return this.log.pendingBytes >= this.maxPendingBytes;
  }
}
