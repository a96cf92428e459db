import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState, type ReactNode } from 'react';
import type { BootMode, Environment, GuestPlatform, PreflightQuery, VmDetail } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { toApiError } from '../../api/errors.ts';
import { useT } from '../../i18n/migrate.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Form, InputField, ProblemLink, SelectField, type FieldProblem } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';
import { AdvancedOptions, keyProblem } from './AdvancedOptions.tsx';
import { choicesFromDefaults, firstTagProblem, importOptionsOf, isBlankTag, type AdvancedChoices } from './importOptions.ts';
import { useFormRules } from './useFormRules.ts';
import { defaultModeChoices, MigrationModeFields, modePreflightFields, modeRequestFields, nitroReady, type ModeChoices } from './MigrationModeFields.tsx';
import { PreflightChecks } from './PreflightChecks.tsx';
import { environmentQueries, vmQueries } from './migrate.queries.ts';
import { TargetFields, useTargetChoices } from './TargetFields.tsx';
import { platformFromGuestId, privateIpProblem } from './privateIp.ts';

interface Choices {
  platform: GuestPlatform | '';
  privateIp: string;
}

const empty: Choices = { platform: '', privateIp: '' };

interface Props {
  vm: VmDetail;
  summary: ReactNode;
  environments: Environment[];
  environmentsState: 'loading' | 'ready' | { error: unknown };
  closeButton: ReactNode;
  onClose: () => void;
}

/** The seed's form, in its order: OS, region and environment, subnet / instance type / security group, private IP. */
export function MigrationForm({ vm, summary, environments, environmentsState, closeButton, onClose }: Props) {
  const api = useApi();
  const t = useT();
  const [choices, setChoices] = useState<Choices>(empty);
  const [modeChoices, setModeChoices] = useState<ModeChoices>(defaultModeChoices);
  // The Advanced values belong to the environment they were set in: choosing another starts from its defaults.
  const [advanced, setAdvanced] = useState<{ envId: string; c: AdvancedChoices } | null>(null);
  const [advancedOpen, setAdvancedOpen] = useState(false);
  // The VM's boot mode as the pre-flight last read it: a UEFI guest is offered only the instance types that boot UEFI.
  const [bootMode, setBootMode] = useState<BootMode | undefined>(undefined);
  const fid = useId();
  const fieldIds = { region: `${fid}region`, environment: `${fid}env`, subnet: `${fid}subnet`, instanceType: `${fid}type`, securityGroup: `${fid}sg`, privateIp: `${fid}ip`, interval: `${fid}interval` };
  const set = (patch: Partial<Choices>) => setChoices((c) => ({ ...c, ...patch }));

  const target = useTargetChoices(environments, bootMode);
  const { region, environmentId, envReady, env, subnets, groups, types, subnetId, subnet, instanceType, securityGroupId } = target;
  const adv = env ? (advanced?.envId === env.id ? advanced.c : choicesFromDefaults(env.importDefaults)) : undefined;
  const setAdv = (patch: Partial<AdvancedChoices>) => adv && env && setAdvanced({ envId: env.id, c: { ...adv, ...patch } });
  const kmsKeys = useQuery({ ...environmentQueries.kmsKeys(api, environmentId), enabled: envReady && adv?.encrypted === true });
  const importOptions = env && adv ? importOptionsOf(adv, env.importDefaults) : undefined;

  const platform: GuestPlatform = choices.platform || platformFromGuestId(vm.guestId);
  const ipProblem = privateIpProblem(choices.privateIp, subnet?.cidrBlock);
  const privateIp = choices.privateIp.trim();

  const query: PreflightQuery = {
    environmentId,
    platform,
    ...(subnetId ? { subnetId } : {}),
    ...(instanceType ? { instanceType } : {}),
    ...(privateIp && !ipProblem ? { privateIpAddress: privateIp } : {}),
    // The Advanced choices that differ from the environment's defaults, checked against the VM and the key's policy.
    ...(importOptions?.licenseType ? { licenseType: importOptions.licenseType } : {}),
    ...(importOptions?.encryption ? { encrypted: importOptions.encryption.encrypted ? ('true' as const) : ('false' as const) } : {}),
    ...(importOptions?.encryption?.kmsKeyId ? { kmsKeyId: importOptions.encryption.kmsKeyId } : {}),
    // Warm adds the replication checks (CBT, snapshot privileges, VMware Tools for a guest shutdown, Nitro readiness).
    ...modePreflightFields(modeChoices),
  };
  const preflight = useQuery({ ...vmQueries.preflight(api, vm.id, query), enabled: envReady });
  const checksCurrent = preflight.isSuccess && !preflight.isPlaceholderData;
  const firmwareMode = checksCurrent ? preflight.data.firmware?.bootMode : undefined;
  useEffect(() => {
    if (firmwareMode) setBootMode(firmwareMode);
  }, [firmwareMode]);

  const begin = useMutation({
    mutationFn: async () => {
      const auth = await api.authorizeImport({ environmentId, vmId: vm.id });
      return api.startMigration({
        token: auth.token,
        environmentId,
        vmId: vm.id,
        platform,
        subnetId,
        instanceType,
        securityGroupIds: [securityGroupId],
        ...modeRequestFields(modeChoices),
        ...(privateIp ? { privateIpAddress: privateIp } : {}),
        ...(importOptions ? { importOptions } : {}),
      });
    },
  });

  const warm = modeChoices.mode === 'warm';
  // The contract's rules for the interval and tags arrive with the first of those fields (zod stays out of the first
  // render); until then what the user typed is not yet checked and Begin waits for it.
  const rules = useFormRules(warm || advancedOpen || (adv?.tags.length ?? 0) > 0);
  const rulesPending = !rules && (warm || (adv?.tags.some((r) => !isBlankTag(r)) ?? false));
  const intervalError = warm && rules ? rules.intervalProblem(modeChoices.interval, t) : undefined;
  const ipError = ipProblem ? t(ipProblem, { cidr: subnet?.cidrBlock ?? '', ip: privateIp }) : undefined;
  const tagProblem = adv && rules ? firstTagProblem(adv.tags, rules.tagProblems(adv.tags), `${fid}adv-tag`) : undefined;
  const kmsProblem = adv && env ? keyProblem(adv, env, kmsKeys.data?.keys) : undefined;
  const advancedProblem: FieldProblem | undefined = tagProblem
    ? { fieldId: tagProblem.fieldId, text: t('migrate.problem', { label: t('migrate.tags.problem', { n: tagProblem.n }), problem: tagProblem.problem }) }
    : kmsProblem
      ? { fieldId: `${fid}adv-kms`, text: t('migrate.problem', { label: t('migrate.kmsKey.short'), problem: t('migrate.kmsKey.problem', kmsProblem) }) }
      : undefined;
  const complete =
    target.complete && ipProblem === null && intervalError === undefined && advancedProblem === undefined;
  // The first problem in form order, named in the footer: the field itself may be scrolled out of the modal.
  const missing = (fieldId: string, label: string): FieldProblem => ({ fieldId, text: t('migrate.problem', { label, problem: t('migrate.problem.select') }) });
  // What the user typed wrong, in form order: the interval (first in the form), then the private IP.
  const typedProblem: FieldProblem | undefined = intervalError
    ? { fieldId: fieldIds.interval, text: t('migrate.problem', { label: t('migrate.interval.short'), problem: intervalError }) }
    : ipError
      ? { fieldId: fieldIds.privateIp, text: t('migrate.problem', { label: t('migrate.privateIp.short'), problem: ipError }) }
      : advancedProblem;
  const firstProblem: FieldProblem | undefined = !region
    ? missing(fieldIds.region, t('migrate.region'))
    : !environmentId
      ? missing(fieldIds.environment, t('migrate.environment'))
      : !subnetId && subnets.isSuccess
        ? missing(fieldIds.subnet, t('migrate.subnet'))
        : !instanceType && types.isSuccess
          ? missing(fieldIds.instanceType, t('migrate.instanceType'))
          : !securityGroupId && groups.isSuccess
            ? missing(fieldIds.securityGroup, t('migrate.securityGroup'))
            : typedProblem;
  const canSubmit = complete && !rulesPending && checksCurrent && preflight.data.ready && !preflight.isFetching && !begin.isPending;

  if (begin.isSuccess) {
    const task = begin.data;
    return (
      <div className="vsp-modal" data-test={testIds.migrate.page}>
        <div className="vsp-modal-body">
          {summary}
          <Alert kind="success" testId={testIds.migrate.result}>
            {t(task.idKind === 'queued' ? 'migrate.result.queued' : 'migrate.result.started')}{' '}
            <strong data-test={testIds.migrate.taskId}>{task.id}</strong>
            {task.queuePosition !== undefined && <> {t('migrate.result.position', { position: task.queuePosition })}</>}
          </Alert>
          <p>{t('migrate.result.closeNote')}</p>
          {warm && <p>{t('migrate.result.warmNote')}</p>}
        </div>
        <div className="vsp-modal-footer">
          <Button variant="primary" testId={testIds.migrate.close} onClick={onClose}>
            {t('common.close')}
          </Button>
        </div>
      </div>
    );
  }

  const beginError = begin.isError ? toApiError(begin.error) : null;
  // Say why Begin is disabled, right beside it: the checks may be scrolled out of view. What the user typed wrong
  // comes first, then blockers of the pre-flight checks (filling the other fields cannot lift them: a VM AWS cannot
  // import), then the first field still to fill, in form order.
  const blocked = checksCurrent && !preflight.data.ready;
  const shownProblem = complete ? undefined : (typedProblem ?? (blocked ? undefined : firstProblem));
  const waitingFor = shownProblem ? shownProblem.text : blocked ? t('migrate.begin.blocked') : !complete ? t('migrate.begin.incomplete') : !checksCurrent || preflight.isFetching || rulesPending ? t('migrate.preflight.running') : null;
  let formBody: ReactNode;
  if (environmentsState === 'loading') formBody = <Spinner label={t('app.loading')} />;
  else if (typeof environmentsState === 'object') formBody = <ApiErrorAlert error={environmentsState.error} />;
  else if (environments.length === 0) {
    formBody = (
      <Alert kind="warning" testId={testIds.migrate.noPermission}>
        {t('migrate.noPermission')}
      </Alert>
    );
  } else {
    formBody = (
      <Form label={t('migrate.formLabel')} testId={testIds.migrate.form} onSubmit={() => canSubmit && begin.mutate()}>
        <MigrationModeFields
          value={modeChoices}
          onChange={(patch) => setModeChoices((c) => ({ ...c, ...patch }))}
          intervalId={fieldIds.interval}
          intervalError={intervalError}
          nitro={nitroReady(preflight.data?.checks)}
          t={t}
        />
        <SelectField
          label={t('migrate.os')}
          testId={testIds.migrate.os}
          value={platform}
          onChange={(v) => set({ platform: v as GuestPlatform })}
          options={[
            { value: 'Linux', label: t('migrate.os.linux') },
            { value: 'Windows', label: t('migrate.os.windows') },
          ]}
          help={t('migrate.os.help', { guest: vm.guestFullName })}
        />
        <TargetFields target={target} ids={fieldIds} onEnvironmentChanged={() => setAdvanced(null)} t={t} />
        <InputField
          label={t('migrate.privateIp')}
          testId={testIds.migrate.privateIp}
          id={fieldIds.privateIp}
          value={choices.privateIp}
          disabled={!subnetId}
          inputMode="decimal"
          autoComplete="off"
          onChange={(v) => set({ privateIp: v })}
          placeholder={t('migrate.privateIp.placeholder')}
          help={subnet ? t('migrate.privateIp.help', { cidr: subnet.cidrBlock }) : t('migrate.privateIp.placeholder')}
          error={ipError}
        />
        {env && adv && (
          <AdvancedOptions
            env={env}
            platform={platform}
            value={adv}
            onChange={setAdv}
            keys={{ keys: kmsKeys.data?.keys, loading: kmsKeys.isLoading }}
            firmware={preflight.data?.firmware}
            checks={preflight.data?.checks ?? []}
            // A problem inside keeps the section open, so the footer's link can take the user to it.
            open={advancedOpen || advancedProblem !== undefined}
            onToggle={setAdvancedOpen}
            idPrefix={`${fid}adv`}
            t={t}
          />
        )}
        {kmsKeys.isError && <ApiErrorAlert error={kmsKeys.error} />}
        <section aria-labelledby="vsp-preflight" aria-live="polite">
          <h4 id="vsp-preflight">{t('migrate.preflight.title')}</h4>
          {!envReady && <p className="vsp-muted">{t('migrate.preflight.chooseEnvironment')}</p>}
          {envReady && preflight.isPending && <Spinner label={t('migrate.preflight.running')} />}
          {preflight.isError && <ApiErrorAlert error={preflight.error} />}
          {preflight.data && (
            <>
              {preflight.isFetching && <Spinner label={t('migrate.preflight.running')} />}
              {preflight.data.checks.length === 0 ? (
                <Alert kind="success" compact testId={testIds.migrate.check('ok')}>
                  {t('migrate.preflight.allPassed')}
                </Alert>
              ) : (
                <PreflightChecks checks={preflight.data.checks} />
              )}
            </>
          )}
        </section>
        {beginError?.code === 'CONNECTOR_UPDATING' ? (
          <Alert kind="warning" testId={testIds.migrate.updating}>
            {t('migrate.updating')}
          </Alert>
        ) : (
          begin.isError && <ApiErrorAlert error={begin.error} />
        )}
      </Form>
    );
  }

  return (
    <div className="vsp-modal" data-test={testIds.migrate.page}>
      <div className="vsp-modal-body">
        {summary}
        {formBody}
      </div>
      <div className="vsp-modal-footer">
        {environments.length > 0 && waitingFor && !begin.isPending && (
          <span id="vsp-begin-why" className={(shownProblem ? typedProblem : blocked) ? 'vsp-footer-note vsp-subtext-error' : 'vsp-footer-note vsp-muted'}>
            {shownProblem ? <ProblemLink problem={shownProblem} testId={testIds.migrate.firstProblem} /> : waitingFor}
          </span>
        )}
        {closeButton}
        {environments.length > 0 && (
          <Button variant="primary" testId={testIds.migrate.begin} disabled={!canSubmit} aria-describedby={waitingFor ? 'vsp-begin-why' : undefined} onClick={() => begin.mutate()}>
            {begin.isPending ? t('migrate.begin.pending') : t('migrate.begin')}
          </Button>
        )}
      </div>
    </div>
  );
}
