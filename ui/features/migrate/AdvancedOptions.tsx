import type { Environment, GuestPlatform, KmsKeyOption, LicenseType, PreflightCheck, PreflightCode, VmFirmware } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/migrate.ts';
import { AccordionPanel } from '../../kit/Accordion.tsx';
import { Checkbox, Field, RadioGroup, SelectField } from '../../kit/Form.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';
import { isAwsManagedEbsKey, keyMatches, keyRef, tagsOf, type AdvancedChoices } from './importOptions.ts';
import { TagsEditor } from './TagsEditor.tsx';

/** Pre-flight checks about the Advanced choices, shown where they bite (they stay in the checks list too). */
const LICENSE_CODES: PreflightCode[] = ['LICENSE_TYPE_NOT_ALLOWED', 'BYOL_NEEDS_DEDICATED_HOST', 'LICENSE_TYPE_ADJUSTED'];
const KEY_CODES: PreflightCode[] = ['KMS_KEY_NOT_FOUND', 'KMS_KEY_NOT_USABLE', 'KMS_KEY_NOT_ALLOWED_FOR_IMPORT_ROLE', 'KMS_KEY_UNREADABLE'];
const BOOT_CODES: PreflightCode[] = ['INSTANCE_TYPE_NO_UEFI'];
const TAG_CODES: PreflightCode[] = ['TOO_MANY_TAGS'];

export interface KeysState {
  keys: KmsKeyOption[] | undefined;
  loading: boolean;
}

/** The key an import would use when the user picks none: the environment's default, found in the list. */
export function defaultKey(env: Environment, keys: KmsKeyOption[] | undefined): { ref: string; key: KmsKeyOption | undefined } | undefined {
  const ref = env.importDefaults.encryption.kmsKeyId;
  return ref === undefined ? undefined : { ref, key: keys?.find((k) => keyMatches(k, ref)) };
}

/** Why the chosen key cannot be used, when the list says so (the pre-flight checks the key policy as well). */
export function keyProblem(c: AdvancedChoices, env: Environment, keys: KmsKeyOption[] | undefined): { key: string; reason: string } | undefined {
  if (!c.encrypted || !keys) return undefined;
  const chosen = c.kmsKeyId === '' ? defaultKey(env, keys)?.key : keys.find((k) => keyRef(k) === c.kmsKeyId);
  return chosen && !chosen.usable ? { key: keyRef(chosen), reason: chosen.reason ?? '' } : undefined;
}

/**
 * The license the import will use: the user's choice, or — left at the environment's default — the one the pre-flight
 * says AWS allows for this guest (a Linux VM in an environment whose default is AWS-provided is imported as BYOL).
 */
export function shownLicense(c: AdvancedChoices, env: Environment, checks: PreflightCheck[]): LicenseType {
  if (c.licenseType !== env.importDefaults.licenseType) return c.licenseType;
  const adjusted = checks.find((x) => x.code === 'LICENSE_TYPE_ADJUSTED')?.details?.['licenseType'];
  return adjusted === 'AWS' || adjusted === 'BYOL' ? adjusted : c.licenseType;
}

function firmwareText(f: VmFirmware, t: Translate): string {
  return t('migrate.bootMode.value', {
    mode: t(`migrate.bootMode.${f.bootMode}`),
    firmware: t(`migrate.firmware.${f.firmware}`),
    secureBoot: f.firmware === 'efi' ? t(f.secureBoot ? 'migrate.firmware.secureBootOn' : 'migrate.firmware.secureBootOff') : '',
  });
}

/** The collapsed header's one line: what the import will do, so nothing hides behind the closed section. */
function summaryLine(c: AdvancedChoices, license: LicenseType, env: Environment, firmware: VmFirmware | undefined, t: Translate): string {
  const tags = new Set([...env.importDefaults.tags.map((x) => x.key), ...tagsOf(c.tags).map((x) => x.key)]).size;
  return [
    t(`migrate.license.${license}`),
    t(c.encrypted ? 'migrate.advanced.encrypted' : 'migrate.advanced.notEncrypted'),
    ...(firmware ? [t(`migrate.bootMode.${firmware.bootMode}`)] : []),
    t('migrate.advanced.tags', { count: tags }),
  ].join(' · ');
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

interface Props {
  env: Environment;
  platform: GuestPlatform;
  value: AdvancedChoices;
  onChange: (patch: Partial<AdvancedChoices>) => void;
  keys: KeysState;
  /** From the pre-flight: the VM's firmware and the checks about these choices. */
  firmware: VmFirmware | undefined;
  checks: PreflightCheck[];
  open: boolean;
  onToggle: (open: boolean) => void;
  /** Element ids: `${idPrefix}-kms` for the key, `${idPrefix}-tag-…` for the tag rows. */
  idPrefix: string;
  t: Translate;
}

/**
 * The form's "Advanced" section, collapsed by default: licence type, encryption and KMS key, boot mode (a fact from
 * the VM's firmware), tags. The values start from the environment's import defaults.
 */
export function AdvancedOptions({ env, platform, value, onChange, keys, firmware, checks, open, onToggle, idPrefix, t }: Props) {
  const d = env.importDefaults;
  const envKey = defaultKey(env, keys.keys);
  const problem = keyProblem(value, env, keys.keys);
  const license = shownLicense(value, env, checks);
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
    <AccordionPanel
      title={t('migrate.advanced')}
      description={summaryLine(value, license, env, firmware, t)}
      open={open}
      onToggle={onToggle}
      testId={testIds.migrate.advanced}
    >
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
    </AccordionPanel>
  );
}
