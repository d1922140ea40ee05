// mqtt-packet, Aedes's wire codec, calls the `debug` package a dozen times per
// packet, and `debug` gathers its arguments into an array before it looks
// whether it is enabled: about a kilobyte of garbage per message at full load,
// for log lines nobody sees. Unless DEBUG is set (someone tracing the wire),
// mqtt-packet is given a debug that does nothing. Call it before Aedes is
// imported (a static import of a CommonJS package runs before any module code).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Gives mqtt-packet a debug that does nothing, unless DEBUG is set or the codec is loaded already; true if it did. */
export function quietWireDebug(): boolean {
  if (process.env.DEBUG) return false;
  const codec = require.resolve('mqtt-packet');
  if (require.cache[codec]) return false;
  const id = require.resolve('debug', { paths: [codec] });
  require(id);
  const off = Object.assign(() => undefined, { enabled: false, namespace: '', log: () => undefined, destroy: () => undefined });
  const extend = () => off;
  require.cache[id]!.exports = Object.assign(() => Object.assign(off, { extend }), { enable: () => undefined, disable: () => '', enabled: () => false });
  return true;
}
