// Build-time only (vite.config.ts): keep the Clarity rules the plugin can match. @clr/ui ships its whole look as one
// 1 MB stylesheet (its per-component sources are SCSS, which the build does not compile); the plugin uses a small part.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LightningCSSOptions } from 'vite';

type Visitor = NonNullable<LightningCSSOptions['visitor']>;

export interface UsedClasses {
  /** Every word the sources contain (over-inclusive on purpose: a kept rule costs bytes, a lost one breaks a screen). */
  words: Set<string>;
  /** Words ending in `-` (`alert-${kind}`, `'btn-' + x`): a class may be built from one and another word. */
  prefixes: string[];
}

const SOURCE = /\.(tsx?|css|html)$/;

/** The class names the plugin's own sources can put on an element, from every word in them (this folder excluded). */
export function usedClasses(dir: string): UsedClasses {
  const words = new Set<string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (p !== import.meta.dirname) walk(p);
      }
      else if (SOURCE.test(e.name)) for (const w of readFileSync(p, 'utf8').match(/[A-Za-z_][\w-]*/g) ?? []) words.add(w);
    }
  };
  walk(resolve(dir));
  return { words, prefixes: [...words].filter((w) => w.endsWith('-') && w.length > 2) };
}

/** Named in the sources, or a prefix in them followed by a word in them (`alert-${kind}` with kind 'danger' somewhere). */
export function isUsed(name: string, used: UsedClasses): boolean {
  return used.words.has(name) || used.prefixes.some((p) => name.startsWith(p) && used.words.has(name.slice(p.length)));
}

interface Component {
  type: string;
  name?: string;
  kind?: string;
  selectors?: readonly (readonly Component[])[];
}

/** Pseudo-classes that match when one of their selectors does (`:not` and `:has` are judged as always possible). */
const ANY_OF = new Set(['is', 'where', 'any', 'matches']);

/**
 * A selector can match only if every class and attribute it requires is named in the sources, and each `:is()` /
 * `:where()` in it has an argument that can match. Clarity's `cds-layout` and `cds-text` utility attributes are most
 * of its size, and the plugin sets neither.
 */
export function selectorCanMatch(selector: readonly Component[], used: UsedClasses): boolean {
  return selector.every((c) => {
    if (c.type === 'class' && c.name !== undefined) return isUsed(c.name, used);
    if (c.type === 'attribute' && c.name !== undefined) return used.words.has(c.name);
    if (c.type === 'pseudo-class' && c.kind !== undefined && ANY_OF.has(c.kind) && c.selectors) return c.selectors.some((s) => selectorCanMatch(s, used));
    return true;
  });
}

/** Lightning CSS's visitor cannot read back a `null` it wrote (e.g. `var()`'s `from`): absent means the same. */
function withoutNulls<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutNulls) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)])) as T;
  return v;
}

/** A Lightning CSS visitor dropping the selectors that cannot match, and rules left with none. */
export function dropUnusedRules(used: UsedClasses): Visitor {
  return {
    Rule: {
      style(rule) {
        const live = rule.value.selectors.filter((s) => selectorCanMatch(s as Component[], used));
        if (live.length === rule.value.selectors.length) return undefined;
        if (live.length === 0) return [];
        return withoutNulls({ ...rule, value: { ...rule.value, selectors: live } });
      },
    },
  };
}
