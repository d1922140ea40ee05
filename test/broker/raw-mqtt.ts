// Raw MQTT over a plain TCP socket, for what a well-behaved client library
// will not send: odd protocol levels, empty client ids with a persistent
// session, huge declared lengths. Bytes follow MQTT 3.1.1 §2–3.
import { connect as tcpConnect, type Socket } from 'node:net';
import { once } from 'node:events';

/** The MQTT variable-length "remaining length" encoding (§2.2.3). */
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

export interface ConnectFields {
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  clean?: boolean;
  level?: number;
  keepalive?: number;
}

/** A CONNECT packet (§3.1). */
export function connectPacket(f: ConnectFields): Buffer {
  const flags = (f.username !== undefined ? 0x80 : 0) | (f.password !== undefined ? 0x40 : 0) | (f.clean === false ? 0 : 0x02);
  const keepalive = f.keepalive ?? 30;
  const body = Buffer.concat([
    str(f.level === 3 ? 'MQIsdp' : 'MQTT'),
    Buffer.from([f.level ?? 4, flags, keepalive >> 8, keepalive & 0xff]),
    str(f.clientId),
    ...(f.username !== undefined ? [str(f.username)] : []),
    ...(f.password !== undefined ? [str(f.password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

export interface RawConnection {
  socket: Socket;
  /** Resolves when the server has closed (or reset) the connection. */
  closed: Promise<void>;
  /** Everything the server has sent so far. */
  received(): Buffer;
  /** Resolves with the first `n` bytes the server sends (rejects if it closes before). */
  read(n: number): Promise<Buffer>;
}

export async function rawConnection(port: number): Promise<RawConnection> {
  const socket = tcpConnect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  let waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    for (const w of waiters) w();
  });
  socket.on('error', () => {}); // a reset by the server is what several tests expect
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  let isClosed = false;
  void closed.then(() => {
    isClosed = true;
    for (const w of waiters) w();
  });
  const received = () => Buffer.concat(chunks);
  return {
    socket,
    closed,
    received,
    read: (n) =>
      new Promise<Buffer>((resolve, reject) => {
        const check = () => {
          const all = received();
          if (all.length >= n) {
            waiters = waiters.filter((w) => w !== check);
            resolve(all.subarray(0, n));
          } else if (isClosed) {
            reject(new Error(`connection closed after ${all.length} of ${n} bytes (${all.toString('hex')})`));
          }
        };
        waiters.push(check);
        check();
      }),
  };
}

/** Opens a connection, sends a CONNECT and returns the CONNACK's 4 bytes with the connection. */
export async function rawConnect(port: number, f: ConnectFields): Promise<RawConnection & { connack: Buffer }> {
  const c = await rawConnection(port);
  c.socket.write(connectPacket(f));
  return { ...c, connack: await c.read(4) };
}

/** A PUBLISH at QoS 1 (§3.3). */
export function publishPacket(topic: string, payload: string, messageId: number): Buffer {
  const body = Buffer.concat([str(topic), Buffer.from([messageId >> 8, messageId & 0xff]), Buffer.from(payload, 'utf8')]);
  return Buffer.concat([Buffer.from([0x32]), varint(body.length), body]);
}
