// "Bring back to vCenter" (issue 16): a completed export's OVA (or an imported instance, exported first by the task) imported as a new VM, chosen in the vSphere Client's
// terms (Deploy OVF Template's name and folder, compute resource, storage, disk format, networks). The server's
// pre-flight runs as the choices change and shows every blocker at once, each under the field it belongs to.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { VmNameInput, type ExportTask, type ReturnCheck, type ReturnChoices, type ReturnRequestInput, type ReturnSourceRef } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { formatBytes, useT, type Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Checkbox, Form, InputField, SelectField, type SelectOption } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { returnQueries } from './return.queries.ts';

type Field = 'name' | 'folder' | 'compute' | 'datastore' | 'network' | 'general';

/** The field a pre-flight check is about, so it shows where the user chooses. */
function fieldOf(c: ReturnCheck, folderName?: string): Field {
  switch (c.code) {
    case 'NAME_TAKEN':
      return 'name';
    case 'DATASTORE_SPACE':
    case 'DATASTORE_INACCESSIBLE':
      return 'datastore';
    case 'NETWORK_NOT_FOUND':
    case 'NETWORK_NOT_MAPPED':
      return 'network';
    case 'PRIVILEGE_MISSING':
      // vApp > Import is needed on both the folder and the compute resource's pool: the entity says which.
      return c.privilege === 'Datastore.AllocateSpace' ? 'datastore' : c.privilege === 'Network.Assign' ? 'network' : c.entity !== undefined && c.entity === folderName ? 'folder' : 'compute';
    case 'TARGET_NOT_FOUND':
      return /folder/.test(c.message) ? 'folder' : /datastore/.test(c.message) ? 'datastore' : 'compute';
    default:
      return 'general';
  }
}

const refKey = (r: { type?: string; id: string }) => (r.type ? `${r.type}:${r.id}` : r.id);
const splitKey = <T extends string>(key: string) => {
  const i = key.indexOf(':');
  return { type: key.slice(0, i) as T, id: key.slice(i + 1) };
};

/** One option per choice; what the user may not use is listed, disabled, saying why. */
function options<C extends { id: string; name: string; path: string; mayUse: boolean; type?: string }>(list: C[], t: Translate, label: (c: C) => string = (c) => (c.path ? `${c.path} / ${c.name}` : c.name), extra?: (c: C) => string | undefined): SelectOption[] {
  return list.map((c) => {
    const why = extra?.(c);
    return {
      value: refKey(c),
      label: why ?? (c.mayUse ? label(c) : t('return.notPermitted', { label: label(c) })),
      disabled: !c.mayUse || why !== undefined,
    };
  });
}

/** Debounced: the pre-flight asks vCenter and S3, so not on every keystroke. */
function useSettled<T>(value: T, ms = 400): T {
  const [settled, setSettled] = useState(value);
  const json = JSON.stringify(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(JSON.parse(json) as T), ms);
    return () => clearTimeout(timer);
  }, [json, ms]);
  return settled;
}

function initial(c: ReturnChoices) {
  const usable = <X extends { mayUse: boolean }>(l: X[]) => l.find((x) => x.mayUse);
  const networks: Record<string, string> = {};
  for (const s of c.sourceNetworks) {
    // As the vSphere Client does: a destination network of the same name, else the first one the user may use.
    const same = c.networks.find((n) => n.name === s && n.mayUse) ?? usable(c.networks);
    networks[s] = same ? refKey(same) : '';
  }
  const folder = usable(c.folders);
  const compute = usable(c.computeResources);
  const ds = c.datastores.find((d) => d.mayUse && d.accessible);
  return { name: c.suggestedName, folder: folder?.id ?? '', compute: compute ? refKey(compute) : '', datastore: ds?.id ?? '', networks };
}

/** What the form brings back: a completed export's OVA, or an imported instance the task exports first. */
export type ReturnFormSource = { exp: ExportTask; instance?: undefined } | { exp?: undefined; instance: { instanceId: string; environmentId: string } };

export function ReturnForm(props: ReturnFormSource & { onClose: () => void }) {
  const { onClose } = props;
  const api = useApi();
  const t = useT();
  const source: ReturnSourceRef = props.exp !== undefined ? { exportId: props.exp.id } : { instanceId: props.instance.instanceId, environmentId: props.instance.environmentId };
  const choices = useQuery(returnQueries.choices(api, source));
  return (
    <div className="vsp-inline-dialog" role="dialog" aria-label={t('return.title')} data-test={testIds.returns.form}>
      <h4>{t('return.title')}</h4>
      <p className="vsp-muted">{props.exp !== undefined ? t('return.intro', { id: props.exp.exportTaskId, instance: props.exp.instanceId }) : t('return.intro.instance', { instance: props.instance.instanceId })}</p>
      {choices.isPending && <Spinner label={t('return.loading')} />}
      {choices.isError && (
        <>
          <ApiErrorAlert error={choices.error} />
          <Button onClick={onClose}>{t('common.close')}</Button>
        </>
      )}
      {choices.data && <ReturnFields source={source} choices={choices.data} onClose={onClose} />}
    </div>
  );
}

function ReturnFields({ source, choices, onClose }: { source: ReturnSourceRef; choices: ReturnChoices; onClose: () => void }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const start = useMemo(() => initial(choices), [choices]);
  const [name, setName] = useState(start.name);
  const [folder, setFolder] = useState(start.folder);
  const [compute, setCompute] = useState(start.compute);
  const [datastore, setDatastore] = useState(start.datastore);
  const [networks, setNetworks] = useState(start.networks);
  const [provisioning, setProvisioning] = useState<'thin' | 'thick'>('thin');
  const [powerOn, setPowerOn] = useState(false);

  const nameCheck = VmNameInput.safeParse(name);
  const nameError = nameCheck.success ? undefined : nameCheck.error.issues[0]?.message;
  const complete = nameCheck.success && folder !== '' && compute !== '' && datastore !== '' && choices.sourceNetworks.every((s) => networks[s]);
  const body: ReturnRequestInput | undefined = complete
    ? {
        ...source,
        name: nameCheck.data,
        folderId: folder,
        computeResource: splitKey<'ClusterComputeResource' | 'HostSystem' | 'ResourcePool'>(compute),
        datastoreId: datastore,
        networkMappings: choices.sourceNetworks.map((s) => ({ sourceNetwork: s, network: splitKey<'Network' | 'DistributedVirtualPortgroup'>(networks[s]!) })),
        diskProvisioning: provisioning,
        powerOn,
      }
    : undefined;
  const settled = useSettled(body);
  const checking = JSON.stringify(settled) !== JSON.stringify(body);
  const preflight = useQuery({ ...returnQueries.preflight(api, settled), enabled: settled !== undefined });
  const blockers = (preflight.data?.checks ?? []).filter((c) => c.severity === 'blocker');
  const folderName = choices.folders.find((f) => f.id === folder)?.name;
  const fieldOfCheck = (c: ReturnCheck) => fieldOf(c, folderName);
  const errorOf = (f: Field) => blockers.find((c) => fieldOfCheck(c) === f)?.message;

  const run = useMutation({
    mutationFn: (b: ReturnRequestInput) => api.startReturn(b),
    onSuccess: () => qc.invalidateQueries({ queryKey: returnQueries.all() }),
  });
  if (run.isSuccess) {
    return (
      <>
        <Alert kind="success" testId={testIds.returns.started}>
          {t(source.exportId ? 'return.started' : 'return.started.instance', { name: run.data.name })}
        </Alert>
        <Button onClick={onClose}>{t('common.close')}</Button>
      </>
    );
  }
  const ready = body !== undefined && !checking && preflight.isSuccess && !preflight.isFetching && blockers.length === 0;
  const fieldLabel: Record<Field, string> = {
    name: t('return.name'),
    folder: t('return.folder'),
    compute: t('return.compute'),
    datastore: t('return.datastore'),
    network: t('return.networks'),
    general: '',
  };
  const space = (d: ReturnChoices['datastores'][number]) => t('return.datastore.option', { name: d.name, free: formatBytes(d.freeBytes), capacity: formatBytes(d.capacityBytes) });

  return (
    <Form label={t('return.title')} onSubmit={() => ready && run.mutate(body)}>
      <InputField label={t('return.name')} testId={testIds.returns.name} value={name} onChange={setName} maxLength={80} autoComplete="off" spellCheck={false} error={nameError ?? errorOf('name')} help={t('return.name.help')} />
      <SelectField label={t('return.folder')} testId={testIds.returns.folder} value={folder} onChange={setFolder} placeholder={t('return.choose')} options={options(choices.folders, t, (f) => f.path)} error={errorOf('folder')} />
      <SelectField
        label={t('return.compute')}
        testId={testIds.returns.compute}
        value={compute}
        onChange={setCompute}
        placeholder={t('return.choose')}
        options={options(choices.computeResources, t, (c) => `${t(`return.compute.${c.type}`)}: ${c.path ? `${c.path} / ` : ''}${c.name}`)}
        error={errorOf('compute')}
        help={t('return.compute.help')}
      />
      <SelectField
        label={t('return.datastore')}
        testId={testIds.returns.datastore}
        value={datastore}
        onChange={setDatastore}
        placeholder={t('return.choose')}
        options={options(choices.datastores, t, space, (d) => (d.accessible ? undefined : t('return.inaccessible', { label: d.name })))}
        error={errorOf('datastore')}
        help={t('return.datastore.help', { size: formatBytes(choices.diskCapacityBytes) })}
      />
      <fieldset className="vsp-fieldset">
        <legend className="clr-control-label">{t('return.networks')}</legend>
        {choices.sourceNetworks.length === 0 && <p className="vsp-muted">{t('return.networks.none')}</p>}
        {choices.sourceNetworks.map((s, i) => (
          <SelectField
            key={s}
            label={t('return.networks.destination', { source: s })}
            testId={testIds.returns.network(s)}
            value={networks[s] ?? ''}
            onChange={(v) => setNetworks((m) => ({ ...m, [s]: v }))}
            placeholder={t('return.choose')}
            options={options(choices.networks, t, (n) => n.name)}
            error={i === 0 ? errorOf('network') : undefined}
          />
        ))}
      </fieldset>
      <div className="clr-form-control" role="radiogroup" aria-label={t('return.provisioning')}>
        <span className="clr-control-label">{t('return.provisioning')}</span>
        <div className="clr-control-container">
          {(['thin', 'thick'] as const).map((p) => (
            <div className="clr-radio-wrapper" key={p}>
              <input type="radio" id={`return-prov-${p}`} name="return-provisioning" data-test={testIds.returns.provisioning(p)} checked={provisioning === p} onChange={() => setProvisioning(p)} />
              <label htmlFor={`return-prov-${p}`} className="clr-control-label">
                {t(`return.provisioning.${p}`)}
              </label>
            </div>
          ))}
        </div>
      </div>
      <Checkbox label={t('return.powerOn')} checked={powerOn} onChange={setPowerOn} testId={testIds.returns.powerOn} />

      <div aria-live="polite">
        {body === undefined ? (
          <p className="vsp-muted">{t('return.chooseAll')}</p>
        ) : checking || preflight.isFetching ? (
          <Spinner label={t('return.checking')} />
        ) : preflight.isError ? (
          <ApiErrorAlert error={preflight.error} />
        ) : blockers.length ? (
          <ul className="vsp-checks" aria-label={t('migrate.preflight.title')} data-test={testIds.returns.checks}>
            {blockers.map((c) => (
              <li key={`${c.code}-${c.message}`} data-test={testIds.returns.check(c.code)}>
                <Alert kind="danger" compact>
                  <strong>{t('migrate.preflight.blocker')}</strong> {fieldOfCheck(c) !== 'general' && <>{fieldLabel[fieldOfCheck(c)]}: </>}
                  {c.message}
                </Alert>
              </li>
            ))}
          </ul>
        ) : (
          preflight.isSuccess && <p className="vsp-muted" data-test={testIds.returns.checks}>{t('return.checksPassed')}</p>
        )}
      </div>
      {run.isError && <ApiErrorAlert error={run.error} />}
      <div className="vsp-toolbar">
        <Button variant="primary" type="submit" testId={testIds.returns.submit} disabled={!ready || run.isPending}>
          {run.isPending ? t('return.submitting') : t('return.submit')}
        </Button>
        <Button onClick={onClose}>{t('common.cancel')}</Button>
      </div>
    </Form>
  );
}
