// InfluxStore's writes against a real influxd: plain and gzip bodies land the
// same; a refused line is a non-retriable error carrying InfluxDB's reason; an
// unreachable server is a retriable one.
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { InfluxError, InfluxStore } from '../../storage/influx.js';
import { ownInflux, quietLog } from '../helpers.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('InfluxStore.write', () => {
  it('stores plain and gzip bodies alike, refuses a bad line with its reason, and fails retriably when nobody answers', async () => {
    const influx = await ownInflux('se-influx-write-', cleanups);
    const creds = { url: influx.url, username: influx.username, password: influx.password };
    const plain = await InfluxStore.connect({ ...creds, database: 'w', gzipThreshold: 0 }, quietLog);
    const zipped = await InfluxStore.connect({ ...creds, database: 'w', gzipThreshold: 1 }, quietLog);
    cleanups.push(() => plain.close(), () => zipped.close());
    const line = (i: number) => `t,k=a${i % 3} v=${i}i,s="点 ${i}" 1700000000${String(i).padStart(9, '0')}`;
    await plain.write(Array.from({ length: 500 }, (_, i) => line(i)));
    await zipped.write(Buffer.from(Array.from({ length: 500 }, (_, i) => line(500 + i)).join('\n')));
    expect(await plain.rows('SELECT count(v) AS n FROM t')).toMatchObject([{ n: 1000 }]);
    expect(await plain.rows('SELECT s FROM t WHERE v = 999')).toMatchObject([{ s: '点 999' }]);

    const refused = await zipped.write(['t v="a string where an integer was" 1700000000000000000']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InfluxError);
    expect(refused).toMatchObject({ status: 400, retriable: false, message: expect.stringMatching(/field type conflict/) });

    const nobody = InfluxStore.open({ url: `http://127.0.0.1:${await freePort()}`, database: 'w' }, quietLog);
    const down = await nobody.write([line(1)]).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(InfluxError);
    expect(down).toMatchObject({ retriable: true });
  });
});
