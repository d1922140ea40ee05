// The gateway protocol v1 (shared/contract/gateway-protocol-v1.md) as zod
// schemas. These are the single source of validation and of the TypeScript
// types used by ingest, storage, the HTTP routes and the simulators.
import { z } from 'zod';
import { parseRfc3339 } from './time.js';

/** Equipment code / site code: 1–32 chars of A-Z a-z 0-9 - _ */
export const codeSchema = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1–32 characters of A-Z a-z 0-9 - _');

/**
 * Event time: epoch ms integer or RFC 3339 string with offset → epoch ms.
 * Lowercase t/z and leap seconds are RFC 3339 too (see parseRfc3339 for how
 * 23:59:60 maps to epoch ms).
 */
export const eventTime = z
  .union([
    z.number().int().nonnegative(),
    z.string().transform((v, ctx) => {
      const r = parseRfc3339(v);
      if (typeof r === 'number') return r;
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }),
  ])
  .pipe(z.number().int().min(0, 'must not be before 1970-01-01'));

/**
 * Free text that becomes an InfluxDB tag: no control characters and no
 * backslash, which line protocol cannot carry in a tag.
 */
export const tagText = (max = 64) => z.string().min(1).max(max).regex(/^[^\p{Cc}\\]+$/u, 'must not contain control characters or backslashes');

const dateOnly = z.iso.date();

/**
 * An enumeration given by name, or by its GB/T 38656-2020 numeric code where
 * one exists. Always yields the name.
 */
function codedEnum<const T extends readonly [string, ...string[]]>(names: T, codes: Partial<Record<T[number], number>> = {}) {
  const byCode = new Map<number, T[number]>();
  for (const [name, code] of Object.entries(codes) as [T[number], number][]) byCode.set(code, name);
  const allowed = [...byCode.keys()].sort((a, b) => a - b);
  return z.union([
    z.enum(names),
    z
      .number()
      .int()
      .refine((n) => byCode.has(n), {
        message: allowed.length ? `numeric code must be one of ${allowed.join(', ')}` : 'no numeric codes are defined for this field',
      })
      .transform((n) => byCode.get(n) as T[number]),
  ]);
}

const flag = z.union([z.boolean(), z.literal(0).transform(() => false), z.literal(1).transform(() => true)]);

const base = {
  id: z.string().min(1).max(64),
  ts: eventTime,
};

export const SERVICE_MODES = ['out_of_service', 'normal', 'inspection', 'fire_return', 'firefighter', 'emergency_power', 'earthquake', 'unknown'] as const;
export const EVENT_TYPES = [
  'entrapment', 'safety_circuit_open', 'door_close_fault', 'door_open_fault', 'stopped_outside_door_zone',
  'unintended_car_movement', 'motor_runtime_limiter', 'floor_position_lost', 'restart_prevention_fault',
  'overtravel_top', 'overtravel_bottom', 'overspeed', 'door_open_while_running', 'door_lock_circuit_open',
  'power_failure', 'alarm_button',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const statusSchema = z.object({
  ...base,
  serviceMode: codedEnum(SERVICE_MODES, {
    out_of_service: 0, normal: 1, inspection: 2, fire_return: 3, firefighter: 4, emergency_power: 5, earthquake: 6, unknown: 7,
  }),
  carStatus: codedEnum(['stopped', 'running'], { stopped: 0, running: 1 }),
  direction: codedEnum(['none', 'up', 'down'], { none: 0, up: 1, down: 2 }),
  floor: z.number().int().min(-20).max(300),
  doorZone: flag,
  doorStatus: z.enum(['closed', 'opening', 'open', 'closing', 'unknown']),
  passengers: flag,
  speed: z.number().min(0).max(30).optional(),
  load: z.number().min(0).max(3).optional(),
  runCount: z.number().int().nonnegative().optional(),
  runHours: z.number().nonnegative().optional(),
  doorCycles: z.number().int().nonnegative().optional(),
});

export const eventSchema = z.object({
  ...base,
  type: codedEnum(EVENT_TYPES, {
    safety_circuit_open: 1, door_close_fault: 2, door_open_fault: 3, stopped_outside_door_zone: 4,
    unintended_car_movement: 5, motor_runtime_limiter: 6, floor_position_lost: 7, restart_prevention_fault: 8,
    overtravel_top: 9, overtravel_bottom: 10, entrapment: 11,
  }),
  state: z.enum(['raised', 'cleared']),
  floor: z.number().int().min(-20).max(300).optional(),
  detail: z.string().max(1000).optional(),
});

export const readingSchema = z.object({
  ...base,
  detector: tagText(),
  lel: z.number().min(0).max(100),
  gas: z.string().max(32).optional(),
  pressureMPa: z.number().optional(),
  temperatureC: z.number().optional(),
});

export const fillingSchema = z.object({
  ...base,
  cylinder: z.string().min(1).max(64),
  medium: tagText(32),
  manufactured: dateOnly,
  nextInspectionDue: dateOnly,
  scrapDue: dateOnly.optional(),
  netKg: z.number().nonnegative().optional(),
  station: z.string().max(64).optional(),
  operator: z.string().max(64).optional(),
});

export const MAINTENANCE_KINDS = ['half_monthly', 'quarterly', 'semiannual', 'annual', 'repair'] as const;
export const ROUTINE_MAINTENANCE = new Set<string>(['half_monthly', 'quarterly', 'semiannual', 'annual']);

export const maintenanceSchema = z.object({
  ...base,
  elevator: codeSchema,
  unit: tagText(),
  kind: z.enum(MAINTENANCE_KINDS),
  technician: z.string().max(64).optional(),
});

export const inspectionSchema = z.object({
  ...base,
  elevator: codeSchema,
  institution: tagText(),
  unit: tagText().optional(),
  kind: z.enum(['periodic', 'supervision']),
  attempt: z.number().int().min(1).max(20),
  result: z.enum(['pass', 'fail']),
  nextDue: dateOnly.optional(),
});

export const complaintSchema = z
  .object({
    ...base,
    source: z.enum(['12345', '96333', 'other']).or(z.literal(12345).transform(() => '12345' as const)).or(z.literal(96333).transform(() => '96333' as const)),
    category: z.string().min(1).max(64),
    elevator: codeSchema.optional(),
    unit: tagText().optional(),
  })
  .refine((c) => c.elevator !== undefined || c.unit !== undefined, { message: 'at least one of elevator or unit is required' });

export const rescueSchema = z.object({
  ...base,
  elevator: codeSchema,
  unit: tagText(),
  stage: z.enum(['dispatched', 'arrived', 'released', 'false_alarm']),
});

export const HAZARD_LEVELS = ['general', 'major'] as const;
export type HazardLevel = (typeof HAZARD_LEVELS)[number];
export const HAZARD_SOURCES = ['self_inspection', 'inspection', 'user', 'other'] as const;

/**
 * A safety hazard (安全隐患) found, or its rectification (protocol v1.1,
 * additive). Exactly one of `elevator` and `site`; a `rectified` record names
 * the `found` record in `hazardId`. Whether that hazard exists is state, which
 * decode cannot see: the hazard book (supervision/hazards.ts) keeps an
 * unmatched rectification and shows it as such.
 */
export const hazardSchema = z
  .object({
    ...base,
    elevator: codeSchema.optional(),
    site: codeSchema.optional(),
    unit: tagText().optional(),
    level: z.enum(HAZARD_LEVELS),
    category: z.string().min(1).max(64),
    description: z.string().max(2000).optional(),
    source: z.enum(HAZARD_SOURCES),
    state: z.enum(['found', 'rectified']),
    hazardId: z.string().min(1).max(64).optional(),
    evidence: z.array(z.string().min(1).max(500)).max(10, 'at most 10 evidence entries').optional(),
  })
  .superRefine((h, ctx) => {
    if ((h.elevator === undefined) === (h.site === undefined)) ctx.addIssue({ code: 'custom', path: ['elevator'], message: 'exactly one of elevator or site is required' });
    if (h.state === 'rectified' && h.hazardId === undefined) ctx.addIssue({ code: 'custom', path: ['hazardId'], message: 'a rectified record must name the found record\'s id in hazardId' });
    if (h.state === 'found' && h.hazardId !== undefined && h.hazardId !== h.id) ctx.addIssue({ code: 'custom', path: ['hazardId'], message: 'a found record is the hazard itself: leave hazardId out (or equal to id)' });
  });

export type Status = z.infer<typeof statusSchema>;
export type ElevatorEvent = z.infer<typeof eventSchema>;
export type Reading = z.infer<typeof readingSchema>;
export type Filling = z.infer<typeof fillingSchema>;
export type Maintenance = z.infer<typeof maintenanceSchema>;
export type Inspection = z.infer<typeof inspectionSchema>;
export type Complaint = z.infer<typeof complaintSchema>;
export type Rescue = z.infer<typeof rescueSchema>;
export type Hazard = z.infer<typeof hazardSchema>;

/** Wire (input) shapes, for senders such as the simulators. */
export type StatusIn = z.input<typeof statusSchema>;
export type EventIn = z.input<typeof eventSchema>;
export type ReadingIn = z.input<typeof readingSchema>;
export type FillingIn = z.input<typeof fillingSchema>;
export type MaintenanceIn = z.input<typeof maintenanceSchema>;
export type InspectionIn = z.input<typeof inspectionSchema>;
export type ComplaintIn = z.input<typeof complaintSchema>;
export type RescueIn = z.input<typeof rescueSchema>;
export type HazardIn = z.input<typeof hazardSchema>;
