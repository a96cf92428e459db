// What the "Bring back to vCenter" form offers (issue 16): the targets the user's own vCenter session sees, with
// whether vCenter lets that user import there, and what the export's OVA needs (its networks, its disks' capacity).
import { z } from 'zod';
import { ComputeResourceRef, ReturnInstanceId } from './returns.ts';

/** A completed export, or an imported instance (exported first by the task). */
export const ReturnChoicesQuery = z
  .strictObject({
    exportId: z.string().regex(/^exp-[0-9a-f-]{36}$/, 'Not an export id (exp-…).').optional(),
    instanceId: ReturnInstanceId.optional(),
    environmentId: z.string().min(1).max(64).optional(),
  })
  .refine((q) => (q.exportId !== undefined ? q.instanceId === undefined && q.environmentId === undefined : q.instanceId !== undefined && q.environmentId !== undefined), {
    message: 'Give exportId (a completed export), or instanceId and environmentId (an imported instance), not both.',
  });

/** Where the form's OVA comes from: `{ exportId }` or `{ instanceId, environmentId }`. */
export type ReturnSourceRef = z.input<typeof ReturnChoicesQuery>;

/** One inventory object: its moRef value, its name and where it is (datacenter / folders). */
const Choice = {
  id: z.string(),
  name: z.string(),
  /** The inventory path the vSphere Client shows, e.g. DC0 / Production. */
  path: z.string(),
  /** Whether this user holds the privilege the import needs on it (vApp > Import, Datastore > Allocate space, Network > Assign network). */
  mayUse: z.boolean(),
};

export const ReturnFolderChoice = z.object(Choice).meta({ id: 'ReturnFolderChoice' });
export const ReturnComputeChoice = z.object({ ...Choice, type: ComputeResourceRef.shape.type }).meta({ id: 'ReturnComputeChoice' });
export const ReturnDatastoreChoice = z
  .object({ ...Choice, freeBytes: z.number().int().nonnegative(), capacityBytes: z.number().int().nonnegative(), accessible: z.boolean() })
  .meta({ id: 'ReturnDatastoreChoice' });
export const ReturnNetworkChoice = z.object({ ...Choice, type: z.enum(['Network', 'DistributedVirtualPortgroup']) }).meta({ id: 'ReturnNetworkChoice' });

export const ReturnChoices = z
  .object({
    /** The export (absent when the choices are for an imported instance, exported by the task). */
    exportId: z.string().optional(),
    instanceId: z.string().optional(),
    /** The networks the OVF names (its NetworkSection): one mapping each. */
    sourceNetworks: z.array(z.string()),
    /** The sum of the disks' capacities: what the datastore must have free. */
    diskCapacityBytes: z.number().int().nonnegative(),
    /** A name for the new VM, free in no particular folder: the instance id the export came from. */
    suggestedName: z.string(),
    folders: z.array(ReturnFolderChoice),
    computeResources: z.array(ReturnComputeChoice),
    datastores: z.array(ReturnDatastoreChoice),
    networks: z.array(ReturnNetworkChoice),
  })
  .meta({ id: 'ReturnChoices' });
export type ReturnChoices = z.infer<typeof ReturnChoices>;
export type ReturnComputeChoice = z.infer<typeof ReturnComputeChoice>;
export type ReturnDatastoreChoice = z.infer<typeof ReturnDatastoreChoice>;
export type ReturnNetworkChoice = z.infer<typeof ReturnNetworkChoice>;
export type ReturnFolderChoice = z.infer<typeof ReturnFolderChoice>;
