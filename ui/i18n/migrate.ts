import { enUSCore } from './en-US-core.ts';
import { enUSMigrate } from './en-US-migrate.ts';
import { translatorHook, type Translator } from './translate.ts';

const enUSModal = { ...enUSCore, ...enUSMigrate };

/** The migrate form's strings (also in the wave form and the environment defaults, which reuse its fields). */
export type MigrateKey = keyof typeof enUSModal;
export type Translate = Translator<MigrateKey>;
export const useT: () => Translate = translatorHook({ 'en-US': enUSModal });
