// vSphere Client context object ids: urn:vmomi:<Type>:<moid>:<vcGuid>
import type { MoRef } from './types.ts';

export interface ContextObjectId extends MoRef {
  vcGuid: string;
}

const TYPE = /^[A-Z][A-Za-z0-9]*$/;
const MOID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Parses `urn:vmomi:VirtualMachine:vm-58:<vcGuid>`; throws an Error naming the expected form otherwise. */
export function parseContextObjectId(id: string): ContextObjectId {
  const parts = typeof id === 'string' ? id.split(':') : [];
  const [urn, ns, type, value, vcGuid] = parts;
  if (
    parts.length !== 5 ||
    urn !== 'urn' ||
    ns !== 'vmomi' ||
    !type ||
    !TYPE.test(type) ||
    !value ||
    !MOID.test(value) ||
    !vcGuid ||
    !GUID.test(vcGuid)
  ) {
    const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 200)) : typeof id;
    throw new Error(
      `Invalid vSphere object id ${shown}: expected urn:vmomi:<Type>:<moid>:<vCenter instance UUID>, e.g. urn:vmomi:VirtualMachine:vm-58:28a09968-ddd6-47e2-a28f-616048f32939`,
    );
  }
  return { type, value, vcGuid };
}

/** Inverse of parseContextObjectId. */
export function formatContextObjectId(ref: MoRef, vcGuid: string): string {
  return `urn:vmomi:${ref.type}:${ref.value}:${vcGuid}`;
}
