import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { BandwidthSettingView } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Form, InputField, RadioGroup, SelectField } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { fleetQueries, toUserTime } from './fleet.queries.ts';

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const CAP = /^[1-9]\d{0,5}$/;
const capOk = (s: string) => CAP.test(s.trim()) && Number(s) <= 100_000;

interface WindowRow {
  from: string;
  to: string;
  cap: string;
}

/** Administration → Bandwidth: a connector's cap (MB/s or unlimited) and its daily schedule. */
export function BandwidthPanel() {
  const api = useApi();
  const t = useT();
  const fleet = useQuery(fleetQueries.connectors(api));
  const [picked, setPicked] = useState<string | null>(null);
  if (fleet.isPending) return <Spinner label={t('app.loading')} />;
  if (fleet.isError && !fleet.data) return <ApiErrorAlert error={fleet.error} />;
  const connectors = fleet.data.connectors;
  const id = picked ?? connectors.find((c) => c.self)?.id ?? connectors[0]?.id;
  return (
    <div data-test={testIds.fleet.bandwidthPanel}>
      <p className="vsp-muted">{t('bandwidth.intro')}</p>
      <SelectField
        label={t('bandwidth.connector')}
        testId={testIds.fleet.bandwidthConnector}
        value={id ?? ''}
        onChange={setPicked}
        options={connectors.map((c) => ({ value: c.id, label: c.self ? t('fleet.thisOne', { id: c.id }) : c.id }))}
      />
      {id && <ConnectorBandwidth key={id} connectorId={id} />}
    </div>
  );
}

function ConnectorBandwidth({ connectorId }: { connectorId: string }) {
  const api = useApi();
  const t = useT();
  const setting = useQuery(fleetQueries.bandwidth(api, connectorId));
  if (setting.isPending) return <Spinner label={t('app.loading')} />;
  if (setting.isError) return <ApiErrorAlert error={setting.error} />;
  // Not keyed by the setting: a save must not remount the form and lose its "Saved" note.
  return <BandwidthForm view={setting.data} />;
}

function BandwidthForm({ view }: { view: BandwidthSettingView }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const [mode, setMode] = useState(view.capMBps === null ? 'unlimited' : 'capped');
  const [cap, setCap] = useState(view.capMBps === null ? '' : String(view.capMBps));
  const [windows, setWindows] = useState<WindowRow[]>(view.schedule.map((w) => ({ from: w.from, to: w.to, cap: w.capMBps === null ? '' : String(w.capMBps) })));
  const save = useMutation({
    mutationFn: () =>
      api.setConnectorBandwidth(view.connectorId, {
        capMBps: mode === 'unlimited' ? null : Number(cap),
        schedule: windows.map((w) => ({ from: w.from, to: w.to, capMBps: w.cap.trim() === '' ? null : Number(w.cap) })),
      }),
    onSuccess: (saved) => {
      qc.setQueryData(fleetQueries.bandwidth(api, view.connectorId).queryKey, saved);
      void qc.invalidateQueries({ queryKey: fleetQueries.connectors(api).queryKey });
    },
  });
  const capError = mode === 'capped' && !capOk(cap) ? t('bandwidth.invalidCap') : undefined;
  const windowErrors = windows.map((w) => ({
    from: TIME.test(w.from) ? undefined : t('bandwidth.invalidTime'),
    to: TIME.test(w.to) ? undefined : t('bandwidth.invalidTime'),
    cap: w.cap.trim() === '' || capOk(w.cap) ? undefined : t('bandwidth.invalidCap'),
  }));
  const valid = !capError && windowErrors.every((e) => !e.from && !e.to && !e.cap);
  const edit = (i: number, patch: Partial<WindowRow>) => setWindows((ws) => ws.map((w, j) => (j === i ? { ...w, ...patch } : w)));
  const capText = (c: number | null) => (c === null ? t('fleet.unlimited') : t('fleet.capValue', { cap: c }));
  const userZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  return (
    <Form label={t('bandwidth.title')} onSubmit={() => valid && !save.isPending && save.mutate()}>
      <p data-test={testIds.fleet.bandwidthCurrent}>
        {t('bandwidth.current', { cap: capText(view.effectiveCapMBps) })}
        {view.updatedAt && <span className="vsp-muted"> · {t('bandwidth.setBy', { user: view.updatedBy ?? '', at: new Date(view.updatedAt).toLocaleString() })}</span>}
      </p>
      <RadioGroup
        label={t('bandwidth.limit')}
        name="bandwidth-mode"
        value={mode}
        onChange={(v) => (setMode(v), save.reset())}
        options={[
          { value: 'unlimited', label: t('bandwidth.limit.unlimited'), testId: testIds.fleet.bandwidthMode('unlimited') },
          { value: 'capped', label: t('bandwidth.limit.capped'), testId: testIds.fleet.bandwidthMode('capped') },
        ]}
      />
      {mode === 'capped' && (
        <InputField label={t('bandwidth.mbps')} testId={testIds.fleet.bandwidthCap} value={cap} onChange={setCap} inputMode="numeric" maxLength={6} error={cap ? capError : undefined} help={t('bandwidth.capHelp')} />
      )}
      <h5>{t('bandwidth.schedule')}</h5>
      <p className="vsp-muted">{t('bandwidth.scheduleHelp', { zone: view.timeZone, yours: userZone })}</p>
      {windows.length === 0 && <p className="vsp-muted">{t('bandwidth.noWindows')}</p>}
      {windows.map((w, i) => (
        <fieldset key={i} className="vsp-bandwidth-window" data-test={testIds.fleet.bandwidthWindow(i)}>
          <InputField label={t('bandwidth.from')} value={w.from} onChange={(v) => edit(i, { from: v })} maxLength={5} placeholder="08:00" error={windowErrors[i]?.from} />
          <InputField label={t('bandwidth.to')} value={w.to} onChange={(v) => edit(i, { to: v })} maxLength={5} placeholder="18:00" error={windowErrors[i]?.to} />
          <InputField label={t('bandwidth.windowCap')} value={w.cap} onChange={(v) => edit(i, { cap: v })} inputMode="numeric" maxLength={6} error={windowErrors[i]?.cap} />
          {TIME.test(w.from) && TIME.test(w.to) && (
            <p className="vsp-muted">{t('bandwidth.inYourZone', { from: toUserTime(w.from, view.utcOffsetMinutes), to: toUserTime(w.to, view.utcOffsetMinutes) })}</p>
          )}
          <Button variant="link" onClick={() => setWindows((ws) => ws.filter((_, j) => j !== i))}>
            {t('bandwidth.removeWindow', { n: i + 1 })}
          </Button>
        </fieldset>
      ))}
      <div className="vsp-toolbar">
        <Button testId={testIds.fleet.bandwidthAddWindow} disabled={windows.length >= 8} onClick={() => setWindows((ws) => [...ws, { from: '08:00', to: '18:00', cap: '' }])}>
          {t('bandwidth.addWindow')}
        </Button>
      </div>
      {save.isError && <ApiErrorAlert error={save.error} />}
      {save.isSuccess && (
        <Alert kind="success" compact testId={testIds.fleet.bandwidthSaved}>
          {t('bandwidth.saved')}
        </Alert>
      )}
      <div className="vsp-toolbar">
        <Button variant="primary" type="submit" testId={testIds.fleet.bandwidthSave} disabled={!valid || save.isPending}>
          {t('bandwidth.save')}
        </Button>
      </div>
    </Form>
  );
}
