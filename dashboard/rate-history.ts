// The ingest rates of the last hour, sampled on the server (every 5 s by
// Views), so the ingest-health chart has its history on every visit instead of
// starting empty in each browser. A fixed ring of numbers: its size never
// depends on traffic (720 points × 4 numbers for an hour at 5 s).

export interface RatePoint {
  at: number;
  messagesPerSec: number;
  storedPerSec: number;
  deadLettersPerSec: number;
}

export class RateHistory {
  private readonly at: Float64Array;
  private readonly values: Float64Array; // 3 per point
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`a rate history holds at least one point, not ${capacity}`);
    this.at = new Float64Array(capacity);
    this.values = new Float64Array(capacity * 3);
  }

  get length(): number {
    return this.size;
  }

  push(p: RatePoint): void {
    const i = this.next;
    this.at[i] = p.at;
    this.values.set([p.messagesPerSec, p.storedPerSec, p.deadLettersPerSec], i * 3);
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** Points after `since` (epoch ms), oldest first. */
  since(since = -Infinity): RatePoint[] {
    const out: RatePoint[] = [];
    for (let k = 0; k < this.size; k++) {
      const i = (this.next - this.size + k + this.capacity) % this.capacity;
      if (this.at[i]! <= since) continue;
      out.push({ at: this.at[i]!, messagesPerSec: this.values[i * 3]!, storedPerSec: this.values[i * 3 + 1]!, deadLettersPerSec: this.values[i * 3 + 2]! });
    }
    return out;
  }
}
