// XML encoding for Query-protocol responses. Hand-written because the shapes are tiny and the two
// dialects differ only in the list element name (EC2 `<xxxSet><item>`, IAM/STS `<Xxx><member>`).

/** A response tree: object keys become elements, arrays become lists, undefined is omitted. */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlValue[] | XmlObject;
export interface XmlObject {
  [element: string]: XmlValue;
}

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function children(value: XmlObject, listItem: string): string {
  return Object.entries(value)
    .map(([k, v]) => encode(k, v, listItem))
    .join('');
}

function encode(name: string, value: XmlValue, listItem: string): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => encode(listItem, v, listItem)).join('')}</${name}>`;
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object') return `<${name}>${children(value, listItem)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<ActionResponse xmlns=EC2><requestId/>…</ActionResponse>` */
export function ec2Response(action: string, requestId: string, body: XmlObject): string {
  const inner = children({ requestId, ...body }, 'item');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}">${inner}</${action}Response>`;
}

export function ec2ErrorResponse(requestId: string, code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}

/** awsQuery (IAM, STS): `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…` */
export function queryResponse(namespace: string, action: string, requestId: string, result: XmlObject | undefined): string {
  const resultXml = result === undefined ? '' : encode(`${action}Result`, result, 'member');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}">${resultXml}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function queryErrorResponse(namespace: string, requestId: string, code: string, message: string, type: 'Sender' | 'Receiver'): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
