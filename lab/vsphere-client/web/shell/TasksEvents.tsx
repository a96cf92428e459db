import { useEffect, useState } from 'react';
import type { RecentTaskDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import { api } from './api.ts';
import { Icon } from './Icon.tsx';

const POLL_MS = 2_000;

function when(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleString('en-US', { dateStyle: 'short', timeStyle: 'medium' }) : '';
}

/** Polls `load` while mounted (and again on `tick`); errors are shown, not thrown. */
function usePolled<T>(load: () => Promise<T>, deps: unknown[], onError: (err: unknown) => void): { data: T | undefined; error: string | null } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const run = () =>
      load()
        .then((d) => live && (setData(d), setError(null)))
        .catch((err: unknown) => {
          if (!live) return;
          onError(err);
          setError(err instanceof Error ? err.message : String(err));
        })
        .finally(() => {
          if (live) timer = window.setTimeout(run, POLL_MS);
        });
    void run();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { data, error };
}

function StatusCell({ t }: { t: RecentTaskDto }) {
  if (t.state === 'running' || t.state === 'queued') {
    const pct = t.progress ?? 0;
    return (
      <span className="vsc-task-progress">
        <progress className="progress" max={100} value={pct} aria-label={`${t.name} progress`} />
        <span>{t.state === 'queued' ? 'Queued' : `${pct} %`}</span>
      </span>
    );
  }
  if (t.state === 'success') {
    return (
      <span className="vsc-task-status">
        <Icon shape="success-standard" status="success" /> Completed
      </span>
    );
  }
  return (
    <span className="vsc-task-status" title={t.error}>
      <Icon shape="error-standard" status="danger" /> {t.error ?? 'Failed'}
    </span>
  );
}

const OPEN_KEY = 'vsc-recent-tasks-open';

/** The Recent Tasks pane at the bottom of the vSphere Client: collapsed to its bar until opened (remembered). */
export function RecentTasks({ tick, onUnauthorized }: { tick: number; onUnauthorized(err: unknown): void }) {
  const [open, setOpen] = useState(() => window.localStorage.getItem(OPEN_KEY) === '1');
  const toggle = () => {
    window.localStorage.setItem(OPEN_KEY, open ? '0' : '1');
    setOpen(!open);
  };
  return (
    <section className={`vsc-recent-tasks${open ? ' open' : ''}`} aria-label="Recent Tasks" data-test={testIds.recentTasks.pane}>
      <button type="button" className="vsc-recent-tasks-bar" aria-expanded={open} onClick={toggle} data-test={testIds.recentTasks.toggle}>
        <Icon shape="angle" direction={open ? 'down' : 'up'} /> Recent Tasks
      </button>
      {open ? <RecentTasksTable tick={tick} onUnauthorized={onUnauthorized} /> : null}
    </section>
  );
}

/** Polled only while the pane is open. */
function RecentTasksTable({ tick, onUnauthorized }: { tick: number; onUnauthorized(err: unknown): void }) {
  const { data, error } = usePolled(() => api.recentTasks(), [tick], onUnauthorized);
  const tasks = data ?? [];
  return (
        <div className="vsc-recent-tasks-body">
          {error ? <div className="vsc-placeholder">{error}</div> : null}
          <table className="table table-compact table-noborder vsc-table">
            <thead>
              <tr>
                <th>Task Name</th>
                <th>Target</th>
                <th>Status</th>
                <th>Initiator</th>
                <th>Queued For</th>
                <th>Start Time</th>
                <th>Completion Time</th>
              </tr>
            </thead>
            <tbody>
              {tasks.length === 0 ? (
                <tr>
                  <td colSpan={7}>No recent tasks</td>
                </tr>
              ) : (
                tasks.map((t) => {
                  return (
                    <tr key={t.key} data-test={testIds.recentTasks.row(t.key)}>
                      <td>{t.name}</td>
                      <td>{t.target}</td>
                      <td>
                        <StatusCell t={t} />
                      </td>
                      <td>{t.initiator}</td>
                      <td>{t.queued && t.started ? `${Math.max(0, Math.round((Date.parse(t.started) - Date.parse(t.queued)) / 1000))} s` : ''}</td>
                      <td>{when(t.started)}</td>
                      <td>{when(t.completed)}</td>
                    </tr>
                  );
                })
              )}
            </tbody>
          </table>
        </div>
  );
}

/** A VM's Monitor → Events. */
export function VmEvents({ vmId, onUnauthorized }: { vmId: string; onUnauthorized(err: unknown): void }) {
  const { data, error } = usePolled(() => api.vmEvents(vmId), [vmId], onUnauthorized);
  if (error) return <div className="vsc-placeholder">{error}</div>;
  if (!data) return <span className="spinner spinner-inline">Loading…</span>;
  return (
    <table className="table table-compact vsc-table vsc-events" aria-label="Events" data-test={testIds.events.table}>
      <thead>
        <tr>
          <th>Description</th>
          <th>Type</th>
          <th>Date Time</th>
          <th>User</th>
          <th>Event Type ID</th>
        </tr>
      </thead>
      <tbody>
        {data.length === 0 ? (
          <tr>
            <td colSpan={5}>No events</td>
          </tr>
        ) : (
          data.map((e) => (
            <tr key={e.key} data-test={testIds.events.row(e.eventTypeId ?? String(e.key))}>
              <td>{e.description}</td>
              <td>
                <Icon shape={e.type === 'Error' ? 'error-standard' : e.type === 'Warning' ? 'warning-standard' : 'info-standard'} status={e.type === 'Error' ? 'danger' : e.type === 'Warning' ? 'warning' : 'info'} /> {e.type}
              </td>
              <td>{when(e.time)}</td>
              <td>{e.user}</td>
              <td>{e.eventTypeId ?? ''}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
