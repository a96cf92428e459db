import { AwsTag, AwsTagList, MigrationRequest } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/migrate.ts';
import { isBlankTag, type TagRow } from './importOptions.ts';

// The contract's own rules for what the user types, with zod behind them: loaded when a field that needs them first
// shows (useFormRules.ts), so the form's first render does without zod.

const intervalRule = MigrationRequest.shape.replicationIntervalMinutes.unwrap();

/** What is wrong with the typed interval, in the contract's words (the server says the same); undefined when valid. */
export function intervalProblem(typed: string, t: Translate): string | undefined {
  const text = typed.trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) return t('migrate.interval.notNumber');
  const checked = intervalRule.safeParse(Number(text));
  return checked.success ? undefined : checked.error.issues[0]?.message;
}

export interface TagRowProblem {
  key?: string;
  value?: string;
}
export interface TagProblems {
  rows: Map<number, TagRowProblem>;
  list?: string;
}

/**
 * What is wrong with each row, in the contract's words (the server checks the same): per row the AwsTag rules, then
 * a key repeated in a later row; `list` for a rule of the whole list (EC2's tag limit).
 */
export function tagProblems(rows: TagRow[]): TagProblems {
  const out = new Map<number, TagRowProblem>();
  const seen = new Set<string>();
  const kept: TagRow[] = [];
  for (const r of rows) {
    if (isBlankTag(r)) continue;
    kept.push(r);
    const checked = AwsTag.safeParse({ key: r.key, value: r.value });
    const p: TagRowProblem = {};
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        const field = issue.path[0] === 'value' ? 'value' : 'key';
        p[field] ??= issue.message;
      }
    }
    if (p.key === undefined && seen.has(r.key)) p.key = duplicateMessage;
    seen.add(r.key);
    if (p.key !== undefined || p.value !== undefined) out.set(r.id, p);
  }
  const listCheck = AwsTagList.safeParse(kept.map((r) => ({ key: r.key, value: r.value })));
  const list = listCheck.success ? undefined : listCheck.error.issues.find((i) => i.code === 'too_big')?.message;
  return list === undefined ? { rows: out } : { rows: out, list };
}

// The contract's own message for a repeated key (its refine on the whole list).
const duplicateMessage =
  AwsTagList.safeParse([
    { key: 'k', value: '' },
    { key: 'k', value: '' },
  ]).error?.issues[0]?.message ?? 'Each tag key may appear only once.';
