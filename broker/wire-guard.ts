// A thin MQTT 3.1.1 wire guard between a client's socket and Aedes.
//
// Aedes' parser (mqtt-packet) buffers a whole packet before anything can look
// at it and has no size limit of its own, so a peer declaring a 256 MiB packet
// could make the broker hold 256 MiB, unauthenticated. The guard reads only
// the fixed headers (type byte + remaining length, §2.2) as bytes pass and
// closes the connection as soon as a header declares more than the limit:
// nothing of such a packet is buffered. It also answers an unsupported
// protocol level with CONNACK 0x01 (the parser would close without one,
// MQTT-3.1.2-2), and sets the CONNACK's session-present flag, which Aedes
// derives only from stored subscriptions (this broker allows none).
import { Duplex } from 'node:stream';

export interface WireLimits {
  /** largest packet after the CONNECT, in bytes (fixed header excluded) */
  maxPacketBytes: number;
  /** largest first packet (the CONNECT), in bytes (fixed header excluded) */
  maxConnectBytes: number;
}

export type WireRefusal = 'packet_too_large' | 'malformed_packet' | 'unsupported_protocol';

const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01]);
/** Protocol levels Aedes speaks: 3 (MQTT 3.1), 4 (3.1.1), each also with the bridge bit 0x80. */
const LEVELS = new Set([3, 4, 0x83, 0x84]);

/** The level byte of a CONNECT at the start of `buf`; `undefined` while more bytes are needed, `null` when it cannot be read (Aedes' parser then refuses the packet). */
function connectLevel(buf: Buffer): number | null | undefined {
  if (buf.length < 2) return undefined;
  if (buf[0]! >> 4 !== 1) return null; // not a CONNECT: Aedes closes the connection
  let len = 0;
  let i = 1;
  for (let mult = 1; ; mult *= 128, i++) {
    if (i >= buf.length) return undefined;
    len += (buf[i]! & 0x7f) * mult;
    if (!(buf[i]! & 0x80)) break;
  }
  const start = i + 1;
  if (buf.length < start + 2) return undefined;
  const nameLen = buf.readUInt16BE(start);
  if (nameLen + 3 > len) return null;
  return buf.length > start + 2 + nameLen ? buf[start + 2 + nameLen]! : undefined;
}

export class MqttWireGuard extends Duplex {
  /** Set (by the broker's authenticate) before Aedes writes the CONNACK. */
  sessionPresent = false;

  private packets = 0; // fixed headers read so far
  private headerBytes = 0; // bytes of the fixed header being read
  private declared = 0; // its remaining length so far
  private body = 0; // bytes of the current packet still to pass
  private connect: Buffer | null = Buffer.alloc(0); // the first bytes, held until the protocol level is known
  private connack: Buffer | null = Buffer.alloc(0); // the first 4 bytes written, until they are complete
  private ended = false;

  constructor(
    private readonly socket: Duplex,
    private readonly limits: WireLimits,
    private readonly onRefuse: (reason: WireRefusal, message: string) => void,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.inbound(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.push(null);
    });
    socket.on('error', (err) => this.destroy(err));
    // After a clean end Aedes still reads what is buffered here, then closes us.
    socket.on('close', () => { if (!this.ended) this.destroy(); });
  }

  private refuse(reason: WireRefusal, message: string, reply?: Buffer) {
    this.onRefuse(reason, message);
    this.connect = null;
    if (reply) {
      // Keep reading (and dropping) so closing after the reply does not reset it away.
      this.socket.resume();
      this.socket.end(reply, () => this.socket.destroy());
    } else {
      this.socket.destroy();
    }
    this.destroy();
  }

  private inbound(chunk: Buffer) {
    if (this.destroyed) return;
    if (!this.scan(chunk)) return;
    if (this.connect) {
      this.connect = Buffer.concat([this.connect, chunk]);
      const level = connectLevel(this.connect);
      if (level === undefined) return;
      if (level !== null && !LEVELS.has(level)) {
        return this.refuse('unsupported_protocol', `protocol level ${level} is not supported: MQTT 3.1.1 (4) or 3.1 (3)`, CONNACK_UNACCEPTABLE_PROTOCOL);
      }
      chunk = this.connect;
      this.connect = null;
    }
    if (!this.push(chunk)) this.socket.pause();
  }

  /** Follows the fixed headers through `chunk`; false when the connection was refused. */
  private scan(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.body > 0) {
        const n = Math.min(this.body, chunk.length - i);
        this.body -= n;
        i += n;
        continue;
      }
      const b = chunk[i++]!;
      if (this.headerBytes++ === 0) {
        this.declared = 0;
        continue;
      }
      this.declared += (b & 0x7f) * 128 ** (this.headerBytes - 2);
      if (b & 0x80) {
        if (this.headerBytes === 5) {
          this.refuse('malformed_packet', 'remaining length longer than 4 bytes');
          return false;
        }
        continue;
      }
      const first = this.packets++ === 0;
      const limit = first ? this.limits.maxConnectBytes : this.limits.maxPacketBytes;
      if (this.declared > limit) {
        this.refuse('packet_too_large', `${first ? 'CONNECT' : 'packet'} declares ${this.declared} bytes, over the limit of ${limit}`);
        return false;
      }
      this.headerBytes = 0;
      this.body = this.declared;
    }
    return true;
  }

  override _read() {
    this.socket.resume();
  }

  // Aedes corks each packet and writes it in pieces: send them as one.
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void) {
    this._write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void) {
    if (this.connack) {
      // Aedes writes the CONNACK first, in pieces; complete it before it leaves.
      const head = Buffer.concat([this.connack, chunk]);
      if (head.length < 4) {
        this.connack = head;
        return cb();
      }
      this.connack = null;
      if (head[0] === 0x20 && head[1] === 0x02 && head[3] === 0x00 && this.sessionPresent) head[2] = 0x01;
      chunk = head;
    }
    if (this.socket.destroyed || this.socket.writableEnded) return cb();
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void) {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void) {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.destroy();
    cb(err);
  }
}
