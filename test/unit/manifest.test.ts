import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../ui/app/routes.ts';
import { ACTION_IDS, API_PREFIX, PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { MANIFEST_PATH } from '../../connector/paths.ts';

interface Manifest {
  configuration: { nameKey: string };
  global?: { view: { uri: string } };
  objects: Record<string, { menu?: { dynamicUri?: string; actions: { id: string; labelKey: string; trigger: { uri: string; titleKey?: string } }[] }; monitor?: { views: { uri: string; labelKey: string }[] } }>;
  definitions: { i18n: { locales: string[]; definitions: Record<string, Record<string, string>> } };
}

const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Manifest;

function uris(m: Manifest): string[] {
  const out: string[] = [];
  if (m.global) out.push(m.global.view.uri);
  for (const obj of Object.values(m.objects)) {
    for (const a of obj.menu?.actions ?? []) out.push(a.trigger.uri);
    for (const v of obj.monitor?.views ?? []) out.push(v.uri);
  }
  return out;
}

function labelKeys(m: Manifest): string[] {
  const out = [m.configuration.nameKey];
  for (const obj of Object.values(m.objects)) {
    for (const a of obj.menu?.actions ?? []) out.push(a.labelKey, ...(a.trigger.titleKey ? [a.trigger.titleKey] : []));
    for (const v of obj.monitor?.views ?? []) out.push(v.labelKey);
  }
  return out;
}

describe('plugin-manifest.json', () => {
  it('points every uri at a route the UI registers', () => {
    const routes = new Set<string>(Object.values(ROUTES));
    const all = uris(manifest);
    expect(all.length).toBeGreaterThan(0);
    for (const uri of all) {
      expect(uri).toMatch(/^index\.html#\//);
      expect(routes, `${uri} has no UI route`).toContain(uri.slice('index.html#'.length));
    }
  });

  it('defines every label key in every declared locale', () => {
    const { locales, definitions } = manifest.definitions.i18n;
    for (const key of labelKeys(manifest)) {
      for (const locale of locales) expect(definitions[key]?.[locale], `${key} (${locale})`).toBeTruthy();
    }
  });

  it('uses the seed guide words for the entry points', () => {
    const en = (k: string) => manifest.definitions.i18n.definitions[k]?.['en-US'];
    const action = manifest.objects.VirtualMachine?.menu?.actions[0];
    expect(action?.id).toBe(ACTION_IDS.migrateVm);
    expect(en(action?.labelKey ?? '')).toBe('Migrate VM to EC2');
    expect(en(manifest.configuration.nameKey)).toBe('AWS Management Portal');
  });

  it('asks for dynamic items at the connector API path', () => {
    const dynamicUri = manifest.objects.VirtualMachine?.menu?.dynamicUri ?? '';
    // Relative to the manifest's directory, which is the plugin context path.
    expect(`${PLUGIN_CONTEXT_PATH}/${dynamicUri}`).toBe(`${API_PREFIX}/dynamic-items/vm/actions`);
  });

});
