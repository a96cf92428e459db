import { useMutation, useQueries } from '@tanstack/react-query';
import { isAxiosError } from 'axios';
import { useId, useState, type ReactNode } from 'react';
import { WaveBlocked, type Environment, type GuestPlatform, type PreflightQuery, type VmDetail, type Wave, type WaveRowBlocker, type WaveVmOverrides } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { toApiError } from '../../api/errors.ts';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Form, InputField, ProblemLink, type FieldProblem } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { vmQueries } from '../migrate/migrate.queries.ts';
import { intervalProblem } from '../migrate/formRules.ts';
import { defaultModeChoices, MigrationModeFields, modePreflightFields, modeRequestFields, nitroReady, type ModeChoices } from '../migrate/MigrationModeFields.tsx';
import { platformFromGuestId, privateIpProblem } from '../migrate/privateIp.ts';
import { TargetFields, useTargetChoices } from '../migrate/TargetFields.tsx';
import { checkWindow, formatInZone, userZone } from './startWindow.ts';
import { WaveRows, type RowCheck, type RowChoices, type WaveRow } from './WaveRows.tsx';

interface Props {
  vms: VmDetail[];
  environments: Environment[];
  closeButton: ReactNode;
  onClose: () => void;
}

/** The platform most rows have: sent as the wave's, the others as per-VM overrides. */
function commonPlatform(platforms: GuestPlatform[]): GuestPlatform {
  const windows = platforms.filter((p) => p === 'Windows').length;
  return windows * 2 > platforms.length ? 'Windows' : 'Linux';
}

/** The wave's modal: its name, priority and start window, the choices shared by every VM, then a row per VM. */
export function WaveForm({ vms, environments, closeButton, onClose }: Props) {
  const api = useApi();
  const t = useT();
  const fid = useId();
  const ids = { name: `${fid}name`, priority: `${fid}prio`, notBefore: `${fid}nb`, notAfter: `${fid}na`, interval: `${fid}interval`, region: `${fid}region`, environment: `${fid}env`, subnet: `${fid}subnet`, instanceType: `${fid}type`, securityGroup: `${fid}sg` };
  const [name, setName] = useState('');
  const [priority, setPriority] = useState('0');
  const [notBefore, setNotBefore] = useState('');
  const [notAfter, setNotAfter] = useState('');
  const [mode, setMode] = useState<ModeChoices>(defaultModeChoices);
  const [removed, setRemoved] = useState<string[]>([]);
  const [overrides, setOverrides] = useState<Record<string, Partial<RowChoices>>>({});
  const [refusals, setRefusals] = useState<Record<string, WaveRowBlocker[]>>({});
  const target = useTargetChoices(environments, undefined);
  const zone = userZone();

  const kept = vms.filter((vm) => !removed.includes(vm.id));
  const choicesOf = (vm: VmDetail): RowChoices => ({ platform: platformFromGuestId(vm.guestId), instanceType: '', privateIp: '', ...overrides[vm.id] });
  const queryOf = (vm: VmDetail): PreflightQuery => {
    const c = choicesOf(vm);
    const ip = c.privateIp.trim();
    return {
      environmentId: target.environmentId,
      platform: c.platform,
      ...(target.subnetId ? { subnetId: target.subnetId } : {}),
      ...(c.instanceType || target.instanceType ? { instanceType: c.instanceType || target.instanceType } : {}),
      ...(ip && !privateIpProblem(ip, target.subnet?.cidrBlock) ? { privateIpAddress: ip } : {}),
      ...modePreflightFields(mode),
    };
  };
  // The single-VM form's pre-flight, once per VM, so each row shows its own blockers before Begin.
  const checks = useQueries({ queries: kept.map((vm) => ({ ...vmQueries.preflight(api, vm.id, queryOf(vm)), enabled: target.envReady })) });

  const rows: WaveRow[] = kept.map((vm, i) => {
    const q = checks[i];
    const c = choicesOf(vm);
    const ipKey = privateIpProblem(c.privateIp, target.subnet?.cidrBlock);
    const check: RowCheck = !target.envReady
      ? { kind: 'waiting' }
      : q?.data
        ? { kind: 'done', result: q.data, stale: q.isPlaceholderData || q.isFetching }
        : q?.isError
          ? { kind: 'error', message: toApiError(q.error).message }
          : { kind: 'running' };
    return { vm, choices: c, check, ipError: ipKey ? t(ipKey, { cidr: target.subnet?.cidrBlock ?? '', ip: c.privateIp.trim() }) : undefined, refused: refusals[vm.id] };
  });

  const begin = useMutation({
    mutationFn: async (): Promise<Wave> => {
      setRefusals({});
      // Each VM needs its own import authorization (the seed's token flow); a refusal lands on that VM's row.
      const auths = await Promise.allSettled(kept.map((vm) => api.authorizeImport({ environmentId: target.environmentId, vmId: vm.id })));
      const refused: Record<string, WaveRowBlocker[]> = {};
      auths.forEach((a, i) => {
        if (a.status === 'rejected') {
          const e = toApiError(a.reason);
          refused[kept[i]!.id] = [{ code: e.code === 'NETWORK' || e.code === 'HOST' ? 'INTERNAL' : e.code, message: e.message }];
        }
      });
      if (Object.keys(refused).length) {
        setRefusals(refused);
        throw new RowsRefused(Object.keys(refused).length);
      }
      const platform = commonPlatform(rows.map((r) => r.choices.platform));
      return api.createWave({
        name: name.trim(),
        priority: Number(priority),
        ...(windowCheck.window ? { window: windowCheck.window } : {}),
        environmentId: target.environmentId,
        platform,
        subnetId: target.subnetId,
        instanceType: target.instanceType,
        securityGroupIds: [target.securityGroupId],
        ...modeRequestFields(mode),
        vms: rows.map((r, i) => {
          const o: WaveVmOverrides = {
            ...(r.choices.platform !== platform ? { platform: r.choices.platform } : {}),
            ...(r.choices.instanceType ? { instanceType: r.choices.instanceType } : {}),
            ...(r.choices.privateIp.trim() ? { privateIpAddress: r.choices.privateIp.trim() } : {}),
          };
          const auth = auths[i] as PromiseFulfilledResult<{ token: string }>;
          return { vmId: r.vm.id, token: auth.value.token, ...(Object.keys(o).length ? { overrides: o } : {}) };
        }),
      });
    },
    onError: (err) => {
      // 422: nothing was created; the connector names every blocked row (index into the rows sent).
      const body = isAxiosError(err) ? WaveBlocked.safeParse(err.response?.data) : undefined;
      if (body?.success) setRefusals(Object.fromEntries(body.data.details.rows.map((r) => [kept[r.index]?.id ?? r.vmId, r.blockers])));
    },
  });

  const windowCheck = checkWindow(notBefore, notAfter);
  const priorityNumber = Number(priority.trim());
  const priorityError = /^\d+$/.test(priority.trim()) && priorityNumber <= 100 ? undefined : t('wave.priority.invalid');
  const warm = mode.mode === 'warm';
  const intervalError = warm ? intervalProblem(mode.interval, t) : undefined;
  const rowIp = rows.find((r) => r.ipError);
  const blockedRows = rows.filter((r) => r.check.kind === 'done' && r.check.result.checks.some((c) => c.severity === 'blocker'));
  const allChecked = rows.every((r) => r.check.kind === 'done' && !r.check.stale);
  const missing = (fieldId: string, label: string): FieldProblem => ({ fieldId, text: t('migrate.problem', { label, problem: t('migrate.problem.select') }) });
  const problem: FieldProblem | undefined = !name.trim()
    ? { fieldId: ids.name, text: t('wave.name.missing') }
    : priorityError
      ? { fieldId: ids.priority, text: t('migrate.problem', { label: t('wave.priority'), problem: priorityError }) }
      : windowCheck.problem
        ? { fieldId: windowCheck.problem.field === 'notAfter' ? ids.notAfter : ids.notBefore, text: windowCheck.problem.message }
        : intervalError
          ? { fieldId: ids.interval, text: t('migrate.problem', { label: t('migrate.interval.short'), problem: intervalError }) }
          : !target.region
            ? missing(ids.region, t('migrate.region'))
            : !target.environmentId
              ? missing(ids.environment, t('migrate.environment'))
              : !target.subnetId && target.subnets.isSuccess
                ? missing(ids.subnet, t('migrate.subnet'))
                : !target.instanceType && target.types.isSuccess
                  ? missing(ids.instanceType, t('migrate.instanceType'))
                  : !target.securityGroupId && target.groups.isSuccess
                    ? missing(ids.securityGroup, t('migrate.securityGroup'))
                    : undefined;
  const rowProblem = rows.length === 0 ? t('wave.problem.empty') : rowIp ? t('migrate.problem', { label: t('wave.problem.ip', { vm: rowIp.vm.name }), problem: rowIp.ipError ?? '' }) : blockedRows.length ? t('wave.problem.rows') : undefined;
  const waitingFor = problem?.text ?? rowProblem ?? (!target.complete ? t('migrate.begin.incomplete') : !allChecked ? t('migrate.preflight.running') : undefined);
  const canSubmit = waitingFor === undefined && !begin.isPending;

  if (begin.isSuccess) {
    const w = begin.data;
    return (
      <div className="vsp-modal" data-test={testIds.wave.page}>
        <div className="vsp-modal-body">
          <Alert kind="success" testId={testIds.wave.result}>
            {t('wave.result', { name: w.name, count: w.total, id: w.id })}
            {w.window?.notBefore && <> {t('wave.result.window', { time: formatInZone(w.window.notBefore) })}</>}
          </Alert>
          <p>{t('wave.result.note')}</p>
        </div>
        <div className="vsp-modal-footer">
          <Button variant="primary" testId={testIds.wave.close} onClick={onClose}>
            {t('common.close')}
          </Button>
        </div>
      </div>
    );
  }

  const refusedCount = Object.keys(refusals).length;
  const beginError = begin.isError && !(begin.error instanceof RowsRefused) && refusedCount === 0 ? begin.error : undefined;
  const setRow = (vmId: string, patch: Partial<RowChoices>) => {
    setOverrides((o) => ({ ...o, [vmId]: { ...o[vmId], ...patch } }));
    setRefusals((r) => Object.fromEntries(Object.entries(r).filter(([id]) => id !== vmId)));
  };
  const types = (target.types.data?.instanceTypes ?? []).map((x) => x.name);
  return (
    <div className="vsp-modal" data-test={testIds.wave.page}>
      <div className="vsp-modal-body">
        {environments.length === 0 ? (
          <Alert kind="warning" testId={testIds.migrate.noPermission}>
            {t('migrate.noPermission')}
          </Alert>
        ) : (
          <Form label={t('wave.formLabel')} testId={testIds.wave.form} onSubmit={() => canSubmit && begin.mutate()}>
            <section aria-labelledby={`${fid}h-wave`}>
              <h4 id={`${fid}h-wave`}>{t('wave.section.wave')}</h4>
              <InputField label={t('wave.name')} id={ids.name} testId={testIds.wave.name} value={name} maxLength={80} onChange={setName} placeholder={t('wave.name.placeholder')} autoComplete="off" />
              <InputField label={t('wave.priority')} id={ids.priority} testId={testIds.wave.priority} value={priority} onChange={setPriority} inputMode="numeric" help={t('wave.priority.help')} error={priority.trim() === '' || priorityError === undefined ? undefined : priorityError} />
              <InputField
                label={t('wave.notBefore')}
                id={ids.notBefore}
                testId={testIds.wave.notBefore}
                type="datetime-local"
                value={notBefore}
                onChange={setNotBefore}
                help={t('wave.window.help', { zone })}
                error={windowCheck.problem?.field === 'notBefore' ? windowCheck.problem.message : undefined}
              />
              <InputField
                label={t('wave.notAfter')}
                id={ids.notAfter}
                testId={testIds.wave.notAfter}
                type="datetime-local"
                value={notAfter}
                onChange={setNotAfter}
                help={t('wave.window.notAfterHelp', { zone })}
                error={windowCheck.problem?.field === 'notAfter' ? windowCheck.problem.message : undefined}
              />
            </section>
            <section aria-labelledby={`${fid}h-common`}>
              <h4 id={`${fid}h-common`}>{t('wave.section.common')}</h4>
              <MigrationModeFields
                value={mode}
                onChange={(patch) => setMode((c) => ({ ...c, ...patch }))}
                intervalId={ids.interval}
                intervalError={intervalError}
                // Registering the disks directly is offered only when every VM's guest is Nitro-ready.
                nitro={rows.length > 0 && rows.every((r) => r.check.kind === 'done' && nitroReady(r.check.result.checks))}
                t={t}
              />
              <TargetFields target={target} ids={ids} t={t} />
              <p className="vsp-muted">{t('wave.os.help')}</p>
            </section>
            <section aria-labelledby={`${fid}h-vms`} aria-live="polite">
              <h4 id={`${fid}h-vms`}>{t('wave.section.vms', { count: rows.length })}</h4>
              {removed.length > 0 && (
                <p className="vsp-muted">
                  {t('wave.removed', { count: removed.length })}{' '}
                  <Button variant="link" className="btn-sm" testId={testIds.wave.restore} onClick={() => setRemoved([])}>
                    {t('wave.restore')}
                  </Button>
                </p>
              )}
              {refusedCount > 0 && (
                <Alert kind="danger" testId={testIds.wave.refused}>
                  {t('wave.refused', { count: refusedCount })}
                </Alert>
              )}
              <WaveRows rows={rows} instanceTypes={types} commonType={target.instanceType} disabled={begin.isPending} onChange={setRow} onRemove={(id) => setRemoved((r) => [...r, id])} t={t} />
            </section>
            {beginError !== undefined && <ApiErrorAlert error={beginError} />}
          </Form>
        )}
      </div>
      <div className="vsp-modal-footer">
        {environments.length > 0 && waitingFor && !begin.isPending && (
          <span id={`${fid}why`} className={problem || rowProblem ? 'vsp-footer-note vsp-subtext-error' : 'vsp-footer-note vsp-muted'}>
            {problem ? <ProblemLink problem={problem} testId={testIds.wave.firstProblem} /> : <span data-test={testIds.wave.firstProblem}>{waitingFor}</span>}
          </span>
        )}
        {begin.isPending && <Spinner label={t('wave.begin.pending')} />}
        {closeButton}
        {environments.length > 0 && (
          <Button variant="primary" testId={testIds.wave.begin} disabled={!canSubmit} aria-describedby={waitingFor ? `${fid}why` : undefined} onClick={() => begin.mutate()}>
            {t('migrate.begin')}
          </Button>
        )}
      </div>
    </div>
  );
}

/** Some rows' import authorizations were refused: shown on those rows, nothing sent. */
class RowsRefused extends Error {
  constructor(readonly count: number) {
    super(`${count} VM(s) were refused`);
  }
}
