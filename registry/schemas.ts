// Registry entities: who and what the service knows about.
import { z } from 'zod';
import { codeSchema, tagText } from '../domain/messages.js';
import { PARTNER_KINDS } from '../domain/channels.js';
import { SEVERITIES } from '../domain/alerts.js';

const idSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 . - _');
const text = (max = 200) => z.string().min(1).max(max);

export const unitSchema = z.object({
  id: idSchema,
  name: text(),
  phone: z.string().max(32).optional(),
  address: z.string().max(200).optional(),
});

export const elevatorSchema = z.object({
  code: codeSchema,
  address: text(),
  district: tagText(),
  userUnit: text(),
  maintenanceUnit: idSchema,
  /** next periodic-inspection due date, YYYY-MM-DD */
  nextInspectionDue: z.iso.date().nullable().default(null),
  maintenanceIntervalDays: z.coerce.number().int().min(1).max(365).default(15),
  /** installation (or first registration) date, YYYY-MM-DD: the age in the elevator's risk level */
  installedOn: z.iso.date().optional(),
});

export const gasSiteSchema = z.object({
  code: codeSchema,
  name: text(),
  address: text(),
  district: tagText(),
  kind: z.enum(['filling_station', 'storage_depot', 'restaurant', 'other']).default('other'),
});

export const partnerSchema = z.object({
  id: idSchema,
  kind: z.enum(PARTNER_KINDS),
  name: text(),
  /** for kind maintenance_unit: the unit it speaks for */
  unit: idSchema.optional(),
});

const list = z.preprocess((v) => (typeof v === 'string' ? v.split(/[;| ]+/).filter(Boolean) : v), z.array(codeSchema).max(10_000));

export const gatewaySchema = z.object({
  id: idSchema,
  name: z.string().max(200).optional(),
  elevators: list.default([]),
  gasSites: list.default([]),
});

const districts = z.preprocess((v) => (typeof v === 'string' ? v.split(/[;|]+/).map((d) => d.trim()).filter(Boolean) : v), z.array(tagText()).max(100));

/**
 * Someone (or a group chat robot) who is told about alerts. Routing: a
 * contact hears an alert when it covers the alert's district (no districts =
 * the whole city), the alert is at least `minSeverity`, and the alert's
 * escalation level has reached the contact's `level` (0 = duty inspector,
 * 1 = section chief, 2 = director, ...).
 */
export const contactSchema = z.object({
  id: idSchema,
  name: text(),
  /** mobile number, @-mentioned in DingTalk and WeCom messages */
  phone: z.string().regex(/^\+?[0-9-]{5,20}$/, 'must be a phone number').optional(),
  districts: districts.default([]),
  minSeverity: z.enum(SEVERITIES).default('major'),
  level: z.coerce.number().int().min(0).max(5).default(0),
  webhook: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  format: z.enum(['generic', 'dingtalk', 'wecom']).default('generic'),
  /** DingTalk robot signing secret (SEC…), when the robot uses 加签 */
  secret: z.string().max(200).optional(),
  enabled: z.preprocess((v) => (typeof v === 'string' ? !['false', '0', 'no'].includes(v) : v), z.boolean()).default(true),
});

export type Unit = z.infer<typeof unitSchema>;
export type Elevator = z.infer<typeof elevatorSchema>;
export type GasSite = z.infer<typeof gasSiteSchema>;
export type Partner = z.infer<typeof partnerSchema>;
export type Gateway = z.infer<typeof gatewaySchema>;
export type Contact = z.infer<typeof contactSchema>;

export const ENTITIES = {
  units: { schema: unitSchema, key: 'id', filters: ['name'] },
  elevators: { schema: elevatorSchema, key: 'code', filters: ['district', 'maintenanceUnit'] },
  'gas-sites': { schema: gasSiteSchema, key: 'code', filters: ['district', 'kind'] },
  partners: { schema: partnerSchema, key: 'id', filters: ['kind'] },
  gateways: { schema: gatewaySchema, key: 'id', filters: [] },
  contacts: { schema: contactSchema, key: 'id', filters: ['format', 'minSeverity'] },
} as const;
export type EntityName = keyof typeof ENTITIES;
export interface EntityTypes {
  units: Unit;
  elevators: Elevator;
  'gas-sites': GasSite;
  partners: Partner;
  gateways: Gateway;
  contacts: Contact;
}
