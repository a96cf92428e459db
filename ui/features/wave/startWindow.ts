// The start window is typed in the user's own time zone (a datetime-local field) and sent as ISO 8601 with that
// zone's offset at that instant, so the connector knows the exact moment whatever its own zone.
import { WaveWindow } from '../../../connector/contract/index.ts';

const two = (n: number) => String(n).padStart(2, '0');

/** `+01:00` style offset of the user's zone at `d` (DST included). */
export function offsetOf(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const sign = minutes >= 0 ? '+' : '-';
  const abs = Math.abs(minutes);
  return `${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

/** `2026-12-04T22:00` (local, from the field) → `2026-12-04T22:00:00+01:00`; undefined when empty or not a time. */
export function localToIso(value: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  if (Number.isNaN(d.getTime())) return undefined;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}${offsetOf(d)}`;
}

/** An instant shown back in the user's zone, with the zone named (the portal's wave rows). */
export function formatInZone(iso: string, locale = 'en-US'): string {
  // dateStyle/timeStyle cannot be combined with timeZoneName, hence the fields.
  return new Date(iso).toLocaleString(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });
}

/** The user's zone as the browser knows it, e.g. `Europe/Paris (UTC+01:00)`. */
export function userZone(now = new Date()): string {
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${name} (UTC${offsetOf(now)})`;
}

/** The typed window checked with the contract's own rules: the window to send, or the contract's message. */
export function checkWindow(notBefore: string, notAfter: string): { window?: WaveWindow; problem?: { field: 'notBefore' | 'notAfter'; message: string } } {
  if (!notBefore.trim() && !notAfter.trim()) return {};
  const nb = localToIso(notBefore);
  const na = localToIso(notAfter);
  if (notBefore.trim() && !nb) return { problem: { field: 'notBefore', message: 'Enter a date and a time.' } };
  if (notAfter.trim() && !na) return { problem: { field: 'notAfter', message: 'Enter a date and a time.' } };
  const parsed = WaveWindow.safeParse({ ...(nb ? { notBefore: nb } : {}), ...(na ? { notAfter: na } : {}) });
  if (parsed.success) return { window: parsed.data };
  const issue = parsed.error.issues[0];
  return { problem: { field: issue?.path[0] === 'notAfter' ? 'notAfter' : 'notBefore', message: issue?.message ?? 'The start window is not valid.' } };
}
