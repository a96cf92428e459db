// Where the instance goes: region → environment → subnet / instance type / security group, as the seed's form asks.
// Shared by the single-VM form and the wave form (issue 14), so both offer the same choices with the same rules.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { BootMode, Environment, Subnet } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import type { Translate } from '../../i18n/migrate.ts';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { SelectField } from '../../kit/Form.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';
import { environmentQueries, regionQueries } from './migrate.queries.ts';

export interface TargetChoices {
  region: string;
  environmentId: string;
  subnetId: string;
  instanceType: string;
  securityGroupId: string;
}

const empty: TargetChoices = { region: '', environmentId: '', subnetId: '', instanceType: '', securityGroupId: '' };

/** The environments the user may migrate into: General or Owner, and set up with a VPC. */
export function migratableEnvironments(environments: Environment[]): Environment[] {
  return environments.filter((e) => (e.myRole === 'General' || e.myRole === 'Owner') && e.vpcId !== null);
}

/** The only option when there is exactly one, else the user's choice if still offered. */
export function pick(chosen: string, offered: string[]): string {
  if (offered.includes(chosen)) return chosen;
  return offered.length === 1 ? offered[0]! : '';
}

/** The target choices with what each depends on resolved; `bootMode` uefi offers only the types that boot UEFI. */
export function useTargetChoices(environments: Environment[], bootMode: BootMode | undefined) {
  const api = useApi();
  const [choices, setChoices] = useState<TargetChoices>(empty);
  const regions = useQuery(regionQueries.list(api));
  const regionNames = [...new Set(environments.map((e) => e.region))].sort();
  const region = pick(choices.region, regionNames);
  const envsInRegion = environments.filter((e) => e.region === region);
  const environmentId = pick(choices.environmentId, envsInRegion.map((e) => e.id));
  const envReady = environmentId !== '';
  const env = envsInRegion.find((e) => e.id === environmentId);
  const subnets = useQuery({ ...environmentQueries.subnets(api, environmentId), enabled: envReady });
  const groups = useQuery({ ...environmentQueries.securityGroups(api, environmentId), enabled: envReady });
  const types = useQuery({ ...environmentQueries.instanceTypes(api, environmentId, bootMode === 'uefi' ? 'uefi' : undefined), enabled: envReady });
  const subnetList = subnets.data?.subnets ?? [];
  const subnetId = pick(choices.subnetId, subnetList.map((s) => s.id));
  const subnet: Subnet | undefined = subnetList.find((s) => s.id === subnetId);
  const instanceType = pick(choices.instanceType, types.data?.instanceTypes.map((i) => i.name) ?? []);
  const securityGroupId = pick(choices.securityGroupId, groups.data?.securityGroups.map((g) => g.id) ?? []);
  return {
    choices,
    set: (patch: Partial<TargetChoices>) => setChoices((c) => ({ ...c, ...patch })),
    regions,
    regionNames,
    region,
    envsInRegion,
    environmentId,
    envReady,
    env,
    subnets,
    subnetList,
    subnetId,
    subnet,
    groups,
    types,
    instanceType,
    securityGroupId,
    complete: envReady && subnetId !== '' && instanceType !== '' && securityGroupId !== '',
  };
}
export type Target = ReturnType<typeof useTargetChoices>;

export interface TargetFieldIds {
  region: string;
  environment: string;
  subnet: string;
  instanceType: string;
  securityGroup: string;
}

interface Props {
  target: Target;
  ids: TargetFieldIds;
  /** Region or environment changed: choices tied to the old environment (Advanced) start over. */
  onEnvironmentChanged?: () => void;
  t: Translate;
}

/** The five selects, in the seed's order; a choice upstream clears the choices that depended on it. */
export function TargetFields({ target: g, ids, onEnvironmentChanged, t }: Props) {
  const regionLabel = (name: string) => {
    const r = g.regions.data?.regions.find((x) => x.name === name);
    return r && r.displayName !== name ? `${r.displayName} (${name})` : name;
  };
  // Listed from the chosen environment: off until there is one, "Loading…" while its list loads.
  const fromEnvironment = [
    {
      field: 'subnet',
      choice: 'subnetId',
      list: g.subnets,
      value: g.subnetId,
      options: g.subnetList.map((s) => ({
        value: s.id,
        label: t('migrate.subnet.option', { name: s.name ?? s.id, cidr: s.cidrBlock, free: s.availableIpAddressCount, az: s.availabilityZone }),
      })),
      help: undefined,
    },
    {
      field: 'instanceType',
      choice: 'instanceType',
      list: g.types,
      value: g.instanceType,
      options: (g.types.data?.instanceTypes ?? []).map((i) => ({ value: i.name, label: i.name })),
      help: undefined,
    },
    {
      field: 'securityGroup',
      choice: 'securityGroupId',
      list: g.groups,
      value: g.securityGroupId,
      options: (g.groups.data?.securityGroups ?? []).map((gr) => ({ value: gr.id, label: `${gr.name} (${gr.id})` })),
      help: t('migrate.securityGroup.help'),
    },
  ] as const;
  return (
    <>
      <SelectField
        label={t('migrate.region')}
        testId={testIds.migrate.region}
        id={ids.region}
        value={g.region}
        placeholder={t('migrate.choose')}
        onChange={(v) => {
          g.set({ region: v, environmentId: '', subnetId: '', instanceType: '', securityGroupId: '' });
          onEnvironmentChanged?.();
        }}
        options={g.regionNames.map((r) => ({ value: r, label: regionLabel(r) }))}
      />
      <SelectField
        label={t('migrate.environment')}
        testId={testIds.migrate.environment}
        id={ids.environment}
        value={g.environmentId}
        placeholder={t('migrate.choose')}
        disabled={!g.region}
        onChange={(v) => {
          g.set({ environmentId: v, subnetId: '', instanceType: '', securityGroupId: '' });
          onEnvironmentChanged?.();
        }}
        options={g.envsInRegion.map((e) => ({ value: e.id, label: e.name }))}
        help={t('migrate.environment.help')}
      />
      {g.envReady && (g.subnets.isError || g.groups.isError || g.types.isError) && <ApiErrorAlert error={g.subnets.error ?? g.groups.error ?? g.types.error} />}
      {fromEnvironment.map((c) => (
        <SelectField
          key={c.field}
          label={t(`migrate.${c.field}`)}
          testId={testIds.migrate[c.field]}
          id={ids[c.field]}
          value={c.value}
          placeholder={c.list.isLoading ? t('app.loading') : t('migrate.choose')}
          disabled={!g.envReady || c.list.isLoading}
          onChange={(v) => g.set({ [c.choice]: v })}
          options={c.options}
          help={c.help}
        />
      ))}
    </>
  );
}
