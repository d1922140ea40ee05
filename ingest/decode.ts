// Decoding one message: topic → channel, payload → validated objects. Pure
// apart from registry look-ups; every refusal carries a reason code and a
// message an operator can act on. One bad object rejects that object only.
import { fastStatus } from '../domain/fast-status.js';
import { MAX_BATCH, MAX_FUTURE_MS, MAX_PAYLOAD_BYTES, SCHEMAS, parseTopic, type Channel, type ChannelItem, type ChannelRecord } from '../domain/channels.js';
import type { PointContext } from '../storage/points.js';
import { formatIssues, type Registry } from '../registry/registry.js';

export const REJECT_REASONS = [
  'unknown_topic', 'payload_too_large', 'malformed_json', 'not_an_object', 'batch_too_large', 'empty_batch',
  'invalid_object', 'future_timestamp', 'unknown_equipment', 'unknown_unit', 'unit_not_permitted',
  'storage_rejected', 'internal_error',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Reject {
  reason: RejectReason;
  message: string;
  /** index of the object within a batch, when the payload was an array */
  index?: number | undefined;
  /** the offending object or payload, cut to an excerpt when stored */
  excerpt: string;
}

export type Accepted<C extends Channel = Channel> = ChannelItem<C> & {
  /** equipment named by the topic (elevator or site), null for records */
  code: string | null;
  ctx: PointContext;
  /** the principal that sent it ('' when decoded without one) */
  sender: string;
  receivedAt: number;
};

export interface Decoded {
  channel: Channel | null;
  items: Accepted[];
  rejects: Reject[];
}

const EXCERPT = 512;
/** A short, printable excerpt of a payload or object; never throws. */
export const excerpt = (v: unknown): string => {
  let s: string;
  try {
    s = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8', 0, EXCERPT * 4) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = `(unprintable ${Array.isArray(v) ? 'array' : typeof v})`; // e.g. nested too deep to stringify
  }
  return s.length > EXCERPT ? `${s.slice(0, EXCERPT)}…` : s;
};

/** The registry context of one object: for tags and for the unit a record defaults to. */
function context(channel: Channel, code: string | null, rec: Record<string, unknown>, registry: Registry): PointContext | RejectReason {
  if (code !== null) {
    const eq = channel === 'status' || channel === 'event' ? registry.elevators.get(code) : registry.gasSites.get(code);
    if (!eq) return 'unknown_equipment';
    return { district: eq.district, unit: 'maintenanceUnit' in eq ? eq.maintenanceUnit : undefined };
  }
  const elevator = rec.elevator as string | undefined;
  const unit = rec.unit as string | undefined;
  if (unit !== undefined && !registry.units.get(unit)) return 'unknown_unit';
  if (channel === 'hazard') {
    // A hazard's responsible unit is its own `unit`, else the elevator's registry unit (a gas site has none).
    const site = rec.site as string | undefined;
    const eq = site !== undefined ? registry.gasSites.get(site) : registry.elevators.get(elevator!);
    if (!eq) return 'unknown_equipment';
    return { district: eq.district, unit: unit ?? ('maintenanceUnit' in eq ? eq.maintenanceUnit : undefined) };
  }
  if (elevator === undefined) return { unit };
  const e = registry.elevators.get(elevator);
  if (!e) return 'unknown_equipment';
  return { district: e.district, unit: e.maintenanceUnit };
}

const REASON_TEXT: Partial<Record<RejectReason, (code: string | null, rec: Record<string, unknown>) => string>> = {
  unknown_equipment: (code, rec) => rec.site !== undefined ? `gas site ${rec.site as string} is not registered` : `equipment ${code ?? (rec.elevator as string)} is not registered`,
  unknown_unit: (_c, rec) => `maintenance unit ${rec.unit as string} is not registered`,
};

/**
 * Decodes a message. `payload` is the raw bytes (MQTT, spool) or an
 * already-parsed JSON value (bulk import).
 */
export function decode(topic: string, payload: Buffer | unknown, receivedAt: number, registry: Registry, sender?: string): Decoded {
  const route = parseTopic(topic);
  if (!route) return reject(null, 'unknown_topic', `topic ${JSON.stringify(topic.slice(0, 200))} is not a topic of protocol v1`, payload);
  const { channel } = route;
  let value: unknown = payload;
  if (Buffer.isBuffer(payload)) {
    if (payload.length > MAX_PAYLOAD_BYTES) {
      return reject(channel, 'payload_too_large', `payload is over ${MAX_PAYLOAD_BYTES} bytes, the limit`, payload);
    }
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch (e) {
      return reject(channel, 'malformed_json', `payload is not valid JSON: ${(e as Error).message}`, payload);
    }
  }
  const batch = Array.isArray(value);
  const objects = batch ? (value as unknown[]) : [value];
  if (batch && objects.length === 0) return reject(channel, 'empty_batch', 'payload is an empty array', payload);
  if (objects.length > MAX_BATCH) return reject(channel, 'batch_too_large', `batch has ${objects.length} objects; the limit is ${MAX_BATCH}`, payload);

  const out: Decoded = { channel, items: [], rejects: [] };
  const schema = SCHEMAS[channel];
  const code = route.equipment?.code ?? null;
  // A maintenance unit's app speaks for its own unit only.
  const principal = sender === undefined ? undefined : registry.principal(sender);
  const ownUnit = principal?.kind === 'partner' && principal.partnerKind === 'maintenance_unit' ? principal.unit : undefined;
  objects.forEach((obj, i) => {
    const index = batch ? i : undefined;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      out.rejects.push({ reason: 'not_an_object', message: `expected a JSON object, got ${Array.isArray(obj) ? 'an array' : typeof obj}`, index, excerpt: excerpt(obj) });
      return;
    }
    // The canonical status skips zod (most of the traffic); anything else, valid or not, goes through the schema.
    let record = channel === 'status' ? (fastStatus(obj as Record<string, unknown>) as ChannelRecord[Channel] | undefined) : undefined;
    if (record === undefined) {
      const parsed = schema.safeParse(obj);
      if (!parsed.success) {
        out.rejects.push({ reason: 'invalid_object', message: formatIssues(parsed.error), index, excerpt: excerpt(obj) });
        return;
      }
      record = parsed.data as ChannelRecord[Channel];
    }
    if (record.ts > receivedAt + MAX_FUTURE_MS) {
      const ahead = Math.round((record.ts - receivedAt) / 1000);
      out.rejects.push({ reason: 'future_timestamp', message: `ts is ${ahead} s in the future; at most ${MAX_FUTURE_MS / 1000} s is accepted`, index, excerpt: excerpt(obj) });
      return;
    }
    const recUnit = (record as { unit?: string }).unit;
    if (ownUnit !== undefined && recUnit !== undefined && recUnit !== ownUnit) {
      out.rejects.push({ reason: 'unit_not_permitted', message: `partner ${sender} speaks for unit ${ownUnit}, not ${recUnit}`, index, excerpt: excerpt(obj) });
      return;
    }
    const ctx = context(channel, code, record as unknown as Record<string, unknown>, registry);
    if (typeof ctx === 'string') {
      out.rejects.push({ reason: ctx, message: REASON_TEXT[ctx]!(code, record as unknown as Record<string, unknown>), index, excerpt: excerpt(obj) });
      return;
    }
    // A maintenance unit reports hazards only on the elevators it maintains (contract, records/hazard).
    if (ownUnit !== undefined && channel === 'hazard') {
      const h = record as ChannelRecord['hazard'];
      const refused = h.site !== undefined
        ? `partner ${sender} is a maintenance unit: it may report hazards on elevators it maintains, not on gas site ${h.site}`
        : ctx.unit !== ownUnit || registry.elevators.get(h.elevator!)?.maintenanceUnit !== ownUnit
          ? `partner ${sender} speaks for unit ${ownUnit}, which does not maintain elevator ${h.elevator}` : null;
      if (refused) {
        out.rejects.push({ reason: 'unit_not_permitted', message: refused, index, excerpt: excerpt(obj) });
        return;
      }
    }
    // `record` was parsed by SCHEMAS[channel], so it is that channel's record.
    out.items.push({ channel, record, code, ctx, sender: sender ?? '', receivedAt } as Accepted);
  });
  return out;
}

function reject(channel: Channel | null, reason: RejectReason, message: string, payload: unknown): Decoded {
  return { channel, items: [], rejects: [{ reason, message, excerpt: excerpt(payload) }] };
}
