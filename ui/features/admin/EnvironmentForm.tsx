import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import type { Environment, EnvironmentInput } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Checkbox, Field, Form, InputField, SelectField } from '../../kit/Form.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries, regionQueries } from '../migrate/migrate.queries.ts';
import { tagProblems } from '../migrate/formRules.ts';
import { newTagRow, tagsOf, type TagRow } from '../migrate/importOptions.ts';
import { awsLookupQueries } from './admin.queries.ts';
import { ImportDefaultsFields } from './ImportDefaultsFields.tsx';

function toggle(list: string[], id: string, on: boolean): string[] {
  return on ? [...new Set([...list, id])] : list.filter((x) => x !== id);
}

/** Create or edit an environment: name, region, VPC, and the subnets and security groups users may choose. */
export function EnvironmentForm({ editing, onDone }: { editing: Environment | null; onDone: (env: Environment) => void }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const [draft, setDraft] = useState<EnvironmentInput>(() => ({
    name: editing?.name ?? '',
    description: editing?.description ?? '',
    region: editing?.region ?? '',
    vpcId: editing?.vpcId ?? '',
    subnetIds: editing?.subnetIds ?? [],
    securityGroupIds: editing?.securityGroupIds ?? [],
    instanceTypes: editing?.instanceTypes ?? [],
    importDefaults: editing?.importDefaults ?? { licenseType: 'AWS', encryption: { encrypted: false }, tags: [] },
  }));
  const set = (patch: Partial<EnvironmentInput>) => setDraft((d) => ({ ...d, ...patch }));
  // Default tags as typed; checked as the migration form checks them, sent when saved.
  const [tagRows, setTagRows] = useState<TagRow[]>(() => (editing?.importDefaults.tags ?? []).map((x) => newTagRow(x.key, x.value)));
  const tagsOk = (() => {
    const p = tagProblems(tagRows);
    return p.rows.size === 0 && p.list === undefined;
  })();
  const fid = useId();
  const regions = useQuery(regionQueries.list(api));
  const vpcs = useQuery({ ...awsLookupQueries.vpcs(api, draft.region), enabled: draft.region !== '' });
  const hasVpc = draft.region !== '' && draft.vpcId !== '';
  const subnets = useQuery({ ...awsLookupQueries.subnets(api, draft.region, draft.vpcId), enabled: hasVpc });
  const groups = useQuery({ ...awsLookupQueries.securityGroups(api, draft.region, draft.vpcId), enabled: hasVpc });
  const save = useMutation({
    mutationFn: () => {
      const body: EnvironmentInput = { ...draft, importDefaults: { ...draft.importDefaults, tags: tagsOf(tagRows) } };
      return editing ? api.updateEnvironment(editing.id, body) : api.createEnvironment(body);
    },
    onSuccess: async (env) => {
      await qc.invalidateQueries({ queryKey: environmentQueries.all() });
      onDone(env);
    },
  });
  const valid = draft.name.trim() !== '' && hasVpc && draft.subnetIds.length > 0 && draft.securityGroupIds.length > 0 && tagsOk;
  return (
    <div className="vsp-inline-dialog">
      <h4>{editing ? t('admin.env.editing', { name: editing.name }) : t('admin.env.creating')}</h4>
      <Form label={t('admin.env.creating')} testId={testIds.admin.envForm} onSubmit={() => valid && save.mutate()}>
        <InputField label={t('admin.env.name')} testId={testIds.admin.envName} value={draft.name} maxLength={64} onChange={(name) => set({ name })} />
        <InputField
          label={t('admin.env.description')}
          testId={testIds.admin.envDescription}
          value={draft.description}
          maxLength={500}
          onChange={(description) => set({ description })}
        />
        <SelectField
          label={t('admin.env.region')}
          testId={testIds.admin.envRegion}
          value={draft.region}
          placeholder={t('migrate.choose')}
          onChange={(region) => set({ region, vpcId: '', subnetIds: [], securityGroupIds: [] })}
          options={(regions.data?.regions ?? []).map((r) => ({ value: r.name, label: `${r.displayName} (${r.name})` }))}
        />
        <SelectField
          label={t('admin.env.vpc')}
          testId={testIds.admin.envVpc}
          value={draft.vpcId}
          placeholder={vpcs.isLoading ? t('app.loading') : t('migrate.choose')}
          disabled={!draft.region}
          onChange={(vpcId) => set({ vpcId, subnetIds: [], securityGroupIds: [] })}
          options={(vpcs.data?.vpcs ?? []).map((v) => ({ value: v.id, label: `${v.name ?? v.id} · ${v.cidrBlock}${v.isDefault ? ' (default)' : ''}` }))}
        />
        <Field label={t('admin.env.subnets')}>
          {() => (
            <div data-test={testIds.admin.envSubnets}>
              {(subnets.data?.subnets ?? []).map((s) => (
                <Checkbox
                  key={s.id}
                  label={t('migrate.subnet.option', { name: s.name ?? s.id, cidr: s.cidrBlock, free: s.availableIpAddressCount, az: s.availabilityZone })}
                  checked={draft.subnetIds.includes(s.id)}
                  onChange={(on) => set({ subnetIds: toggle(draft.subnetIds, s.id, on) })}
                />
              ))}
            </div>
          )}
        </Field>
        <Field label={t('admin.env.securityGroups')}>
          {() => (
            <div data-test={testIds.admin.envGroups}>
              {(groups.data?.securityGroups ?? []).map((g) => (
                <Checkbox
                  key={g.id}
                  label={`${g.name} (${g.id})`}
                  checked={draft.securityGroupIds.includes(g.id)}
                  onChange={(on) => set({ securityGroupIds: toggle(draft.securityGroupIds, g.id, on) })}
                />
              ))}
            </div>
          )}
        </Field>
        <ImportDefaultsFields
          value={draft.importDefaults}
          onChange={(patch) => set({ importDefaults: { ...draft.importDefaults, ...patch } })}
          tagRows={tagRows}
          onTagRows={setTagRows}
          // Keys are listed per saved environment (its region): a new one, or one moving region, is saved first.
          keysFor={editing && editing.region === draft.region ? editing.id : null}
          noKeysNote={t(editing ? 'admin.env.kmsKey.regionChanged' : 'admin.env.kmsKey.saveFirst')}
          idPrefix={`${fid}defaults`}
        />
        {(vpcs.isError || subnets.isError || groups.isError) && <ApiErrorAlert error={vpcs.error ?? subnets.error ?? groups.error} />}
        {save.isError && <ApiErrorAlert error={save.error} />}
        <div className="vsp-toolbar">
          <Button variant="primary" type="submit" testId={testIds.admin.envSave} disabled={!valid || save.isPending}>
            {editing ? t('admin.env.update') : t('admin.env.create')}
          </Button>
        </div>
      </Form>
    </div>
  );
}
