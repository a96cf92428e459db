import { useEffect, useState } from 'react';
import type { Environment, KmsKeyOption, LicenseType, PreflightCheck, VmFirmware } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/migrate.ts';
import { AccordionPanel } from '../../kit/Accordion.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';
import type { AdvancedInputs } from './AdvancedFields.tsx';
import { keyMatches, keyRef, tagsOf, type AdvancedChoices } from './importOptions.ts';

type Fields = typeof import('./AdvancedFields.tsx');

// The section is collapsed by default: its fields (and the tag editor) arrive when it first opens, milliseconds
// later, not with the form's first render. The header's summary line needs none of them.
let loaded: Fields | undefined;
let loading: Promise<Fields> | undefined;

function loadFields(): Promise<Fields> {
  loading ??= import('./AdvancedFields.tsx').then(
    (m) => (loaded = m),
    (err: unknown) => {
      loading = undefined; // the next opening asks again
      throw err;
    },
  );
  return loading;
}

/** The fields' module once the section has been open; undefined while it loads. */
function useAdvancedFields(open: boolean): Fields | undefined {
  const [fields, setFields] = useState(loaded);
  useEffect(() => {
    if (!open || fields) return;
    let live = true;
    loadFields().then(
      (m) => live && setFields(m),
      () => undefined, // the spinner stays; closing and opening the section retries
    );
    return () => {
      live = false;
    };
  }, [open, fields]);
  return fields ?? loaded;
}

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

interface Props extends AdvancedInputs {
  open: boolean;
  onToggle: (open: boolean) => void;
}

/**
 * The form's "Advanced" section, collapsed by default: licence type, encryption and KMS key, boot mode (a fact from
 * the VM's firmware), tags. The values start from the environment's import defaults.
 */
export function AdvancedOptions({ env, platform, value, onChange, keys, firmware, checks, open, onToggle, idPrefix, t }: Props) {
  const problem = keyProblem(value, env, keys.keys);
  const license = shownLicense(value, env, checks);
  const fields = useAdvancedFields(open);
  return (
    <AccordionPanel
      title={t('migrate.advanced')}
      description={summaryLine(value, license, env, firmware, t)}
      open={open}
      onToggle={onToggle}
      testId={testIds.migrate.advanced}
    >
      {fields ? (
        <fields.AdvancedFields
          env={env}
          platform={platform}
          value={value}
          onChange={onChange}
          keys={keys}
          firmware={firmware}
          checks={checks}
          license={license}
          problem={problem}
          idPrefix={idPrefix}
          t={t}
        />
      ) : (
        <Spinner label={t('app.loading')} />
      )}
    </AccordionPanel>
  );
}
