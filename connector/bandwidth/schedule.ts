// Which cap is in force at a moment: the schedule's window covering the connector's local time of day, else the cap.
import { windowRanges, type BandwidthSetting } from '../contract/index.ts';

export const MB = 1024 * 1024;

// Formatters by time zone: building one costs far more than using it, and the cap is read for every copied chunk
// (a profiled cold migration spent 12 % of its CPU building them).
const clocks = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, Intl.DateTimeFormat>();
function formatter(cache: Map<string, Intl.DateTimeFormat>, timeZone: string, make: () => Intl.DateTimeFormat): Intl.DateTimeFormat {
  let f = cache.get(timeZone);
  if (!f) cache.set(timeZone, (f = make()));
  return f;
}

/** Minutes since local midnight in an IANA time zone. */
export function minutesOfDay(at: Date, timeZone: string): number {
  const clock = formatter(clocks, timeZone, () => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }));
  const parts = clock.formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/** The zone's offset from UTC at that moment, in minutes (east positive). */
export function utcOffsetMinutes(at: Date, timeZone: string): number {
  const parts = formatter(offsets, timeZone, () => new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })).formatToParts(at);
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!m) return 0;
  const sign = m[1] === '-' ? -1 : 1;
  return sign * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/** The cap in MB/s in force at `at` (null: unlimited). */
export function effectiveCap(setting: Pick<BandwidthSetting, 'capMBps' | 'schedule'>, at: Date, timeZone: string): number | null {
  if (setting.schedule.length === 0) return setting.capMBps;
  const minute = minutesOfDay(at, timeZone);
  const w = setting.schedule.find((x) => windowRanges(x).some(([a, b]) => minute >= a && minute < b));
  return w ? w.capMBps : setting.capMBps;
}

/** The connector's own IANA time zone. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
