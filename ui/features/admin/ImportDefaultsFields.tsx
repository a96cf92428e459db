import { useQuery } from '@tanstack/react-query';
import type { EnvironmentImportDefaults } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Checkbox, Field, RadioGroup, SelectField } from '../../kit/Form.tsx';
import { testIds } from '../../testIds.ts';
import { isAwsManagedEbsKey, keyMatches, keyRef, type TagRow } from '../migrate/importOptions.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { TagsEditor } from '../migrate/TagsEditor.tsx';

interface Props {
  value: EnvironmentImportDefaults;
  onChange: (patch: Partial<EnvironmentImportDefaults>) => void;
  tagRows: TagRow[];
  onTagRows: (rows: TagRow[]) => void;
  /** The saved environment whose region's keys can be listed; null while creating or after its region changed. */
  keysFor: string | null;
  /** Why keys cannot be listed yet, when keysFor is null. */
  noKeysNote: string;
  idPrefix: string;
}

/** Administration: what the migration form's Advanced section starts with in this environment. */
export function ImportDefaultsFields({ value, onChange, tagRows, onTagRows, keysFor, noKeysNote, idPrefix }: Props) {
  const api = useApi();
  const t = useT();
  const encrypted = value.encryption.encrypted;
  const keys = useQuery({ ...environmentQueries.kmsKeys(api, keysFor ?? ''), enabled: keysFor !== null && encrypted });
  const list = keys.data?.keys ?? [];
  const stored = value.encryption.kmsKeyId;
  const match = stored === undefined ? undefined : list.find((k) => keyMatches(k, stored));
  // A saved key the list no longer has stays visible, so saving again does not drop it silently.
  const orphan = stored !== undefined && keys.isSuccess && !match ? [{ value: stored, label: stored }] : [];
  const setKey = (ref: string) => onChange({ encryption: ref === '' ? { encrypted: true } : { encrypted: true, kmsKeyId: ref } });
  return (
    <fieldset className="vsp-fieldset">
      <legend className="vsp-legend">{t('admin.env.importDefaults')}</legend>
      <p className="vsp-muted">{t('admin.env.importDefaults.help')}</p>
      <RadioGroup
        label={t('migrate.license')}
        name={`${idPrefix}-license`}
        value={value.licenseType}
        onChange={(v) => onChange({ licenseType: v === 'BYOL' ? 'BYOL' : 'AWS' })}
        options={(['AWS', 'BYOL'] as const).map((l) => ({ value: l, label: t(`migrate.license.${l}`), description: t(`migrate.license.${l}.help`), testId: testIds.admin.envLicense(l) }))}
        help={t('migrate.license.usageOperation')}
      />
      <Field label={t('migrate.encryption')}>
        {() => (
          <Checkbox
            label={t('migrate.encryption.on')}
            testId={testIds.admin.envEncrypted}
            checked={encrypted}
            onChange={(on) => onChange({ encryption: on ? { encrypted: true, ...(stored ? { kmsKeyId: stored } : {}) } : { encrypted: false } })}
          />
        )}
      </Field>
      {encrypted &&
        (keysFor === null ? (
          <Field label={t('migrate.kmsKey')}>{() => <span className="vsp-fact vsp-muted">{noKeysNote}</span>}</Field>
        ) : (
          <SelectField
            label={t('migrate.kmsKey')}
            testId={testIds.admin.envKmsKey}
            value={match ? (isAwsManagedEbsKey(match) ? '' : keyRef(match)) : (stored ?? '')}
            disabled={keys.isLoading}
            onChange={setKey}
            options={[
              { value: '', label: t('migrate.kmsKey.awsManaged') },
              ...orphan,
              ...list.filter((k) => !isAwsManagedEbsKey(k)).map((k) => {
                const name = k.description ? `${keyRef(k)} · ${k.description}` : keyRef(k);
                return { value: keyRef(k), label: k.usable ? name : t('migrate.kmsKey.unusable', { key: name, reason: k.reason ?? '' }), disabled: !k.usable };
              }),
            ]}
            help={keys.isLoading ? t('app.loading') : t('migrate.kmsKey.help')}
          />
        ))}
      {keys.isError && <ApiErrorAlert error={keys.error} />}
      <TagsEditor
        label={t('admin.env.defaultTags')}
        rows={tagRows}
        onChange={onTagRows}
        idPrefix={`${idPrefix}-tag`}
        testIdPrefix={testIds.admin.envTags}
        help={t('admin.env.defaultTags.help')}
      />
    </fieldset>
  );
}
