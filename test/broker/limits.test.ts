// Packet size limits at the MQTT edge: a peer declaring a huge packet is
// refused at its fixed header, before the broker buffers anything of it.
import { describe, expect, it } from 'vitest';
import { api, connect, publish, status, waitFor } from '../helpers.js';
import { brokerFixture } from './fixture.js';
import { connectPacket, publishPacket, rawConnect, rawConnection, type RawConnection } from './raw-mqtt.js';

const f = brokerFixture();
const { refusals } = f;

const MiB = 1 << 20;
const chunk = Buffer.alloc(MiB, 0x41);

/** Sends `header`, then up to `maxMiB` 1 MiB chunks while the server keeps the connection open; returns the MiB sent. */
async function stream(c: RawConnection, header: Buffer, maxMiB: number): Promise<number> {
  let closed = false;
  void c.closed.then(() => { closed = true; });
  c.socket.write(header);
  let sent = 0;
  while (!closed && sent < maxMiB) {
    sent++;
    if (!c.socket.write(chunk)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
  }
  return sent;
}

describe('packet size limits', () => {
  it('four parallel connections declaring 256 MiB and streaming 1 MiB chunks raise RSS by less than 20 MB, are closed and counted', async () => {
    const before = (await refusals()).packet_too_large ?? 0;
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    const conns = await Promise.all([1, 2, 3, 4].map(() => rawConnection(f.s.mqttPort)));
    // 10 ff ff ff 7f: a CONNECT declaring 268,435,455 bytes, the MQTT maximum.
    const sent = await Promise.all(conns.map((c) => stream(c, Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), 48)));
    peak = Math.max(peak, process.memoryUsage().rss);
    clearInterval(sampler);
    for (const c of conns) c.socket.destroy();
    const growthMB = (peak - rss0) / 1e6;
    console.log(`RSS growth with four 256 MiB-declaring connections: ${growthMB.toFixed(1)} MB (MiB sent per connection: ${sent.join(', ')})`);
    expect(growthMB).toBeLessThan(20);
    expect(sent.every((n) => n < 48), 'the server closed every connection before it had sent 48 MiB').toBe(true);
    expect((await refusals()).packet_too_large).toBe(before + 4);
  });

  it('refuses a CONNECT larger than a few KiB before authentication', async () => {
    const before = (await refusals()).packet_too_large ?? 0;
    const c = await rawConnection(f.s.mqttPort);
    const big = connectPacket({ clientId: 'x'.repeat(60_000), username: 'GW1', password: f.city.secrets.GW1 });
    c.socket.write(big);
    await c.closed;
    expect(c.received().length).toBe(0); // no CONNACK: it was never parsed
    expect((await refusals()).packet_too_large).toBe(before + 1);
  });

  it('refuses an authenticated PUBLISH declaring 256 MiB at its fixed header', async () => {
    const before = (await refusals()).packet_too_large ?? 0;
    const c = await rawConnect(f.s.mqttPort, { clientId: 'GW1-big', username: 'GW1', password: f.city.secrets.GW1 });
    expect(c.connack[3]).toBe(0);
    // PUBLISH QoS 1 with the largest declared length.
    const sent = await stream(c, Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f]), 32);
    c.socket.destroy();
    expect(sent).toBeLessThan(32);
    expect((await refusals()).packet_too_large).toBe(before + 1);
  });

  it('refuses a remaining length longer than four bytes (malformed)', async () => {
    const before = (await refusals()).malformed_packet ?? 0;
    const c = await rawConnect(f.s.mqttPort, { clientId: 'GW1-bad', username: 'GW1', password: f.city.secrets.GW1 });
    c.socket.write(Buffer.from([0x32, 0x80, 0x80, 0x80, 0x80, 0x01]));
    await c.closed;
    expect((await refusals()).malformed_packet).toBe(before + 1);
  });

  it('follows fixed headers split across TCP segments and packets sharing one', async () => {
    const c = await rawConnection(f.s.mqttPort);
    c.socket.setNoDelay(true);
    const body = JSON.stringify({ ...status('split-1'), detail: 'y'.repeat(300) }); // a 2-byte remaining length
    const bytes = Buffer.concat([
      connectPacket({ clientId: 'GW1-split', username: 'GW1', password: f.city.secrets.GW1 }),
      publishPacket('se/v1/elevator/E1/status', body, 1),
    ]);
    for (const b of bytes) {
      c.socket.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const together = Buffer.concat([1, 2, 3].map((i) => publishPacket('se/v1/elevator/E1/status', JSON.stringify(status(`split-${i + 1}`)), i + 1)));
    c.socket.write(together);
    // CONNACK, then a PUBACK for each of the four publishes.
    expect((await c.read(4 + 4 * 4)).toString('hex')).toBe('20020000' + '40020001' + '40020002' + '40020003' + '40020004');
    c.socket.destroy();
  });

  it('a payload up to the limit still arrives, and one somewhat over 64 KiB still becomes a dead letter', async () => {
    const c = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1);
    await publish(c, 'se/v1/elevator/E1/status', status('ok-1'));
    // Just under the packet limit (128 KiB): reaches the broker and the dead letters, connection kept.
    await publish(c, 'se/v1/elevator/E1/status', JSON.stringify({ ...status('big-1'), detail: 'x'.repeat(120_000) }));
    await publish(c, 'se/v1/elevator/E1/status', status('ok-2'));
    await c.endAsync();
    const letters = await waitFor(() => api(f.s, 'GET', '/api/v1/dead-letters?reason=payload_too_large'), (r) => r.body.total >= 1);
    expect(letters.body.items[0]).toMatchObject({ sender: 'GW1', reason: 'payload_too_large' });
  });
});
