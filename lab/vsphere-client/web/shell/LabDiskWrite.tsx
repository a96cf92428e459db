// Lab only: a Summary card that overwrites random 512 KiB blocks of a running VM's first disk in the lab vCenter, so a
// warm migration has changes to replicate, and shuts the guest down from inside (the lab's VMs run no VMware Tools, so a
// cutover uses "I will power off the VM"), and powers it on again. A real vSphere Client has no such card; it is marked
// as the lab's own.
import { useState } from 'react';
import type { LabDiskWriteDto, VmDetailsDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import { api } from './api.ts';
import { formatBytes } from './model.ts';

export function LabDiskWriteCard({
  vmId,
  details,
  onUnauthorized,
  onPoweredOff,
}: {
  vmId: string;
  details: VmDetailsDto | null;
  onUnauthorized(err: unknown): void;
  /** The guest shut down or the VM powered on: the shell refreshes what it shows. */
  onPoweredOff(): void;
}) {
  const [blocks, setBlocks] = useState('16');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<LabDiskWriteDto | null>(null);
  const [error, setError] = useState<string | null>(null);
  const disk = details?.disks[0];
  const poweredOn = details?.powerState === 'poweredOn';
  const count = Number(blocks);
  const valid = Number.isInteger(count) && count >= 1 && count <= 1024;

  const [shutdownAt, setShutdownAt] = useState<string | null>(null);
  const shutdown = () => {
    setBusy(true);
    setError(null);
    api.labGuestShutdown(vmId).then(
      (r) => {
        setShutdownAt(r.poweredOffAt);
        setPoweredOnAt(null);
        setBusy(false);
        onPoweredOff();
      },
      (err: unknown) => {
        onUnauthorized(err);
        setError(err instanceof Error ? err.message : String(err));
        setBusy(false);
      },
    );
  };

  const [poweredOnAt, setPoweredOnAt] = useState<string | null>(null);
  const powerOn = () => {
    setBusy(true);
    setError(null);
    api.labPowerOn(vmId).then(
      (r) => {
        setPoweredOnAt(r.poweredOnAt);
        setShutdownAt(null);
        setBusy(false);
        onPoweredOff();
      },
      (err: unknown) => {
        onUnauthorized(err);
        setError(err instanceof Error ? err.message : String(err));
        setBusy(false);
      },
    );
  };

  const submit = () => {
    setBusy(true);
    setError(null);
    api.labDiskWrite(vmId, { blocks: count }).then(
      (r) => {
        setResult(r);
        setBusy(false);
      },
      (err: unknown) => {
        onUnauthorized(err);
        setError(err instanceof Error ? err.message : String(err));
        setBusy(false);
      },
    );
  };

  return (
    <section className="card vsc-card vsc-lab-card" aria-label="Lab only: Change disk blocks" data-test={testIds.labDiskWrite.card}>
      <div className="card-header">
        Change disk blocks <span className="label label-warning">Lab only</span>
      </div>
      <div className="card-block">
        <p className="vsc-lab-text">
          Overwrites random 512 KiB blocks of Hard disk 1 in the lab vCenter, as the guest OS would, so a warm
          migration&apos;s next cycle has changes to send. A real vSphere Client has no such tool.
        </p>
        {details && !disk ? <p className="vsc-lab-text">This VM has no hard disk.</p> : null}
        {details && disk && !poweredOn ? <p className="vsc-lab-text">The VM is powered off: only a running VM writes to its disk.</p> : null}
        <form
          className="vsc-lab-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (valid && !busy) submit();
          }}
        >
          <label htmlFor="lab-disk-write-blocks">Blocks</label>
          <input
            id="lab-disk-write-blocks"
            className="clr-input"
            type="number"
            min={1}
            max={1024}
            step={1}
            value={blocks}
            onChange={(e) => setBlocks(e.target.value)}
            data-test={testIds.labDiskWrite.blocks}
          />
          <button type="submit" className="btn btn-sm btn-outline" disabled={!valid || busy || !disk || !poweredOn} data-test={testIds.labDiskWrite.submit}>
            {busy ? 'Changing…' : 'Change disk blocks'}
          </button>
        </form>
        {!valid ? <p className="vsc-lab-text">Enter a whole number of blocks from 1 to 1024.</p> : null}
        {result ? (
          <p className="vsc-lab-text" role="status" data-test={testIds.labDiskWrite.result}>
            Changed {result.blocks} blocks ({formatBytes(result.bytes)}) of {result.disk} at {new Date(result.at).toLocaleTimeString()}.
          </p>
        ) : null}
        <p className="vsc-lab-text">
          The lab&apos;s VMs run no VMware Tools: to cut over, choose &quot;I will power off the VM myself&quot; in the migration form and shut the
          guest down here, as you would from inside the VM.
        </p>
        <button type="button" className="btn btn-sm btn-outline vsc-lab-shutdown" disabled={busy || !poweredOn} onClick={shutdown} data-test={testIds.labDiskWrite.shutdown}>
          Shut down guest OS
        </button>{' '}
        <button type="button" className="btn btn-sm btn-outline" disabled={busy || !details || poweredOn} onClick={powerOn} data-test={testIds.labDiskWrite.powerOn}>
          Power on
        </button>
        {shutdownAt ? (
          <p className="vsc-lab-text" role="status">
            The guest OS shut down at {new Date(shutdownAt).toLocaleTimeString()}.
          </p>
        ) : null}
        {poweredOnAt ? (
          <p className="vsc-lab-text" role="status">
            Powered on at {new Date(poweredOnAt).toLocaleTimeString()}.
          </p>
        ) : null}
        {error ? (
          <div className="alert alert-danger alert-sm" role="alert" data-test={testIds.labDiskWrite.error}>
            <div className="alert-items">
              <div className="alert-item static">
                <span className="alert-text">{error}</span>
              </div>
            </div>
          </div>
        ) : null}
      </div>
    </section>
  );
}
