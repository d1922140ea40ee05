// Which persistent MQTT sessions (cleanSession=0) exist, so a reconnect can
// report session present (MQTT-3.2.2-2). Bounded in bytes: the session least
// recently connected is forgotten first, as MQTT lets a server discard
// session state (§4.1). Held in memory, as Aedes holds the sessions
// themselves: after a restart every session starts anew (session present 0).
const ENTRY_OVERHEAD = 64; // rough bytes of a Map entry besides its key

export class SessionSet {
  private readonly keys = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** A client connects with cleanSession=0: whether its session existed; it does from now on. */
  resume(key: string): boolean {
    const existed = this.discard(key);
    const size = key.length * 2 + ENTRY_OVERHEAD;
    this.keys.set(key, size); // re-inserted: the Map's order is the order of last connection
    this.bytes += size;
    for (const [oldest, n] of this.keys) {
      if (this.bytes <= this.maxBytes) break;
      this.keys.delete(oldest);
      this.bytes -= n;
    }
    return existed;
  }

  /** A client connects with cleanSession=1: its previous session ends (MQTT-3.1.2-6). */
  discard(key: string): boolean {
    const size = this.keys.get(key);
    if (size === undefined) return false;
    this.keys.delete(key);
    this.bytes -= size;
    return true;
  }
}
