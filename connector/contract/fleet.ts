// The fleet's connectors (issue 14) and each connector's bandwidth cap: what the Status tab and the administration
// bandwidth setting show.
import { z } from 'zod';

/** A connector id as `fleet.connectorId` allows it. */
export const ConnectorId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'a connector id is 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit' });

export const ConnectorHealth = z.enum(['alive', 'lost']).meta({ id: 'ConnectorHealth', description: 'alive: its last heartbeat is younger than the lease; lost: older (its tasks are taken over by a peer of its vCenter)' });
export type ConnectorHealth = z.infer<typeof ConnectorHealth>;

/** Megabytes (2^20 bytes, as vSphere counts them) per second; null: unlimited. */
export const BandwidthCapMBps = z
  .number({ error: 'capMBps must be a whole number of MB/s, or null for unlimited' })
  .int({ error: 'capMBps must be a whole number of MB/s, or null for unlimited' })
  .min(1, { error: 'capMBps must be at least 1 MB/s; use null for unlimited' })
  .max(100_000, { error: 'capMBps must be at most 100000 MB/s; use null for unlimited' })
  .nullable();

const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'a schedule time is 24-hour HH:MM, e.g. 08:00 or 18:30' });

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** From `from` (inclusive) to `to` (exclusive) every day, in the connector's time zone; `to` before `from` runs past midnight. */
export const BandwidthWindow = z
  .strictObject({ from: ClockTime, to: ClockTime, capMBps: BandwidthCapMBps })
  .refine((w) => w.from !== w.to, { error: 'a schedule window must not start and end at the same time; to cap all day, set capMBps instead', path: ['to'] })
  .meta({ id: 'BandwidthWindow' });
export type BandwidthWindow = z.infer<typeof BandwidthWindow>;

/** The minutes of the day a window covers, as [start, end) ranges within 0..1440. */
export function windowRanges(w: { from: string; to: string }): [number, number][] {
  const a = minutesOf(w.from);
  const b = minutesOf(w.to);
  return a < b ? [[a, b]] : [[a, 1440], [0, b]];
}

/** PUT body: the cap outside the schedule's windows, and the windows (none: the cap holds all day). */
export const BandwidthSetting = z
  .strictObject({
    capMBps: BandwidthCapMBps,
    schedule: z.array(BandwidthWindow).max(8, { error: 'a schedule has at most 8 windows' }).default([]),
  })
  .superRefine((s, ctx) => {
    const ranges = s.schedule.map(windowRanges);
    for (let i = 0; i < ranges.length; i++) {
      for (let j = 0; j < i; j++) {
        const overlap = ranges[i]!.some(([a, b]) => ranges[j]!.some(([c, d]) => a < d && c < b));
        if (overlap) {
          const wi = s.schedule[i]!;
          const wj = s.schedule[j]!;
          ctx.addIssue({ code: 'custom', path: ['schedule', i], message: `the window ${wi.from}–${wi.to} overlaps ${wj.from}–${wj.to}; windows must not overlap` });
        }
      }
    }
  })
  .meta({ id: 'BandwidthSetting' });
export type BandwidthSetting = z.infer<typeof BandwidthSetting>;
export type BandwidthSettingInput = z.input<typeof BandwidthSetting>;

export const BandwidthSettingView = z
  .object({
    connectorId: z.string(),
    capMBps: BandwidthCapMBps,
    schedule: z.array(BandwidthWindow),
    /** The connector's IANA time zone: the schedule's times are in it. */
    timeZone: z.string(),
    /** The connector's time zone's offset from UTC now, in minutes (to show the windows in the user's time zone). */
    utcOffsetMinutes: z.number().int(),
    /** The cap in force now, after the schedule. */
    effectiveCapMBps: BandwidthCapMBps,
    updatedAt: z.iso.datetime().optional(),
    updatedBy: z.string().optional(),
  })
  .meta({ id: 'BandwidthSettingView' });
export type BandwidthSettingView = z.infer<typeof BandwidthSettingView>;

export const FleetConnector = z
  .object({
    id: z.string(),
    /** The vCenter it serves (its instance UUID, or the configured URL's origin). */
    vcenterId: z.string(),
    /** The connector's package version. */
    version: z.string(),
    host: z.string(),
    timeZone: z.string(),
    startedAt: z.iso.datetime(),
    heartbeatAt: z.iso.datetime(),
    heartbeatAgeMs: z.number().int().nonnegative(),
    health: ConnectorHealth,
    /** The connector that answered this request. */
    self: z.boolean(),
    /** The bandwidth cap in force now on this connector (null: unlimited). */
    effectiveCapMBps: BandwidthCapMBps,
  })
  .meta({ id: 'FleetConnector' });
export type FleetConnector = z.infer<typeof FleetConnector>;

export const FleetConnectorList = z
  .object({
    connectors: z.array(FleetConnector),
    /** A connector whose heartbeat is older than this is lost. */
    leaseMs: z.number().int().positive(),
    checkedAt: z.iso.datetime(),
  })
  .meta({ id: 'FleetConnectorList' });
export type FleetConnectorList = z.infer<typeof FleetConnectorList>;

export const ConnectorIdParams = z.strictObject({ connectorId: ConnectorId });
