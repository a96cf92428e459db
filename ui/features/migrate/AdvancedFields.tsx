import type { Environment, GuestPlatform, KmsKeyOption, LicenseType, PreflightCheck, PreflightCode, VmFirmware } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/migrate.ts';
import { Checkbox, Field, RadioGroup, SelectField } from '../../kit/Form.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';
import { defaultKey, type KeysState } from './AdvancedOptions.tsx';
import { isAwsManagedEbsKey, keyRef, type AdvancedChoices } from './importOptions.ts';
import { TagsEditor } from './TagsEditor.tsx';

// The Advanced section's fields, in a chunk of their own: the section is collapsed by default, so the form's first
// render does without them (AdvancedOptions.tsx loads this when the section first opens).

/** Pre-flight checks about the Advanced choices, shown where they bite (they stay in the checks list too). */
const LICENSE_CODES: PreflightCode[] = ['LICENSE_TYPE_NOT_ALLOWED', 'BYOL_NEEDS_DEDICATED_HOST', 'LICENSE_TYPE_ADJUSTED'];
const KEY_CODES: PreflightCode[] = ['KMS_KEY_NOT_FOUND', 'KMS_KEY_NOT_USABLE', 'KMS_KEY_NOT_ALLOWED_FOR_IMPORT_ROLE', 'KMS_KEY_UNREADABLE'];
const BOOT_CODES: PreflightCode[] = ['INSTANCE_TYPE_NO_UEFI'];
const TAG_CODES: PreflightCode[] = ['TOO_MANY_TAGS'];

function firmwareText(f: VmFirmware, t: Translate): string {
  return t('migrate.bootMode.value', {
    mode: t(`migrate.bootMode.${f.bootMode}`),
    firmware: t(`migrate.firmware.${f.firmware}`),
    secureBoot: f.firmware === 'efi' ? t(f.secureBoot ? 'migrate.firmware.secureBootOn' : 'migrate.firmware.secureBootOff') : '',
  });
}

function Bites({ checks, codes }: { checks: PreflightCheck[]; codes: PreflightCode[] }) {
  const hits = checks.filter((c) => codes.includes(c.code));
  if (hits.length === 0) return null;
  return (
    <>
      {hits.map((c) => (
        <span key={`${c.code}-${c.message}`} className={c.severity === 'blocker' ? 'vsp-subtext-error vsp-bite' : 'vsp-subtext-warning vsp-bite'} data-test={testIds.migrate.advancedBite(c.code)}>
          {c.message}
          {c.fix ? ` ${c.fix}` : ''}
        </span>
      ))}
    </>
  );
}

/** What the section and its fields both take (the section adds its open state, the fields what it derives). */
export interface AdvancedInputs {
  env: Environment;
  platform: GuestPlatform;
  value: AdvancedChoices;
  onChange: (patch: Partial<AdvancedChoices>) => void;
  keys: KeysState;
  /** From the pre-flight: the VM's firmware and the checks about these choices. */
  firmware: VmFirmware | undefined;
  checks: PreflightCheck[];
  /** Element ids: `${idPrefix}-kms` for the key, `${idPrefix}-tag-…` for the tag rows. */
  idPrefix: string;
  t: Translate;
}

interface Props extends AdvancedInputs {
  /** The license the import will use (the header shows the same). */
  license: LicenseType;
  /** Why the chosen key cannot be used, when the key list says so. */
  problem: { key: string; reason: string } | undefined;
}

/** Licence type, encryption and KMS key, boot mode (a fact from the VM's firmware), tags. */
export function AdvancedFields({ env, platform, value, onChange, keys, firmware, checks, license, problem, idPrefix, t }: Props) {
  const d = env.importDefaults;
  const envKey = defaultKey(env, keys.keys);
  const keyLabel = (k: KmsKeyOption) => {
    const name = k.description ? `${keyRef(k)} · ${k.description}` : keyRef(k);
    return k.usable ? name : t('migrate.kmsKey.unusable', { key: name, reason: k.reason ?? '' });
  };
  const firstOption = envKey
    ? { value: '', label: t('migrate.kmsKey.envDefault', { key: envKey.key ? keyLabel(envKey.key) : envKey.ref }) }
    : { value: '', label: t('migrate.kmsKey.awsManaged') };
  // The first option already stands for the environment's key, or without one for aws/ebs: not listed twice.
  const others = (keys.keys ?? []).filter((k) => (envKey ? k.keyId !== envKey.key?.keyId : !isAwsManagedEbsKey(k)));
  return (
    <>
      <RadioGroup
        label={t('migrate.license')}
        name="license-type"
        value={license}
        onChange={(v) => onChange({ licenseType: v === 'BYOL' ? 'BYOL' : 'AWS' })}
        options={(['AWS', 'BYOL'] as const).map((l) => ({
          value: l,
          label: t(`migrate.license.${l}`),
          description: t(`migrate.license.${l}.help`),
          testId: testIds.migrate.license(l),
        }))}
        help={
          <>
            <span className="vsp-bite" data-test={testIds.migrate.licenseRule}>
              {t(`migrate.license.rule.${platform}`)} {t('migrate.license.usageOperation')}
            </span>
            <Bites checks={checks} codes={LICENSE_CODES} />
          </>
        }
      />
      <Field label={t('migrate.encryption')}>
        {() => (
          <>
            <Checkbox label={t('migrate.encryption.on')} testId={testIds.migrate.encrypted} checked={value.encrypted} onChange={(encrypted) => onChange({ encrypted })} />
            {!value.encrypted && d.encryption.encrypted && <span className="clr-subtext vsp-subtext-warning">{t('migrate.encryption.offNote')}</span>}
          </>
        )}
      </Field>
      {value.encrypted && (
        <SelectField
          label={t('migrate.kmsKey')}
          testId={testIds.migrate.kmsKey}
          id={`${idPrefix}-kms`}
          value={value.kmsKeyId}
          disabled={keys.loading}
          onChange={(kmsKeyId) => onChange({ kmsKeyId })}
          options={[firstOption, ...others.map((k) => ({ value: keyRef(k), label: keyLabel(k), disabled: !k.usable }))]}
          error={problem ? t('migrate.kmsKey.problem', problem) : undefined}
          help={
            <>
              {keys.loading ? t('app.loading') : t('migrate.kmsKey.help')}
              <Bites checks={checks} codes={KEY_CODES} />
            </>
          }
        />
      )}
      <Field label={t('migrate.bootMode')}>
        {(id) => (
          <>
            <span id={id} className="vsp-fact" data-test={testIds.migrate.bootMode}>
              {firmware ? firmwareText(firmware, t) : t('migrate.bootMode.unknown')}
            </span>
            <span className="clr-subtext">
              {t('migrate.bootMode.help')}
              <Bites checks={checks} codes={BOOT_CODES} />
            </span>
          </>
        )}
      </Field>
      <TagsEditor
        label={t('migrate.tags')}
        rows={value.tags}
        onChange={(tags) => onChange({ tags })}
        inherited={d.tags}
        idPrefix={`${idPrefix}-tag`}
        testIdPrefix={testIds.migrate.tags}
        help={t('migrate.tags.help')}
      />
      <Bites checks={checks} codes={TAG_CODES} />
    </>
  );
}
