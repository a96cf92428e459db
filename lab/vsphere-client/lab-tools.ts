// Lab only: the VM Summary card's tools in the vSphere Client stand-in (lab/vsphere-client/web/shell/LabDiskWrite.tsx):
// overwrite blocks of a running VM's disk (a warm migration's changes), shut its guest down as from inside (the lab's
// VMs run no VMware Tools), and power it on again. A real vSphere Client has none of them; outside the lab they are 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LabDiskWriteDto } from './api-types.ts';
import type { UiSession } from './sessions.ts';

const LAB_BLOCK_BYTES = 512 * 1024;
const LAB_MAX_BLOCKS = 1024;

/** `count` distinct block indexes below `total`, ascending. */
function randomBlocks(total: number, count: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(count, total)) picked.add(Math.floor(Math.random() * total));
  return [...picked].sort((a, b) => a - b);
}

export function registerLabTools(
  app: FastifyInstance,
  deps: {
    requireSession(request: FastifyRequest, reply: FastifyReply): UiSession | undefined;
    failed(reply: FastifyReply, s: UiSession, err: unknown): Promise<FastifyReply>;
    apiError(reply: FastifyReply, status: number, error: string, message: string): FastifyReply;
    diskWriter?: ((vmId: string, deviceKey: number, write: { offset: number; length: number; seed: number }) => Promise<unknown>) | undefined;
    guestShutdown?: ((vmId: string) => Promise<void>) | undefined;
    powerOn?: ((vmId: string) => Promise<void>) | undefined;
  },
): void {
  // Lab only: overwrite random whole blocks of the VM's first disk, so a warm migration's next cycle has changes to send.
  app.post<{ Params: { id: string }; Body: { blocks?: unknown } | undefined }>('/ui/api/lab/vms/:id/disk-writes', async (request, reply) => {
    const s = deps.requireSession(request, reply);
    if (!s) return reply;
    const write = deps.diskWriter;
    if (!write) return deps.apiError(reply, 404, 'NotFound', 'Changing disk blocks is a lab-only tool; this vSphere Client is not running in the lab.');
    const blocks = request.body?.blocks;
    if (typeof blocks !== 'number' || !Number.isInteger(blocks) || blocks < 1 || blocks > LAB_MAX_BLOCKS) {
      return deps.apiError(reply, 400, 'BadRequest', `Enter a whole number of blocks from 1 to ${LAB_MAX_BLOCKS}.`);
    }
    let vm;
    try {
      vm = await s.vim.getVirtualMachine(request.params.id);
    } catch (err) {
      return deps.failed(reply, s, err);
    }
    const disk = vm.disks[0];
    // Named as the Summary tab names it (vcsim's own device labels are not the vSphere Client's).
    const label = 'Hard disk 1';
    if (!disk) return deps.apiError(reply, 409, 'NoDisk', `${vm.name} has no hard disk to change.`);
    if (vm.powerState !== 'poweredOn') return deps.apiError(reply, 409, 'PoweredOff', `${vm.name} is powered off: only a running VM writes to its disk. Power it on first.`);
    const total = Math.floor(disk.capacityBytes / LAB_BLOCK_BYTES);
    const seed = Math.floor(Math.random() * 2 ** 31);
    const offsets = randomBlocks(total, blocks).map((b) => b * LAB_BLOCK_BYTES);
    try {
      for (const offset of offsets) await write(vm.id, disk.key, { offset, length: LAB_BLOCK_BYTES, seed });
    } catch (err) {
      return deps.apiError(reply, 502, 'LabWriteFailed', `The lab vCenter did not write to ${label} of ${vm.name}: ${(err as Error).message}`);
    }
    const dto: LabDiskWriteDto = { disk: label, deviceKey: disk.key, blocks: offsets.length, bytes: offsets.length * LAB_BLOCK_BYTES, seed, offsets, at: new Date().toISOString() };
    return dto;
  });

  // Lab only: the guest shuts itself down (what a user does inside the VM before a cutover with "I will power off the VM").
  app.post<{ Params: { id: string } }>('/ui/api/lab/vms/:id/guest-shutdown', async (request, reply) => {
    const s = deps.requireSession(request, reply);
    if (!s) return reply;
    const shutdown = deps.guestShutdown;
    if (!shutdown) return deps.apiError(reply, 404, 'NotFound', 'Shutting a guest down from inside is a lab-only tool; this vSphere Client is not running in the lab.');
    let vm;
    try {
      vm = await s.vim.getVirtualMachine(request.params.id);
    } catch (err) {
      return deps.failed(reply, s, err);
    }
    if (vm.powerState !== 'poweredOn') return deps.apiError(reply, 409, 'PoweredOff', `${vm.name} is already powered off.`);
    try {
      await shutdown(vm.id);
    } catch (err) {
      return deps.apiError(reply, 502, 'LabShutdownFailed', `The lab vCenter did not power off ${vm.name}: ${(err as Error).message}`);
    }
    return { poweredOffAt: new Date().toISOString() };
  });

  // Lab only: power the VM on again after a lab shutdown, so the lab can be used for the next warm migration.
  app.post<{ Params: { id: string } }>('/ui/api/lab/vms/:id/power-on', async (request, reply) => {
    const s = deps.requireSession(request, reply);
    if (!s) return reply;
    const powerOn = deps.powerOn;
    if (!powerOn) return deps.apiError(reply, 404, 'NotFound', 'Powering a VM on from this card is a lab-only tool; this vSphere Client is not running in the lab.');
    let vm;
    try {
      vm = await s.vim.getVirtualMachine(request.params.id);
    } catch (err) {
      return deps.failed(reply, s, err);
    }
    if (vm.powerState === 'poweredOn') return deps.apiError(reply, 409, 'PoweredOn', `${vm.name} is already powered on.`);
    try {
      await powerOn(vm.id);
    } catch (err) {
      return deps.apiError(reply, 502, 'LabPowerOnFailed', `The lab vCenter did not power on ${vm.name}: ${(err as Error).message}`);
    }
    return { poweredOnAt: new Date().toISOString() };
  });
}
