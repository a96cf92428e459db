import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState, type ReactNode } from 'react';
import type { BootMode, Environment, GuestPlatform, PreflightQuery, VmDetail } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { toApiError } from '../../api/errors.ts';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Form, InputField, ProblemLink, SelectField, type FieldProblem } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { AdvancedOptions, keyProblem } from './AdvancedOptions.tsx';
import { choicesFromDefaults, importOptionsOf, type AdvancedChoices } from './importOptions.ts';
import { firstTagProblem } from './TagsEditor.tsx';
import { defaultModeChoices, intervalProblem, MigrationModeFields, modePreflightFields, modeRequestFields, nitroReady, type ModeChoices } from './MigrationModeFields.tsx';
import { PreflightChecks } from './PreflightChecks.tsx';
import { environmentQueries, regionQueries, vmQueries } from './migrate.queries.ts';
import { platformFromGuestId, privateIpProblem } from './privateIp.ts';

interface Choices {
  platform: GuestPlatform | '';
  region: string;
  environmentId: string;
  subnetId: string;
  instanceType: string;
  securityGroupId: string;
  privateIp: string;
}

const empty: Choices = { platform: '', region: '', environmentId: '', subnetId: '', instanceType: '', securityGroupId: '', privateIp: '' };

/** The only option when there is exactly one, else the user's choice if still offered. */
function pick(chosen: string, offered: string[]): string {
  if (offered.includes(chosen)) return chosen;
  return offered.length === 1 ? offered[0]! : '';
}

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

  const regions = useQuery(regionQueries.list(api));
  const regionNames = [...new Set(environments.map((e) => e.region))].sort();
  const region = pick(choices.region, regionNames);
  const envsInRegion = environments.filter((e) => e.region === region);
  const environmentId = pick(choices.environmentId, envsInRegion.map((e) => e.id));
  const envReady = environmentId !== '';
  const env = envsInRegion.find((e) => e.id === environmentId);
  const adv = env ? (advanced?.envId === env.id ? advanced.c : choicesFromDefaults(env.importDefaults)) : undefined;
  const setAdv = (patch: Partial<AdvancedChoices>) => adv && env && setAdvanced({ envId: env.id, c: { ...adv, ...patch } });
  const kmsKeys = useQuery({ ...environmentQueries.kmsKeys(api, environmentId), enabled: envReady && adv?.encrypted === true });
  const importOptions = env && adv ? importOptionsOf(adv, env.importDefaults) : undefined;

  const subnets = useQuery({ ...environmentQueries.subnets(api, environmentId), enabled: envReady });
  const groups = useQuery({ ...environmentQueries.securityGroups(api, environmentId), enabled: envReady });
  const types = useQuery({ ...environmentQueries.instanceTypes(api, environmentId, bootMode === 'uefi' ? 'uefi' : undefined), enabled: envReady });

  const subnetList = subnets.data?.subnets ?? [];
  const subnetId = pick(choices.subnetId, subnetList.map((s) => s.id));
  const subnet = subnetList.find((s) => s.id === subnetId);
  const instanceType = pick(choices.instanceType, types.data?.instanceTypes.map((i) => i.name) ?? []);
  const securityGroupId = pick(choices.securityGroupId, groups.data?.securityGroups.map((g) => g.id) ?? []);
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
  const intervalError = warm ? intervalProblem(modeChoices.interval, t) : undefined;
  const ipError = ipProblem ? t(ipProblem, { cidr: subnet?.cidrBlock ?? '', ip: privateIp }) : undefined;
  const tagProblem = adv ? firstTagProblem(adv.tags, `${fid}adv-tag`) : undefined;
  const kmsProblem = adv && env ? keyProblem(adv, env, kmsKeys.data?.keys) : undefined;
  const advancedProblem: FieldProblem | undefined = tagProblem
    ? { fieldId: tagProblem.fieldId, text: t('migrate.problem', { label: t('migrate.tags.problem', { n: tagProblem.n }), problem: tagProblem.problem }) }
    : kmsProblem
      ? { fieldId: `${fid}adv-kms`, text: t('migrate.problem', { label: t('migrate.kmsKey.short'), problem: t('migrate.kmsKey.problem', kmsProblem) }) }
      : undefined;
  const complete =
    envReady && subnetId !== '' && instanceType !== '' && securityGroupId !== '' && ipProblem === null && intervalError === undefined && advancedProblem === undefined;
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
  const canSubmit = complete && checksCurrent && preflight.data.ready && !preflight.isFetching && !begin.isPending;

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
  const waitingFor = shownProblem ? shownProblem.text : blocked ? t('migrate.begin.blocked') : !complete ? t('migrate.begin.incomplete') : !checksCurrent || preflight.isFetching ? t('migrate.preflight.running') : null;
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
    const regionLabel = (name: string) => {
      const r = regions.data?.regions.find((x) => x.name === name);
      return r && r.displayName !== name ? `${r.displayName} (${name})` : name;
    };
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
        <SelectField
          label={t('migrate.region')}
          testId={testIds.migrate.region}
          id={fieldIds.region}
          value={region}
          placeholder={t('migrate.choose')}
          onChange={(v) => {
            set({ region: v, environmentId: '', subnetId: '', instanceType: '', securityGroupId: '' });
            setAdvanced(null);
          }}
          options={regionNames.map((r) => ({ value: r, label: regionLabel(r) }))}
        />
        <SelectField
          label={t('migrate.environment')}
          testId={testIds.migrate.environment}
          id={fieldIds.environment}
          value={environmentId}
          placeholder={t('migrate.choose')}
          disabled={!region}
          onChange={(v) => {
            set({ environmentId: v, subnetId: '', instanceType: '', securityGroupId: '' });
            setAdvanced(null);
          }}
          options={envsInRegion.map((e) => ({ value: e.id, label: e.name }))}
          help={t('migrate.environment.help')}
        />
        {envReady && (subnets.isError || groups.isError || types.isError) && <ApiErrorAlert error={subnets.error ?? groups.error ?? types.error} />}
        <SelectField
          label={t('migrate.subnet')}
          testId={testIds.migrate.subnet}
          id={fieldIds.subnet}
          value={subnetId}
          placeholder={subnets.isLoading ? t('app.loading') : t('migrate.choose')}
          disabled={!envReady || subnets.isLoading}
          onChange={(v) => set({ subnetId: v })}
          options={subnetList.map((s) => ({
            value: s.id,
            label: t('migrate.subnet.option', { name: s.name ?? s.id, cidr: s.cidrBlock, free: s.availableIpAddressCount, az: s.availabilityZone }),
          }))}
        />
        <SelectField
          label={t('migrate.instanceType')}
          testId={testIds.migrate.instanceType}
          id={fieldIds.instanceType}
          value={instanceType}
          placeholder={types.isLoading ? t('app.loading') : t('migrate.choose')}
          disabled={!envReady || types.isLoading}
          onChange={(v) => set({ instanceType: v })}
          options={(types.data?.instanceTypes ?? []).map((i) => ({ value: i.name, label: i.name }))}
        />
        <SelectField
          label={t('migrate.securityGroup')}
          testId={testIds.migrate.securityGroup}
          id={fieldIds.securityGroup}
          value={securityGroupId}
          placeholder={groups.isLoading ? t('app.loading') : t('migrate.choose')}
          disabled={!envReady || groups.isLoading}
          onChange={(v) => set({ securityGroupId: v })}
          options={(groups.data?.securityGroups ?? []).map((g) => ({ value: g.id, label: `${g.name} (${g.id})` }))}
          help={t('migrate.securityGroup.help')}
        />
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
