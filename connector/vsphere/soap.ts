// vim25 SOAP as XML, hand-written because no maintained Node library speaks vim25 SOAP: request envelopes come from
// string templates with XML escaping, answers are parsed with fast-xml-parser and read with the node helpers here;
// a fault's detail becomes a VimFault. The HTTPS transport and its session cookie are in soap-transport.ts.
import { XMLParser } from 'fast-xml-parser';
import type { MoRef } from './types.ts';

/** A parsed XML element: a string for text-only elements, an object otherwise. */
export type XmlNode = string | { [key: string]: XmlValue };
export type XmlValue = XmlNode | XmlNode[] | undefined;

export const XSI_TYPE = '@_xsi:type';

/** A vSphere fault (SOAP fault detail or a task/lease LocalizedMethodFault). */
export class VimFault extends Error {
  readonly faultType: string;
  readonly faultString: string;
  readonly privilegeId?: string;
  readonly object?: MoRef;
  constructor(faultType: string, faultString: string, extra: { privilegeId?: string; object?: MoRef } = {}) {
    const where = extra.object ? ` on ${extra.object.type} ${extra.object.value}` : '';
    const hint = extra.privilegeId ? ` (requires privilege ${extra.privilegeId}${where})` : '';
    super(`${faultString || faultType}${hint}`);
    this.name = 'VimFault';
    this.faultType = faultType;
    this.faultString = faultString;
    if (extra.privilegeId !== undefined) this.privilegeId = extra.privilegeId;
    if (extra.object !== undefined) this.object = extra.object;
  }
}

// ---------- XML building ----------

// XML 1.0 forbids most C0 controls; sending them would only produce an unreadable server fault.
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export function xmlEscape(value: string): string {
  if (INVALID_XML_CHARS.test(value)) {
    throw new Error('A value sent to vCenter contains control characters that XML cannot carry; remove them and retry.');
  }
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#xD;');
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new Error(`Invalid XML element or type name: ${JSON.stringify(name)}`);
  return name;
}

/** `<tag>escaped</tag>`; undefined values produce nothing. */
export function el(tag: string, value: string | number | boolean | undefined | null): string {
  if (value === undefined || value === null) return '';
  return `<${checkName(tag)}>${xmlEscape(String(value))}</${tag}>`;
}

/** Repeated `<tag>` elements for an array of values. */
export function els(tag: string, values: readonly (string | number | boolean)[] | undefined): string {
  return (values ?? []).map((v) => el(tag, v)).join('');
}

/** `<tag type="Type">value</tag>` for a managed object reference. */
export function moRefXml(tag: string, ref: MoRef): string {
  return `<${checkName(tag)} type="${xmlEscape(checkName(ref.type))}">${xmlEscape(ref.value)}</${tag}>`;
}

/** Wraps already-built XML in `<tag xsi:type="T">…</tag>` (T optional). */
export function wrap(tag: string, inner: string, xsiType?: string): string {
  const attr = xsiType ? ` xsi:type="${xmlEscape(checkName(xsiType))}"` : '';
  return `<${checkName(tag)}${attr}>${inner}</${tag}>`;
}

export function envelope(method: string, thisRef: MoRef, bodyXml = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><${checkName(method)} xmlns="urn:vim25">${moRefXml('_this', thisRef)}${bodyXml}</${method}>` +
    '</soapenv:Body></soapenv:Envelope>'
  );
}

// ---------- XML parsing ----------

const XML_ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g;

// fast-xml-parser leaves numeric character references (Go's encoder emits &#34; &#xA; …) undecoded; decode all five XML entities here.
function decodeEntities(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(XML_ENTITY, (_m, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
      }
    }
  });
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  ignoreDeclaration: true,
  maxNestedTags: 400,
  transformTagName: (name) => name.slice(name.indexOf(':') + 1),
  // Any `prefix:type` attribute is the schema-instance type (vCenter always uses xsi, but the prefix is not fixed).
  transformAttributeName: (name) => (/^@_[^:]+:type$/.test(name) ? XSI_TYPE : name),
  tagValueProcessor: (_tag, value) => decodeEntities(value),
  attributeValueProcessor: (_attr, value) => decodeEntities(value),
});

export function parseXml(xml: string): Record<string, XmlValue> {
  return parser.parse(xml) as Record<string, XmlValue>;
}

// ---------- node helpers ----------

export function isObj(node: unknown): node is { [key: string]: XmlValue } {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

/** Normalizes a possibly repeated element to an array. */
export function arr(value: XmlValue): XmlNode[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Value of a child element: an array when the element is repeated. */
export function child(node: XmlValue, name: string): XmlValue {
  const n = Array.isArray(node) ? node[0] : node;
  return isObj(n) ? n[name] : undefined;
}

/** Text content of an element (undefined when absent). */
export function text(node: XmlValue): string | undefined {
  const n = Array.isArray(node) ? node[0] : node;
  if (n === undefined) return undefined;
  if (typeof n === 'string') return n;
  const t = n['#text'];
  return typeof t === 'string' ? t : '';
}

export function str(node: XmlValue, name: string): string | undefined {
  return text(child(node, name));
}

export function num(node: XmlValue, name: string): number | undefined {
  const t = str(node, name);
  if (t === undefined || t.trim() === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export function bool(node: XmlValue, name: string): boolean | undefined {
  const t = str(node, name)?.trim();
  return t === undefined ? undefined : t === 'true' || t === '1';
}

export function xsiType(node: XmlValue): string | undefined {
  const n = Array.isArray(node) ? node[0] : node;
  if (!isObj(n)) return undefined;
  const t = n[XSI_TYPE];
  return typeof t === 'string' ? t.slice(t.indexOf(':') + 1) : undefined;
}

export function toMoRef(node: XmlValue): MoRef | undefined {
  const n = Array.isArray(node) ? node[0] : node;
  if (!isObj(n)) return undefined;
  const type = n['@_type'];
  const value = n['#text'];
  return typeof type === 'string' && typeof value === 'string' ? { type, value } : undefined;
}

/** Element children of a node, in document order per name (attributes and text skipped). */
export function elementEntries(node: XmlValue): [string, XmlNode][] {
  const n = Array.isArray(node) ? node[0] : node;
  if (!isObj(n)) return [];
  const out: [string, XmlNode][] = [];
  for (const [k, v] of Object.entries(n)) {
    if (k.startsWith('@_') || k === '#text') continue;
    for (const item of arr(v)) out.push([k, item]);
  }
  return out;
}

/** Builds a VimFault from a fault detail element such as `<NoPermissionFault xsi:type="NoPermission">`. */
export function faultFromDetail(tagName: string | undefined, detail: XmlValue, faultString: string): VimFault {
  const type = xsiType(detail) ?? tagName?.replace(/Fault$/, '') ?? 'SystemError';
  let privilegeId = str(detail, 'privilegeId');
  if (!privilegeId) {
    // vCenter 7+ may report NoPermission as missingPrivileges[] { entity, privileges[] }.
    const missing = child(detail, 'missingPrivileges');
    const p = missing !== undefined ? text(arr(child(missing, 'privileges'))[0]) : undefined;
    if (p) privilegeId = p;
  }
  const object = toMoRef(child(detail, 'object')) ?? toMoRef(child(detail, 'obj'));
  return new VimFault(type, faultString, {
    ...(privilegeId ? { privilegeId } : {}),
    ...(object ? { object } : {}),
  });
}

/** A LocalizedMethodFault (task.info.error, lease.error, …) as a VimFault. */
export function faultFromLocalized(node: XmlValue): VimFault {
  const inner = child(node, 'fault');
  const message = str(node, 'localizedMessage') ?? '';
  return faultFromDetail(undefined, inner, message || xsiType(inner) || 'The operation failed');
}
