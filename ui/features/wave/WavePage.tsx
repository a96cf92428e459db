import { useQueries, useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { useApi } from '../../api/ApiContext.tsx';
import { toApiError } from '../../api/errors.ts';
import { HostProblemMessage } from '../../app/HostProblemMessage.tsx';
import { contextVms } from '../../host/host.ts';
import { useHost } from '../../host/HostContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries, vmQueries } from '../migrate/migrate.queries.ts';
import { migratableEnvironments } from '../migrate/TargetFields.tsx';
import { WaveForm } from './WaveForm.tsx';

/** The "Migrate VMs to EC2" action's modal (acceptsMultipleTargets): every selected VM, then the wave form. */
export function WavePage() {
  const host = useHost();
  const api = useApi();
  const t = useT();
  const context = contextVms(host);
  const vmIds = 'vmIds' in context ? context.vmIds : [];
  const vms = useQueries({ queries: vmIds.map((id) => vmQueries.detail(api, id)) });
  const envs = useQuery({ ...environmentQueries.list(api), enabled: vmIds.length > 0 });
  const close = (
    <Button variant="outline" testId={testIds.wave.close} onClick={() => host.closeModal()}>
      {t('common.close')}
    </Button>
  );
  const frame = (body: ReactNode) => (
    <div className="vsp-modal" data-test={testIds.wave.page}>
      <div className="vsp-modal-body">{body}</div>
      <div className="vsp-modal-footer">{close}</div>
    </div>
  );

  if ('problem' in context) return frame(<HostProblemMessage problem={context.problem} />);
  if (vmIds.length === 0) return frame(<Alert kind="warning">{t('wave.noVms')}</Alert>);
  if (envs.isPending || vms.some((q) => q.isPending)) return frame(<Spinner label={t('app.loading')} testId={testIds.shell.loading} />);
  if (envs.isError) return frame(<ApiErrorAlert error={envs.error} />);
  // A VM that cannot be read is named with the connector's words; the others can still form a wave once it is deselected.
  const failed = vms.flatMap((q, i) => (q.isError ? [{ id: vmIds[i]!, message: toApiError(q.error).message }] : []));
  if (failed.length) {
    return frame(
      <Alert kind="danger">
        <ul className="list-unstyled">
          {failed.map((f) => (
            <li key={f.id}>
              {f.id}: {t('wave.vmFailed', { message: f.message })}
            </li>
          ))}
        </ul>
      </Alert>,
    );
  }
  return <WaveForm vms={vms.map((q) => q.data!)} environments={migratableEnvironments(envs.data.environments)} closeButton={close} onClose={() => host.closeModal()} />;
}
