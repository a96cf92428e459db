import type { AwsTag, EnvironmentImportDefaults, ImportOptions, KmsKeyOption, LicenseType } from '../../../connector/contract/index.ts';
import type { TagProblems } from './formRules.ts';

// No zod here: the tag rules are in formRules.ts, loaded when a tag row first shows.

/** A tag row as typed; `id` keeps React keys and field ids stable while rows are added and removed. */
export interface TagRow {
  id: number;
  key: string;
  value: string;
}

/** The Advanced section's values; they start from the environment's import defaults. */
export interface AdvancedChoices {
  licenseType: LicenseType;
  encrypted: boolean;
  /** '' = the environment's default key (or, without one, the account's AWS managed key aws/ebs). */
  kmsKeyId: string;
  /** The migration's own tags, on top of the environment's. */
  tags: TagRow[];
}

export function choicesFromDefaults(d: EnvironmentImportDefaults): AdvancedChoices {
  return { licenseType: d.licenseType, encrypted: d.encryption.encrypted, kmsKeyId: '', tags: [] };
}

let nextRowId = 1;
export const newTagRow = (key = '', value = ''): TagRow => ({ id: nextRowId++, key, value });

/** A row left entirely empty is not a tag (the user added it and typed nothing). */
export const isBlankTag = (r: TagRow) => r.key.trim() === '' && r.value === '';

/** The tags to send: rows that are not blank, as typed. */
export function tagsOf(rows: TagRow[]): AwsTag[] {
  return rows.filter((r) => !isBlankTag(r)).map((r) => ({ key: r.key, value: r.value }));
}

/**
 * The request's importOptions: only what differs from the environment's defaults (undefined when nothing does).
 * The connector merges the rest from the environment when the task starts, so an untouched form sends what it
 * always sent and an administrator's default (say, encryption) holds for every field the user left alone.
 */
export function importOptionsOf(c: AdvancedChoices, d: EnvironmentImportDefaults): ImportOptions | undefined {
  const out: ImportOptions = {};
  if (c.licenseType !== d.licenseType) out.licenseType = c.licenseType;
  if (c.encrypted !== d.encryption.encrypted || (c.encrypted && c.kmsKeyId !== '')) {
    out.encryption = c.encrypted && c.kmsKeyId !== '' ? { encrypted: true, kmsKeyId: c.kmsKeyId } : { encrypted: c.encrypted };
  }
  const tags = tagsOf(c.tags);
  if (tags.length > 0) out.tags = tags;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Whether a key reference (id, ARN, alias or alias ARN) names this key. */
export function keyMatches(k: KmsKeyOption, ref: string): boolean {
  return ref === k.keyId || ref === k.arn || k.aliases.some((a) => a === ref || ref.endsWith(`:${a}`));
}

/** The account's AWS managed key for EBS: what encryption without a chosen key uses (offered as its own option). */
export const isAwsManagedEbsKey = (k: KmsKeyOption): boolean => k.aliases.includes('alias/aws/ebs');

/** How a key is named in the form and sent: its first alias (what people recognise), else its key ID. */
export const keyRef = (k: KmsKeyOption): string => k.aliases[0] ?? k.keyId;

/** Element id of a tag row's input (TagsEditor renders it; the form's footer links to it). */
export const tagFieldId = (idPrefix: string, rowId: number, part: 'key' | 'value') => `${idPrefix}-${rowId}-${part}`;

/** The first tag problem as the form's footer names it, with the input to take the user to. */
export function firstTagProblem(rows: TagRow[], problems: TagProblems, idPrefix: string): { fieldId: string; problem: string; n: number } | undefined {
  for (const [i, r] of rows.entries()) {
    const p = problems.rows.get(r.id);
    if (p?.key) return { fieldId: tagFieldId(idPrefix, r.id, 'key'), problem: p.key, n: i + 1 };
    if (p?.value) return { fieldId: tagFieldId(idPrefix, r.id, 'value'), problem: p.value, n: i + 1 };
  }
  const last = rows.at(-1);
  if (problems.list && last) return { fieldId: tagFieldId(idPrefix, last.id, 'key'), problem: problems.list, n: rows.length };
  return undefined;
}
