import { enUS, type MessageKey } from './en-US.ts';
import { translator, translatorHook, type Translator } from './translate.ts';

export { formatBytes, LocaleContext } from './translate.ts';

/** Locales with a complete catalogue; others fall back to English. */
const catalogues = { 'en-US': enUS };

/** Every screen's strings: the portal and the screens it opens. The migrate modal uses ./migrate.ts instead. */
export type Translate = Translator<MessageKey>;
export const createTranslator = (locale: string): Translate => translator(catalogues, locale);
export const useT: () => Translate = translatorHook(catalogues);
