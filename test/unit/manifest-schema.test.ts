// plugin-manifest.json against the structure of the official remote-plugin manifest schema (7.0/8.0 facts in
// the platform reference §1): the schema the lab's vSphere Client stand-in enforces, reused here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST_PATH, PACKAGE_ROOT } from '../../connector/paths.ts';
import { validatePluginManifest } from '../../lab/vsphere-client/manifest-schema.ts';
import { ROUTES } from '../../ui/app/routes.ts';

const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, unknown>;
const clone = (): Record<string, any> => structuredClone(manifest) as Record<string, any>;
const errorsOf = (m: unknown): string[] => {
  const r = validatePluginManifest(m);
  return r.ok ? [] : r.errors;
};

/** Every `uri` (view and action entry points; not `dynamicUri`, an API path) anywhere in the manifest. */
function entryUris(node: unknown, path = '', out: { path: string; uri: string }[] = []): { path: string; uri: string }[] {
  if (Array.isArray(node)) node.forEach((n, i) => entryUris(n, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'uri' && typeof v === 'string' && !path.includes('iconSpriteSheet')) out.push({ path: `${path}.uri`, uri: v });
      else entryUris(v, path ? `${path}.${k}` : k, out);
    }
  }
  return out;
}

describe('plugin-manifest.json against the remote-plugin manifest schema', () => {
  it('is valid', () => {
    expect(errorsOf(manifest)).toEqual([]);
  });

  it('allows no additional properties at the root', () => {
    expect(errorsOf({ ...clone(), pluginName: 'x' })).toEqual([expect.stringMatching(/pluginName/)]);
  });

  it('enforces the manifestVersion and plugin.api.version enums', () => {
    expect(errorsOf({ ...clone(), manifestVersion: '2.0.0' })).toEqual([expect.stringMatching(/^manifestVersion: /)]);
    const m = clone();
    m.requirements['plugin.api.version'] = '1.3';
    expect(errorsOf(m)).toEqual([expect.stringMatching(/^requirements\["plugin\.api\.version"\]: /)]);
  });

  it('enforces the version range and environment formats', () => {
    const m = clone();
    m.requirements['vsphere.client'].version = '>=7.0';
    m.requirements['vcenter.server'].environments = ['onprem', 'hybrid'];
    const errors = errorsOf(m);
    expect(errors).toHaveLength(2);
    expect(errors.join('\n')).toMatch(/vsphere\.client.*version/);
    expect(errors.join('\n')).toMatch(/vcenter\.server.*environments/);
    for (const ok of ['[7.0.2,)', '8.0', '[7.0,8.0.3]', '(,9)']) {
      const v = clone();
      v.requirements['vsphere.client'].version = ok;
      expect(errorsOf(v), ok).toEqual([]);
    }
  });

  it('enforces the locale format in i18n', () => {
    const m = clone();
    m.definitions.i18n.locales = ['en_US'];
    expect(errorsOf(m).join('\n')).toMatch(/locales\[0\]: locale must look like "en-US"/);
    const k = clone();
    k.definitions.i18n.definitions['plugin.name'] = { english: 'x' };
    expect(errorsOf(k).join('\n')).toMatch(/plugin\.name/);
  });

  it('has only relative entry-point uris, each mapping to a route the UI router registers', () => {
    const router = readFileSync(join(PACKAGE_ROOT, 'ui/app/router.tsx'), 'utf8');
    const routeByPath = new Map(Object.entries(ROUTES).map(([name, path]) => [path as string, name]));
    const uris = entryUris(manifest);
    expect(uris.length).toBeGreaterThanOrEqual(3);
    for (const { path, uri } of uris) {
      expect(uri, path).toMatch(/^index\.html#\//);
      const name = routeByPath.get(uri.slice('index.html#'.length));
      expect(name, `${path} = ${uri} has no UI route`).toBeDefined();
      expect(router, `ROUTES.${name} is not registered in ui/app/router.tsx`).toMatch(new RegExp(`path:\\s*ROUTES\\.${name}\\b`));
    }
    const m = clone();
    m.global.view.uri = 'https://elsewhere.example.com/index.html';
    expect(errorsOf(m)).toEqual([expect.stringMatching(/^global\.view\.uri: must be relative/)]);
  });
});
