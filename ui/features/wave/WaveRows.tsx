// One row per VM of the wave: its own OS, instance type and private IP, and its pre-flight result on the row.
import type { GuestPlatform, PreflightCheck, PreflightResult, VmDetail, WaveRowBlocker } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { Button } from '../../kit/Button.tsx';
import { testIds } from '../../testIds.ts';
import { PreflightChecks } from '../migrate/PreflightChecks.tsx';
import './wave.css';

export interface RowChoices {
  platform: GuestPlatform;
  /** '' = the wave's instance type. */
  instanceType: string;
  privateIp: string;
}

/** What the row's pre-flight says, or why it has none yet. */
export type RowCheck =
  | { kind: 'waiting' }
  | { kind: 'running' }
  | { kind: 'error'; message: string }
  | { kind: 'done'; result: PreflightResult; stale: boolean };

export interface WaveRow {
  vm: VmDetail;
  choices: RowChoices;
  check: RowCheck;
  ipError: string | undefined;
  /** Why the connector refused this row at Begin (422 per-row blockers, or its import authorization). */
  refused: WaveRowBlocker[] | undefined;
}

interface Props {
  rows: WaveRow[];
  instanceTypes: string[];
  /** The wave's instance type, shown as the default. */
  commonType: string;
  disabled: boolean;
  onChange: (vmId: string, patch: Partial<RowChoices>) => void;
  onRemove: (vmId: string) => void;
  t: Translate;
}

function CheckCell({ row, t }: { row: WaveRow; t: Translate }) {
  if (row.refused) return <span className="vsp-subtext-error">{t('wave.check.refused')}</span>;
  const c = row.check;
  if (c.kind === 'waiting') return <span className="vsp-muted">{t('wave.check.choose')}</span>;
  if (c.kind === 'running') return <span className="spinner spinner-inline">{t('wave.check.running')}</span>;
  if (c.kind === 'error') return <span className="vsp-subtext-error">{t('wave.check.error')}</span>;
  const blockers = c.result.checks.filter((x) => x.severity === 'blocker').length;
  const warnings = c.result.checks.filter((x) => x.severity === 'warning').length;
  if (blockers > 0) return <span className="vsp-subtext-error">{t('wave.check.blocked', { count: blockers })}</span>;
  return <span>{warnings > 0 ? t('wave.check.warnings', { count: warnings }) : t('wave.check.ready')}</span>;
}

/** Blockers and warnings under the row, in the single-VM form's words; a refusal from Begin as the connector said it. */
function RowDetail({ row }: { row: WaveRow }) {
  if (row.refused) {
    const checks: PreflightCheck[] = row.refused.map((b) => ({ code: b.code as PreflightCheck['code'], severity: 'blocker', message: b.message, ...(b.fix ? { fix: b.fix } : {}) }));
    return <PreflightChecks checks={checks} />;
  }
  if (row.check.kind === 'error') return <Alert kind="danger" compact>{row.check.message}</Alert>;
  if (row.check.kind !== 'done') return null;
  const shown = row.check.result.checks.filter((c) => c.severity !== 'info');
  return shown.length ? <PreflightChecks checks={shown} /> : null;
}

export function WaveRows({ rows, instanceTypes, commonType, disabled, onChange, onRemove, t }: Props) {
  return (
    <table className="table table-compact vsp-wave-rows" data-test={testIds.wave.rows}>
      <thead>
        <tr>
          <th className="left">{t('wave.col.vm')}</th>
          <th className="left">{t('wave.col.os')}</th>
          <th className="left">{t('wave.col.instanceType')}</th>
          <th className="left">{t('wave.col.privateIp')}</th>
          <th className="left">{t('wave.col.checks')}</th>
          <th className="left">
            <span className="clr-sr-only">{t('wave.col.actions')}</span>
          </th>
        </tr>
      </thead>
      {rows.map((row) => {
        const name = row.vm.name;
        const detail = <RowDetail row={row} />;
        const hasDetail = row.refused !== undefined || row.check.kind === 'error' || (row.check.kind === 'done' && row.check.result.checks.some((c) => c.severity !== 'info'));
        return (
          // One tbody per VM: the row and its pre-flight detail stay together for screen readers and tests.
          <tbody key={row.vm.id} data-test={testIds.wave.row(name)}>
            <tr>
              <td className="left">
                <span className="vsp-cell-text" title={`${name} (${row.vm.id}) — ${row.vm.guestFullName}`}>
                  {name}
                </span>
              </td>
              <td className="left">
                <div className="clr-select-wrapper">
                  <select
                    className="clr-select"
                    aria-label={`${t('wave.col.os')}: ${name}`}
                    data-test={testIds.wave.rowOs}
                    value={row.choices.platform}
                    disabled={disabled}
                    onChange={(e) => onChange(row.vm.id, { platform: e.target.value as GuestPlatform })}
                  >
                    <option value="Linux">{t('migrate.os.linux')}</option>
                    <option value="Windows">{t('migrate.os.windows')}</option>
                  </select>
                </div>
              </td>
              <td className="left">
                <div className="clr-select-wrapper">
                  <select
                    className="clr-select"
                    aria-label={`${t('wave.col.instanceType')}: ${name}`}
                    data-test={testIds.wave.rowInstanceType}
                    value={row.choices.instanceType}
                    disabled={disabled}
                    onChange={(e) => onChange(row.vm.id, { instanceType: e.target.value })}
                  >
                    <option value="">{commonType ? t('wave.instanceType.same', { type: commonType }) : t('wave.instanceType.sameUnset')}</option>
                    {instanceTypes
                      .filter((x) => x !== commonType)
                      .map((x) => (
                        <option key={x} value={x}>
                          {x}
                        </option>
                      ))}
                  </select>
                </div>
              </td>
              <td className="left">
                <div className={`clr-input-wrapper${row.ipError ? ' clr-error' : ''}`}>
                  <input
                    className="clr-input vsp-wave-ip"
                    aria-label={`${t('wave.col.privateIp')}: ${name}`}
                    aria-invalid={row.ipError ? true : undefined}
                    title={row.ipError}
                    data-test={testIds.wave.rowPrivateIp}
                    value={row.choices.privateIp}
                    placeholder={t('wave.privateIp.placeholder')}
                    inputMode="decimal"
                    autoComplete="off"
                    disabled={disabled}
                    onChange={(e) => onChange(row.vm.id, { privateIp: e.target.value })}
                  />
                </div>
                {row.ipError && <span className="clr-subtext vsp-subtext-error">{row.ipError}</span>}
              </td>
              <td className="left" data-test={testIds.wave.rowCheck} aria-live="polite">
                <CheckCell row={row} t={t} />
              </td>
              <td className="left">
                <Button variant="link" className="btn-sm" aria-label={t('wave.removeOf', { vm: name })} testId={testIds.wave.rowRemove} disabled={disabled} onClick={() => onRemove(row.vm.id)}>
                  {t('wave.remove')}
                </Button>
              </td>
            </tr>
            {hasDetail && (
              <tr className="vsp-wave-detail">
                <td colSpan={6} className="left" data-test={testIds.wave.rowBlockers(name)}>
                  {detail}
                </td>
              </tr>
            )}
          </tbody>
        );
      })}
    </table>
  );
}
