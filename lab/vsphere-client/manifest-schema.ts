// The structure of a vSphere Client remote-plugin manifest (plugin.json), written once from the
// 7.0/8.0 manifest schema facts in /work/shared/reference/vsphere-plugin-platform.md §1–§2.
// Used by the lab's vSphere Client stand-in (refuses to load a broken plugin) and by the project's manifest test.
import { z } from 'zod';

export const MANIFEST_VERSIONS = ['1.0.0', '1.0.1', '1.1.0', '1.2.0'] as const;
export const ENVIRONMENTS = ['onprem', 'cloud', 'gateway'] as const;
export const LOCALE_PATTERN = /^[a-z]{2}-[A-Z]{2}$/;
export const VERSION_RANGE_PATTERN =
  /^\s*(([([]\s*(\d+(\.\d+){0,3})?\s*,\s*(\d+(\.\d+){0,3})?\s*[)\]])|\d+(\.\d+){0,3})\s*$/;

const nonEmpty = z.string().min(1, { error: 'must be a non-empty string' });

/** A `uri` in the manifest is resolved against the manifest URL's directory, so it must be relative. */
const relativeUri = nonEmpty.refine((u) => !/^[a-z][a-z0-9+.-]*:/i.test(u) && !u.startsWith('/'), {
  error: 'must be relative to the manifest directory (no scheme, no leading "/")',
});

const versionRange = z.string().regex(VERSION_RANGE_PATTERN, {
  error: 'must be a version range such as "[7.0.2,)" or "8.0"',
});

const versionRequirement = z.strictObject({
  version: versionRange,
  environments: z.array(z.enum(ENVIRONMENTS)).min(1).optional(),
});

const requirementsSchema = z
  .strictObject({
    'plugin.api.version': z.enum(MANIFEST_VERSIONS),
    'vsphere.client': versionRequirement.optional(),
    'vcenter.server': versionRequirement.optional(),
    'confirmation.modal.api': nonEmpty.optional(),
    'proxied.plugin.server.origin.api': nonEmpty.optional(),
    'icon.sprite.sheet.theming': nonEmpty.optional(),
    'plugin.backend.info.api': nonEmpty.optional(),
    'plugin.dynamic.extensions': nonEmpty.optional(),
    'action.accepts.multiple.targets': z.boolean().optional(),
  })
  // Further capability flags exist (date/time formatting, navigateToClientView, ...); their values are versions or booleans.
  .catchall(z.union([nonEmpty, z.boolean()]));

const iconRef = z.strictObject({ name: nonEmpty });

const configurationSchema = z.strictObject({ nameKey: nonEmpty, icon: iconRef.optional() });

const globalSchema = z.strictObject({
  view: z.strictObject({ navigationId: nonEmpty, uri: relativeUri, navigationVisible: z.boolean().optional() }),
});

const cardView = z.strictObject({
  id: nonEmpty.optional(),
  uri: relativeUri,
  dynamic: z.boolean().optional(),
  icon: iconRef.optional(),
  size: z.strictObject({ widthSpan: z.int().positive(), heightSpan: z.int().positive() }).optional(),
});

const summarySchema = z.strictObject({
  dynamicUri: relativeUri.optional(),
  view: cardView.optional(),
  views: z.array(cardView).min(1).optional(),
});

const tabView = z.strictObject({
  navigationId: nonEmpty,
  labelKey: nonEmpty,
  uri: relativeUri,
  dynamic: z.boolean().optional(),
});

const viewsSchema = z.strictObject({ dynamicUri: relativeUri.optional(), views: z.array(tabView).min(1) });

const pixels = z.int({ error: 'must be an integer number of pixels' }).positive();

const modalTrigger = z.strictObject({
  type: z.literal('modal'),
  uri: relativeUri,
  titleKey: nonEmpty.optional(),
  accessibilityTitleKey: nonEmpty.optional(),
  // vSphere sizes the action dialog from this; the stand-in requires it so a missing size is caught in the lab.
  size: z.strictObject({ width: pixels, height: pixels }),
  closable: z.boolean().optional(),
});

const navigationTrigger = z.strictObject({ type: z.literal('navigation'), targetViewId: nonEmpty });

const actionSchema = z.strictObject({
  id: nonEmpty,
  labelKey: nonEmpty,
  icon: iconRef.optional(),
  trigger: z.discriminatedUnion('type', [modalTrigger, navigationTrigger]),
  acceptsMultipleTargets: z.boolean().optional(),
  dynamic: z.boolean().optional(),
});

const separatorSchema = z.strictObject({ type: z.literal('separator') });

const menuSchema = z.strictObject({
  dynamicUri: relativeUri.optional(),
  actions: z.array(z.union([separatorSchema, actionSchema])).min(1),
});

const objectExtensionsSchema = z.strictObject({
  summary: summarySchema.optional(),
  monitor: viewsSchema.optional(),
  configure: viewsSchema.optional(),
  menu: menuSchema.optional(),
});

const spriteDefinitions = z.record(nonEmpty, z.strictObject({ x: z.number(), y: z.number() }));

const definitionsSchema = z.strictObject({
  iconSpriteSheet: z
    .strictObject({
      uri: relativeUri,
      definitions: spriteDefinitions,
      themeOverrides: z
        .strictObject({ dark: z.strictObject({ uri: relativeUri, definitions: spriteDefinitions }).optional() })
        .optional(),
    })
    .optional(),
  i18n: z
    .strictObject({
      locales: z.array(z.string().regex(LOCALE_PATTERN, { error: 'locale must look like "en-US"' })).min(1),
      definitions: z.record(
        nonEmpty,
        z.record(z.string().regex(LOCALE_PATTERN, { error: 'locale key must look like "en-US"' }), z.string()),
      ),
    })
    .optional(),
});

const manifestShape = z.strictObject({
  manifestVersion: z.enum(MANIFEST_VERSIONS),
  requirements: requirementsSchema,
  configuration: configurationSchema,
  global: globalSchema.optional(),
  objects: z
    .record(z.string().regex(/^[A-Z][A-Za-z]+$/, { error: 'must be a vSphere object type such as "VirtualMachine"' }), objectExtensionsSchema)
    .optional(),
  definitions: definitionsSchema.optional(),
});

export type PluginManifestShape = z.infer<typeof manifestShape>;
export type ManifestAction = z.infer<typeof actionSchema>;
export type ManifestMenuItem = z.infer<typeof menuSchema>['actions'][number];
export type ManifestTabView = z.infer<typeof tabView>;
export type ManifestObjectExtensions = z.infer<typeof objectExtensionsSchema>;

/** Cross-references the JSON schema cannot express: i18n keys, dynamic items, capability flags, navigation targets. */
function checkReferences(m: PluginManifestShape, ctx: z.RefinementCtx): void {
  const i18n = m.definitions?.i18n;
  const issue = (path: (string | number)[], message: string): void => {
    ctx.addIssue({ code: 'custom', path, message });
  };
  const checkKey = (key: string | undefined, path: (string | number)[]): void => {
    if (key === undefined) return;
    if (!i18n) issue(path, `"${key}" needs a label in definitions.i18n.definitions, but the manifest has no definitions.i18n`);
    else if (!Object.hasOwn(i18n.definitions, key)) issue(path, `"${key}" is not defined in definitions.i18n.definitions`);
  };
  if (i18n) {
    for (const [key, labels] of Object.entries(i18n.definitions)) {
      for (const locale of Object.keys(labels)) {
        if (LOCALE_PATTERN.test(locale) && !i18n.locales.includes(locale)) {
          issue(['definitions', 'i18n', 'definitions', key, locale], `locale "${locale}" is not listed in definitions.i18n.locales`);
        }
      }
    }
  }
  checkKey(m.configuration.nameKey, ['configuration', 'nameKey']);

  const navigationIds = new Set<string>();
  const addNavigationId = (id: string, path: (string | number)[]): void => {
    if (navigationIds.has(id)) issue(path, `navigationId "${id}" is used more than once`);
    navigationIds.add(id);
  };
  if (m.global) addNavigationId(m.global.view.navigationId, ['global', 'view', 'navigationId']);

  const dynamicFlag = m.requirements['plugin.dynamic.extensions'];
  const navigationTargets: { target: string; path: (string | number)[] }[] = [];
  for (const [type, ext] of Object.entries(m.objects ?? {})) {
    const base = ['objects', type];
    const checkDynamic = (dynamic: boolean | undefined, dynamicUri: string | undefined, path: (string | number)[], container: string): void => {
      if (!dynamic) return;
      if (dynamicUri === undefined) issue(path, `"dynamic": true needs "dynamicUri" on objects.${type}.${container}`);
      if (dynamicFlag === undefined) issue(path, '"dynamic": true needs requirements["plugin.dynamic.extensions"]');
    };
    for (const container of ['monitor', 'configure'] as const) {
      const views = ext[container];
      views?.views.forEach((v, i) => {
        const p = [...base, container, 'views', i];
        checkKey(v.labelKey, [...p, 'labelKey']);
        addNavigationId(v.navigationId, [...p, 'navigationId']);
        checkDynamic(v.dynamic, views.dynamicUri, [...p, 'dynamic'], container);
      });
    }
    const cards = [...(ext.summary?.view ? [ext.summary.view] : []), ...(ext.summary?.views ?? [])];
    cards.forEach((card, i) => checkDynamic(card.dynamic, ext.summary?.dynamicUri, [...base, 'summary', ext.summary?.view ? 'view' : 'views', i], 'summary'));
    const menu = ext.menu;
    const actionIds = new Set<string>();
    menu?.actions.forEach((item, i) => {
      if (!('id' in item)) return;
      const p = [...base, 'menu', 'actions', i];
      if (actionIds.has(item.id)) issue([...p, 'id'], `action id "${item.id}" is used more than once`);
      actionIds.add(item.id);
      checkKey(item.labelKey, [...p, 'labelKey']);
      if (item.trigger.type === 'modal') {
        checkKey(item.trigger.titleKey, [...p, 'trigger', 'titleKey']);
        checkKey(item.trigger.accessibilityTitleKey, [...p, 'trigger', 'accessibilityTitleKey']);
      } else {
        navigationTargets.push({ target: item.trigger.targetViewId, path: [...p, 'trigger', 'targetViewId'] });
      }
      checkDynamic(item.dynamic, menu.dynamicUri, [...p, 'dynamic'], 'menu');
      if (item.acceptsMultipleTargets && m.requirements['action.accepts.multiple.targets'] !== true) {
        issue([...p, 'acceptsMultipleTargets'], '"acceptsMultipleTargets" needs requirements["action.accepts.multiple.targets"]: true');
      }
    });
  }
  for (const { target, path } of navigationTargets) {
    if (!navigationIds.has(target)) issue(path, `"${target}" is not a navigationId defined by this manifest`);
  }
  if (m.definitions?.iconSpriteSheet?.themeOverrides && m.requirements['icon.sprite.sheet.theming'] === undefined) {
    issue(['definitions', 'iconSpriteSheet', 'themeOverrides'], 'themeOverrides needs requirements["icon.sprite.sheet.theming"]');
  }
}

export const pluginManifestSchema = manifestShape.superRefine(checkReferences);
export type PluginManifest = z.infer<typeof pluginManifestSchema>;

/** `objects.VirtualMachine.menu.actions[0].trigger.size.width` style paths, as a vSphere admin would look them up. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out || '(root)';
}

function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[], out: string[]): void {
  for (const iss of issues) {
    const path = [...prefix, ...iss.path];
    if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      // Report the alternative the author most likely meant: the one that recognizes most of the
      // object's keys (an action rather than a separator), then the one with the fewest problems.
      const unrecognized = (branch: readonly z.core.$ZodIssue[]): number =>
        branch.reduce((n, i) => n + (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys.length : 0), 0);
      const best = [...iss.errors].sort((a, b) => unrecognized(a) - unrecognized(b) || a.length - b.length)[0] ?? [];
      flattenIssues(best, path, out);
    } else if (iss.code === 'invalid_key') {
      out.push(`${formatIssuePath(path)}: invalid key: ${iss.issues.map((i) => i.message).join('; ')}`);
    } else if (iss.code === 'invalid_type' && /received undefined$/.test(iss.message)) {
      out.push(`${formatIssuePath(path)}: is required (expected ${iss.expected})`);
    } else {
      out.push(`${formatIssuePath(path)}: ${iss.message}`);
    }
  }
}

export type ManifestValidation = { ok: true; manifest: PluginManifest; errors: [] } | { ok: false; errors: string[] };

/** Validates a parsed manifest; errors are one line each: `<path>: <what is wrong>`. */
export function validatePluginManifest(json: unknown): ManifestValidation {
  const r = pluginManifestSchema.safeParse(json);
  if (r.success) return { ok: true, manifest: r.data, errors: [] };
  const errors: string[] = [];
  flattenIssues(r.error.issues, [], errors);
  return { ok: false, errors };
}

/** The label of an i18n key for a locale (falls back to en-US, then to the key itself, as vSphere shows it literally). */
export function manifestLabel(m: PluginManifestShape, key: string, locale = 'en-US'): string {
  const labels = m.definitions?.i18n?.definitions[key];
  return labels?.[locale] ?? labels?.['en-US'] ?? key;
}
