import { enUSCore } from './en-US-core.ts';
import { translatorHook, type Translator } from './translate.ts';

/** The strings the shell and the kit use, in every view. */
export type CoreKey = keyof typeof enUSCore;
export type Translate = Translator<CoreKey>;
export const useT: () => Translate = translatorHook({ 'en-US': enUSCore });
