import { MigrationRequest, type CutoverShutdown, type MigrationMode } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/i18n.ts';
import { InputField, RadioGroup } from '../../kit/Form.tsx';
import { testIds } from '../../testIds.ts';

export interface ModeChoices {
  mode: MigrationMode;
  /** As typed; checked with the contract's own rule. */
  interval: string;
  shutdown: CutoverShutdown;
}

export const defaultModeChoices: ModeChoices = { mode: 'cold', interval: '15', shutdown: 'guest' };

const intervalRule = MigrationRequest.shape.replicationIntervalMinutes.unwrap();

/** What is wrong with the typed interval, in the contract's words (the server says the same); undefined when valid. */
export function intervalProblem(typed: string, t: Translate): string | undefined {
  const text = typed.trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) return t('migrate.interval.notNumber');
  const checked = intervalRule.safeParse(Number(text));
  return checked.success ? undefined : checked.error.issues[0]?.message;
}

/** The request fields of the chosen mode: none for Migrate now, so a cold request stays as it was. */
export function modeRequestFields(c: ModeChoices): Pick<MigrationRequest, 'mode' | 'replicationIntervalMinutes' | 'cutoverShutdown'> {
  return c.mode === 'warm' ? { mode: 'warm', replicationIntervalMinutes: Number(c.interval.trim()), cutoverShutdown: c.shutdown } : { mode: 'cold' };
}

interface Props {
  value: ModeChoices;
  onChange: (patch: Partial<ModeChoices>) => void;
  intervalId: string;
  intervalError: string | undefined;
  t: Translate;
}

/** Migrate now (cold) or Replicate, then cut over (warm), and the warm choices: interval and how the VM is powered off. */
export function MigrationModeFields({ value, onChange, intervalId, intervalError, t }: Props) {
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
        </>
      )}
    </>
  );
}
