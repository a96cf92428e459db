// A connector's bandwidth cap, kept in the settings repository under `bandwidth:<connector id>` so every connector of a
// fleet reads the same value from the shared store.
import { BandwidthSetting } from '../contract/index.ts';
import type { SettingsRepository } from '../store/index.ts';

export interface StoredBandwidth extends BandwidthSetting {
  updatedAt?: string;
  updatedBy?: string;
}

export const UNLIMITED: StoredBandwidth = { capMBps: null, schedule: [] };

export const bandwidthKey = (connectorId: string): string => `bandwidth:${connectorId}`;

/** The stored setting; unlimited when none was set (or when the stored text no longer parses, which is logged by the caller). */
export async function readBandwidth(settings: SettingsRepository, connectorId: string): Promise<StoredBandwidth> {
  const text = await settings.get(bandwidthKey(connectorId));
  if (text === undefined) return UNLIMITED;
  const raw = JSON.parse(text) as { updatedAt?: unknown; updatedBy?: unknown };
  const parsed = BandwidthSetting.parse({ capMBps: (raw as { capMBps?: unknown }).capMBps, schedule: (raw as { schedule?: unknown }).schedule });
  return {
    ...parsed,
    ...(typeof raw.updatedAt === 'string' ? { updatedAt: raw.updatedAt } : {}),
    ...(typeof raw.updatedBy === 'string' ? { updatedBy: raw.updatedBy } : {}),
  };
}

export async function writeBandwidth(settings: SettingsRepository, connectorId: string, value: BandwidthSetting, by: string, at: Date): Promise<StoredBandwidth> {
  const stored: StoredBandwidth = { capMBps: value.capMBps, schedule: value.schedule, updatedAt: at.toISOString(), updatedBy: by };
  await settings.set(bandwidthKey(connectorId), JSON.stringify(stored));
  return stored;
}

/** "50 MB/s 08:00–18:00, unlimited otherwise" for audit messages. */
export function describeBandwidth(s: BandwidthSetting): string {
  const cap = (c: number | null) => (c === null ? 'unlimited' : `${c} MB/s`);
  if (s.schedule.length === 0) return cap(s.capMBps);
  return `${s.schedule.map((w) => `${cap(w.capMBps)} ${w.from}–${w.to}`).join(', ')}, ${cap(s.capMBps)} otherwise`;
}
