import { createContext, useContext } from 'react';
import { enUS, type Catalogue, type MessageKey } from './en-US.ts';

/** Locales with a complete catalogue; others fall back to English. */
const catalogues: Record<string, Catalogue> = { 'en-US': enUS };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function createTranslator(locale: string): Translate {
  const catalogue = catalogues[locale] ?? enUS;
  return (key, vars) => {
    const text: string = catalogue[key];
    return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text;
  };
}

export const I18nContext = createContext<Translate>(createTranslator('en-US'));
export const useT = (): Translate => useContext(I18nContext);

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
