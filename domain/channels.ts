// Topics of the gateway protocol v1 and the channel each one carries.
import type { z } from 'zod';
import {
  complaintSchema, eventSchema, fillingSchema, hazardSchema, inspectionSchema, maintenanceSchema, readingSchema, rescueSchema, statusSchema,
} from './messages.js';

export const CHANNELS = ['status', 'event', 'reading', 'filling', 'maintenance', 'inspection', 'complaint', 'rescue', 'hazard'] as const;
export type Channel = (typeof CHANNELS)[number];

export const RECORD_CHANNELS = ['maintenance', 'inspection', 'complaint', 'rescue', 'hazard'] as const;
export type RecordChannel = (typeof RECORD_CHANNELS)[number];

export const SCHEMAS = {
  status: statusSchema,
  event: eventSchema,
  reading: readingSchema,
  filling: fillingSchema,
  maintenance: maintenanceSchema,
  inspection: inspectionSchema,
  complaint: complaintSchema,
  rescue: rescueSchema,
  hazard: hazardSchema,
} satisfies Record<Channel, z.ZodType>;

export type ChannelRecord = { [C in Channel]: z.output<(typeof SCHEMAS)[C]> };

/** A record with its channel, as a union: testing `channel` narrows `record` to that channel's type. */
export type ChannelItem<C extends Channel = Channel> = { [K in C]: { channel: K; record: ChannelRecord[K] } }[C];

/** A parsed topic: the channel and, for equipment channels, the equipment it speaks for. */
export type Route =
  | { channel: 'status' | 'event'; equipment: { kind: 'elevator'; code: string } }
  | { channel: 'reading' | 'filling'; equipment: { kind: 'gas_site'; code: string } }
  | { channel: RecordChannel; equipment: null };

const CODE = /^[A-Za-z0-9_-]{1,32}$/;
export const TOPIC_PREFIX = 'se/v1/';

const leafAt = (topic: string, at: number, leaf: string) => topic.length === at + leaf.length && topic.startsWith(leaf, at);

/**
 * Parses a topic of protocol v1; null when the topic is not one of its topics. It runs twice per message (broker,
 * decode), so it compares in place and cuts out only the code.
 */
export function parseTopic(topic: string): Route | null {
  if (!topic.startsWith(TOPIC_PREFIX)) return null;
  const a = TOPIC_PREFIX.length;
  if (topic.startsWith('records/', a)) {
    const c = topic.slice(a + 8) as RecordChannel;
    return (RECORD_CHANNELS as readonly string[]).includes(c) ? { channel: c, equipment: null } : null;
  }
  const elevator = topic.startsWith('elevator/', a);
  if (!elevator && !topic.startsWith('gas-site/', a)) return null;
  const at = a + 9;
  const slash = topic.indexOf('/', at);
  if (slash < 0) return null;
  const code = topic.slice(at, slash);
  if (!CODE.test(code)) return null;
  const leaf = slash + 1;
  if (elevator) {
    const channel = leafAt(topic, leaf, 'status') ? 'status' : leafAt(topic, leaf, 'event') ? 'event' : null;
    return channel && { channel, equipment: { kind: 'elevator', code } };
  }
  const channel = leafAt(topic, leaf, 'reading') ? 'reading' : leafAt(topic, leaf, 'filling') ? 'filling' : null;
  return channel && { channel, equipment: { kind: 'gas_site', code } };
}

export const topics = {
  status: (code: string) => `se/v1/elevator/${code}/status`,
  event: (code: string) => `se/v1/elevator/${code}/event`,
  reading: (site: string) => `se/v1/gas-site/${site}/reading`,
  filling: (site: string) => `se/v1/gas-site/${site}/filling`,
  record: (c: RecordChannel) => `se/v1/records/${c}`,
};

/** Partner kinds and the record channels each may send. */
export const PARTNER_KINDS = ['institute', 'maintenance_unit', 'hotline'] as const;
export type PartnerKind = (typeof PARTNER_KINDS)[number];
export const PARTNER_CHANNELS: Record<PartnerKind, readonly RecordChannel[]> = {
  // hazard (v1.1): institutes for what they inspect; a maintenance unit only for equipment it maintains (ingest/decode.ts)
  institute: ['inspection', 'hazard'],
  maintenance_unit: ['maintenance', 'rescue', 'hazard'],
  hotline: ['complaint', 'rescue'],
};

/** Largest payload accepted, and the most objects in one batch. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const MAX_BATCH = 500;
export const MAX_FUTURE_MS = 5 * 60_000;
