import type { AwsTag } from '../../../connector/contract/index.ts';
import { useT } from '../../i18n/migrate.ts';
import { Button } from '../../kit/Button.tsx';
import type { TagProblems } from './formRules.ts';
import { newTagRow, tagFieldId, type TagRow } from './importOptions.ts';
import { useFormRules } from './useFormRules.ts';

interface Props {
  label: string;
  rows: TagRow[];
  onChange: (rows: TagRow[]) => void;
  /** The environment's default tags, shown read-only; a row with the same key replaces one. */
  inherited?: AwsTag[];
  /** Element ids of the rows' inputs are `${idPrefix}-${row.id}-key|value`, so a form can take the user to one. */
  idPrefix: string;
  /** `${testIdPrefix}-key-${n}` etc., n counting rows from 1. */
  testIdPrefix: string;
  help: string;
}

/** Before the contract's rules have arrived (a few milliseconds after the first row shows): nothing checked yet. */
export const noTagProblems: TagProblems = { rows: new Map() };

/** Key/value rows, checked as EC2 checks tags while the user types. */
export function TagsEditor({ label, rows, onChange, inherited = [], idPrefix, testIdPrefix, help }: Props) {
  const t = useT();
  const problems = useFormRules(rows.length > 0)?.tagProblems(rows) ?? noTagProblems;
  const own = new Set(rows.map((r) => r.key));
  const setRow = (id: number, patch: Partial<TagRow>) => onChange(rows.map((r) => (r.id === id ? { ...r, ...patch } : r)));
  return (
    <div className="clr-form-control" role="group" aria-labelledby={`${idPrefix}-label`}>
      <span id={`${idPrefix}-label`} className="clr-control-label">
        {label}
      </span>
      <div className="clr-control-container vsp-tags">
        {inherited.length > 0 && (
          <div className="vsp-tags-inherited" data-test={`${testIdPrefix}-inherited`}>
            <span className="vsp-muted">{t('tags.inherited')}</span>
            <ul className="vsp-checks">
              {inherited.map((tag) => (
                <li key={tag.key} className={own.has(tag.key) ? 'vsp-muted vsp-tag-replaced' : undefined} data-key={tag.key}>
                  <code className="vsp-id">{tag.key}</code> = <code className="vsp-id">{tag.value}</code>
                  {own.has(tag.key) && <> {t('tags.replaced')}</>}
                </li>
              ))}
            </ul>
          </div>
        )}
        {rows.map((r, i) => {
          const p = problems.rows.get(r.id);
          const n = i + 1;
          return (
            <div key={r.id} className="vsp-tag-row" data-test={`${testIdPrefix}-row-${n}`}>
              <div className={`clr-input-wrapper${p?.key ? ' clr-error' : ''}`}>
                <input
                  className="clr-input"
                  id={tagFieldId(idPrefix, r.id, 'key')}
                  aria-label={t('tags.keyOf', { n })}
                  aria-invalid={p?.key ? true : undefined}
                  aria-describedby={p?.key ? `${tagFieldId(idPrefix, r.id, 'key')}-error` : undefined}
                  placeholder={t('tags.key')}
                  maxLength={200}
                  autoComplete="off"
                  spellCheck={false}
                  data-test={`${testIdPrefix}-key-${n}`}
                  value={r.key}
                  onChange={(e) => setRow(r.id, { key: e.target.value })}
                />
                {p?.key && (
                  <span id={`${tagFieldId(idPrefix, r.id, 'key')}-error`} className="clr-subtext vsp-subtext-error" role="alert">
                    {p.key}
                  </span>
                )}
              </div>
              <div className={`clr-input-wrapper${p?.value ? ' clr-error' : ''}`}>
                <input
                  className="clr-input"
                  id={tagFieldId(idPrefix, r.id, 'value')}
                  aria-label={t('tags.valueOf', { n })}
                  aria-invalid={p?.value ? true : undefined}
                  aria-describedby={p?.value ? `${tagFieldId(idPrefix, r.id, 'value')}-error` : undefined}
                  placeholder={t('tags.value')}
                  maxLength={400}
                  autoComplete="off"
                  spellCheck={false}
                  data-test={`${testIdPrefix}-value-${n}`}
                  value={r.value}
                  onChange={(e) => setRow(r.id, { value: e.target.value })}
                />
                {p?.value && (
                  <span id={`${tagFieldId(idPrefix, r.id, 'value')}-error`} className="clr-subtext vsp-subtext-error" role="alert">
                    {p.value}
                  </span>
                )}
              </div>
              <Button variant="link" className="btn-sm" aria-label={t('tags.removeOf', { n })} testId={`${testIdPrefix}-remove-${n}`} onClick={() => onChange(rows.filter((x) => x.id !== r.id))}>
                {t('common.remove')}
              </Button>
            </div>
          );
        })}
        {problems.list && (
          <span className="clr-subtext vsp-subtext-error" role="alert">
            {problems.list}
          </span>
        )}
        <div>
          <Button variant="link" className="btn-sm vsp-tag-add" testId={`${testIdPrefix}-add`} onClick={() => onChange([...rows, newTagRow()])}>
            {t('tags.add')}
          </Button>
        </div>
        <span className="clr-subtext">{help}</span>
      </div>
    </div>
  );
}
