import type { CutoverShutdown, MigrationMode, MigrationRequest, PreflightResult, WarmImagePath } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/migrate.ts';
import { InputField, RadioGroup } from '../../kit/Form.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';

export interface ModeChoices {
  mode: MigrationMode;
  /** As typed; checked with the contract's own rule (formRules.ts). */
  interval: string;
  shutdown: CutoverShutdown;
  /** Offered only while the pre-flight says the guest is Nitro-ready. */
  image: WarmImagePath;
}

export const defaultModeChoices: ModeChoices = { mode: 'cold', interval: '15', shutdown: 'guest', image: 'import-image' };

/** The pre-flight's NITRO_READINESS fact says the guest has the ENA and NVMe drivers. */
export function nitroReady(checks: PreflightResult['checks'] | undefined): boolean {
  return !!checks?.some((c) => c.code === 'NITRO_READINESS' && c.details?.['nitroReady'] === true);
}

/** register-image when chosen; the default (VM Import) is not sent. */
function imagePathField(c: ModeChoices): Pick<MigrationRequest, 'imagePath'> {
  return c.mode === 'warm' && c.image === 'register-image' ? { imagePath: 'register-image' } : {};
}

/** The request fields of the chosen mode: none for Migrate now, so a cold request stays as it was. */
export function modeRequestFields(c: ModeChoices): Pick<MigrationRequest, 'mode' | 'replicationIntervalMinutes' | 'cutoverShutdown' | 'imagePath'> {
  return c.mode === 'warm' ? { mode: 'warm', replicationIntervalMinutes: Number(c.interval.trim()), cutoverShutdown: c.shutdown, ...imagePathField(c) } : { mode: 'cold' };
}

/** The pre-flight query's warm fields (its replication checks, and register-image checked against the guest). */
export function modePreflightFields(c: ModeChoices): { mode?: 'warm'; cutoverShutdown?: CutoverShutdown; imagePath?: WarmImagePath } {
  return c.mode === 'warm' ? { mode: 'warm', cutoverShutdown: c.shutdown, ...imagePathField(c) } : {};
}

interface Props {
  value: ModeChoices;
  onChange: (patch: Partial<ModeChoices>) => void;
  intervalId: string;
  intervalError: string | undefined;
  /** The pre-flight says the guest is Nitro-ready: registering the replicated disks directly is offered. */
  nitro: boolean;
  t: Translate;
}

/** Migrate now (cold) or Replicate, then cut over (warm), and the warm choices: interval, how the VM is powered off, and (Nitro-ready guests) the image path. */
export function MigrationModeFields({ value, onChange, intervalId, intervalError, nitro, t }: Props) {
  return (
    <>
      <RadioGroup
        label={t('migrate.mode')}
        name="migration-mode"
        value={value.mode}
        onChange={(v) => onChange({ mode: v as MigrationMode })}
        options={[
          { value: 'cold', label: t('migrate.mode.cold'), description: t('migrate.mode.cold.help'), testId: testIds.migrate.mode('cold') },
          { value: 'warm', label: t('migrate.mode.warm'), description: t('migrate.mode.warm.help'), testId: testIds.migrate.mode('warm') },
        ]}
      />
      {value.mode === 'warm' && (
        <>
          <InputField
            label={t('migrate.interval')}
            testId={testIds.migrate.interval}
            id={intervalId}
            value={value.interval}
            inputMode="numeric"
            autoComplete="off"
            onChange={(v) => onChange({ interval: v })}
            help={t('migrate.interval.help')}
            error={intervalError}
          />
          <RadioGroup
            label={t('migrate.cutoverShutdown')}
            name="cutover-shutdown"
            value={value.shutdown}
            onChange={(v) => onChange({ shutdown: v as CutoverShutdown })}
            options={[
              { value: 'guest', label: t('migrate.cutoverShutdown.guest'), testId: testIds.migrate.cutoverShutdown('guest') },
              { value: 'user', label: t('migrate.cutoverShutdown.user'), testId: testIds.migrate.cutoverShutdown('user') },
            ]}
            help={t('migrate.cutoverShutdown.help')}
          />
          {/* Still shown once chosen, so a guest the pre-flight no longer finds ready can be switched back to VM Import. */}
          {(nitro || value.image === 'register-image') && (
            <RadioGroup
              label={t('migrate.imagePath')}
              name="image-path"
              value={value.image}
              onChange={(v) => onChange({ image: v as WarmImagePath })}
              options={(['import-image', 'register-image'] as const).map((p) => ({
                value: p,
                label: t(`migrate.imagePath.${p}`),
                description: t(`migrate.imagePath.${p}.help`),
                testId: testIds.migrate.imagePath(p),
              }))}
            />
          )}
        </>
      )}
    </>
  );
}
