// The dashboard clients of `npm run bench:dashboard`, in a process of their
// own (forked by bench/dashboard.ts, talking over the IPC channel), so the
// MQTT publisher's event loop does not delay the arrival times.
//
// Opens CLIENTS WebSockets to /api/v1/live, authenticated with the admin
// token (even clients by ?token=, odd ones by `Authorization: Bearer`), waits
// for each one's `ready`, then records for every client the arrival of each
// entrapment's `raised` frame on the shared clock: performance.timeOrigin +
// performance.now(), the wall clock at process start plus a monotonic offset,
// comparable across processes on one machine (the parent checks the offset
// between the two processes and prints it). Every other frame (kpi,
// equipment, case, other alert transitions, …) is counted by type and size
// without being parsed beyond its type, so big state frames cost the client
// little. A close or error of a client before the parent says `finish` counts
// as a drop.
//
// Parent → child: {cmd:'connect', url, token, clients} | {cmd:'clock', t} |
//   {cmd:'status'} | {cmd:'finish'}
// Child → parent: {ev:'connected', ms} | {ev:'clock', t, tc} |
//   {ev:'status', pairs, dropped} | {ev:'dropped', client, code, reason} |
//   {ev:'result', …ClientsResult}
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

/** The shared clock: epoch milliseconds with sub-millisecond resolution. */
const clock = () => performance.timeOrigin + performance.now();

export interface ClientsResult {
  /** entrapment subject → arrival time per client index (null when none arrived) */
  receipts: Record<string, (number | null)[]>;
  /** frames by type, over all clients; alert frames as `alert:<transition>` */
  frames: Record<string, number>;
  /** bytes by frame type, over all clients */
  bytes: Record<string, number>;
  /** the same entrapment's `raised` frame twice on one client */
  duplicates: number;
  /** alert frames whose seq did not follow the previous one on that client */
  seqGaps: number;
  /** frames that were not JSON with a string `type` */
  malformed: number;
  dropped: { client: number; code: number; reason: string }[];
  /** this process's event-loop delay while measuring, ms */
  loopDelay: { p99: number; max: number };
}

type Cmd = { cmd: 'connect'; url: string; token: string; clients: number } | { cmd: 'clock'; t: number } | { cmd: 'status' } | { cmd: 'finish' };

const send = (m: unknown) => process.send!(m);
const sockets: WebSocket[] = [];
const receipts = new Map<string, (number | null)[]>();
const frames: Record<string, number> = {};
const bytes: Record<string, number> = {};
let pairs = 0;
let duplicates = 0;
let seqGaps = 0;
let malformed = 0;
let finishing = false;
let n = 0;
const dropped: ClientsResult['dropped'] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });

const TYPE = /^\{"type":"([^"]+)"/;

function openClient(url: string, token: string, i: number): Promise<void> {
  const ws = i % 2 === 0 ? new WebSocket(`${url}?token=${encodeURIComponent(token)}`, { handshakeTimeout: 30_000 }) : new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: 30_000 });
  sockets[i] = ws;
  let lastSeq: number | undefined;
  return new Promise((res, rej) => {
    let ready = false;
    ws.on('message', (data: Buffer) => {
      const at = clock();
      const len = data.length;
      // Cheap classification: the server writes `type` first. Anything else is parsed whole.
      let type = TYPE.exec(data.toString('latin1', 0, Math.min(len, 64)))?.[1];
      let f: { type?: unknown; seq?: number; transition?: string; alert?: { type?: string; subject?: string } } | undefined;
      if (type === undefined || type === 'alert' || type === 'ready' || type === 'reset') {
        try {
          f = JSON.parse(data.toString('utf8'));
        } catch {
          f = undefined;
        }
        if (typeof f?.type !== 'string') {
          malformed++;
          return;
        }
        type = f.type;
      }
      const key = type === 'alert' ? `alert:${f!.transition}` : type;
      frames[key] = (frames[key] ?? 0) + 1;
      bytes[key] = (bytes[key] ?? 0) + len;
      if (type === 'ready') {
        lastSeq = f!.seq;
        if (!ready) {
          ready = true;
          res();
        }
        return;
      }
      if (type === 'reset') {
        lastSeq = f!.seq;
        return;
      }
      if (type !== 'alert') return;
      if (typeof f!.seq === 'number') {
        if (lastSeq !== undefined && f!.seq !== lastSeq + 1) seqGaps++;
        lastSeq = f!.seq;
      }
      if (f!.transition !== 'raised' || f!.alert?.type !== 'entrapment' || !f!.alert.subject) return;
      let r = receipts.get(f!.alert.subject);
      if (!r) receipts.set(f!.alert.subject, (r = new Array<number | null>(n).fill(null)));
      if (r[i] !== null) duplicates++;
      else {
        r[i] = at;
        pairs++;
      }
    });
    ws.on('error', (err) => {
      if (!ready) rej(err);
    });
    ws.on('close', (code, reason) => {
      if (!ready) rej(new Error(`client ${i} closed before ready: ${code} ${String(reason)}`));
      else if (!finishing) {
        dropped.push({ client: i, code, reason: String(reason) });
        send({ ev: 'dropped', client: i, code, reason: String(reason) });
      }
    });
  });
}

process.on('message', async (m: Cmd) => {
  switch (m.cmd) {
    case 'connect': {
      n = m.clients;
      const t = clock();
      // In batches, as a room of browsers opening the page would, without a thundering herd of upgrades.
      for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => openClient(m.url, m.token, i + k)));
      loop.enable();
      send({ ev: 'connected', ms: clock() - t });
      break;
    }
    case 'clock':
      send({ ev: 'clock', t: m.t, tc: clock() });
      break;
    case 'status':
      send({ ev: 'status', pairs, dropped: dropped.length });
      break;
    case 'finish': {
      loop.disable();
      finishing = true;
      const result: ClientsResult = {
        receipts: Object.fromEntries(receipts), frames, bytes, duplicates, seqGaps, malformed, dropped,
        loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      };
      process.send!({ ev: 'result', ...result }, undefined, {}, () => {
        for (const ws of sockets) ws?.close(1000, 'benchmark done');
        setTimeout(() => process.exit(0), 300);
      });
      break;
    }
  }
});
process.on('disconnect', () => {
  finishing = true;
  for (const ws of sockets) ws?.terminate();
});
