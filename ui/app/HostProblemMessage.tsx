import type { HostProblem } from '../host/host.ts';
import { useT } from '../i18n/core.ts';
import { Alert } from '../kit/Alert.tsx';
import { modalTestIds as testIds } from '../modalTestIds.ts';

/** The one message a view shows when the vSphere Client's SDK failed: what is missing, the failed call, what to check. */
export function HostProblemMessage({ problem }: { problem: HostProblem }) {
  const t = useT();
  return (
    <Alert kind="danger" testId={testIds.shell.hostProblem}>
      {t(`host.problem.${problem.kind}`)} ({problem.detail}). {t('host.problem.check')}
    </Alert>
  );
}

/** The whole view when the plugin could not start (rendered without the shell: there is no usable host). */
export function HostProblemPage({ problem }: { problem: HostProblem }) {
  return (
    <div className="vsp-page" data-test={testIds.shell.error}>
      <HostProblemMessage problem={problem} />
    </div>
  );
}
