import { createContext, useContext } from 'react';

/** A screen's strings per locale: English is complete, any other locale falls back to it. */
export type Catalogues<K extends string> = { 'en-US': Readonly<Record<K, string>> } & Partial<Record<string, Readonly<Record<K, string>>>>;

export type Translator<K extends string> = (key: K, vars?: Record<string, string | number>) => string;

export function translator<K extends string>(catalogues: Catalogues<K>, locale: string): Translator<K> {
  const catalogue = catalogues[locale] ?? catalogues['en-US'];
  return (key, vars) => {
    const text: string = catalogue[key];
    return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text;
  };
}

/** The vSphere Client's locale, given by PluginShell. */
export const LocaleContext = createContext('en-US');

/**
 * A hook translating with one set of catalogues: a screen names only the catalogues it reads, so its chunk carries no
 * other screen's text (the migrate modal ships the core and migrate strings, not the portal's).
 */
export function translatorHook<K extends string>(catalogues: Catalogues<K>): () => Translator<K> {
  const byLocale = new Map<string, Translator<K>>();
  return () => {
    const locale = useContext(LocaleContext);
    let t = byLocale.get(locale);
    if (!t) byLocale.set(locale, (t = translator(catalogues, locale)));
    return t;
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i] ?? 'B'}`;
}
