// Server-less checks of the vim25 client's building blocks: context object ids, XML escaping/decoding,
// fault mapping and thumbprint parsing.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatContextObjectId, parseContextObjectId } from '../../connector/vsphere/ids.ts';
import { el, envelope, faultFromDetail, faultFromLocalized, parseXml, str, child, VimFault } from '../../connector/vsphere/soap.ts';
import { certificateThumbprint, parseThumbprint, thumbprintMatches } from '../../connector/vsphere/tls.ts';
import { generate } from 'selfsigned';

describe('parseContextObjectId', () => {
  const guid = '28a09968-ddd6-47e2-a28f-616048f32939';

  it('splits a vSphere Client object id into type, moid and vCenter GUID', () => {
    expect(parseContextObjectId(`urn:vmomi:VirtualMachine:vm-58:${guid}`)).toEqual({ type: 'VirtualMachine', value: 'vm-58', vcGuid: guid });
    expect(parseContextObjectId(`urn:vmomi:Folder:group-v3:${guid.toUpperCase()}`)).toMatchObject({ type: 'Folder', value: 'group-v3' });
    expect(formatContextObjectId({ type: 'VirtualMachine', value: 'vm-58' }, guid)).toBe(`urn:vmomi:VirtualMachine:vm-58:${guid}`);
  });

  it.each([
    '',
    'vm-58',
    `urn:vmomi:VirtualMachine:vm-58`,
    `urn:vmomi:VirtualMachine::${guid}`,
    `urn:vim:VirtualMachine:vm-58:${guid}`,
    `urn:vmomi:virtualMachine:vm-58:${guid}`,
    `urn:vmomi:VirtualMachine:vm-58:not-a-guid`,
    `urn:vmomi:VirtualMachine:vm 58:${guid}`,
    `urn:vmomi:VirtualMachine:vm-58:${guid}:extra`,
  ])('rejects %j with the expected form in the message', (id) => {
    expect(() => parseContextObjectId(id)).toThrow(/expected urn:vmomi:<Type>:<moid>:<vCenter instance UUID>/);
  });
});

describe('XML', () => {
  it('escapes values so that they round-trip through the response parser', () => {
    const tricky = `a<b>&"c'\u00e9\u{1F600}\r\n\tz`;
    const doc = parseXml(`<r>${el('v', tricky)}</r>`);
    expect(str(doc.r, 'v')).toBe(tricky);
  });

  it('decodes the numeric character references Go and vCenter emit', () => {
    const doc = parseXml('<r><v a="&#34;x&#39;">&lt;Envelope attr=&#34;1&#34;&gt;&#xA;&#9;&amp;lt;</v></r>');
    expect(str(doc.r, 'v')).toBe('<Envelope attr="1">\n\t&lt;');
    expect((child(doc.r, 'v') as Record<string, unknown>)['@_a']).toBe(`"x'`);
  });

  it('refuses control characters and element-name injection', () => {
    expect(() => el('password', 'a\u0001b')).toThrow(/control characters/);
    expect(() => el('password', 'a\u0001b')).not.toThrow(/a\u0001b/);
    expect(() => envelope('Login><x', { type: 'SessionManager', value: 'SessionManager' })).toThrow(/Invalid XML/);
    expect(() => envelope('Login', { type: 'Session"Manager', value: 'x' })).toThrow(/Invalid XML/);
  });
});

describe('faults', () => {
  it('maps a NoPermission detail with its privilege and object', () => {
    const doc = parseXml(
      '<detail><NoPermissionFault xmlns="urn:vim25" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="NoPermission">' +
        '<object type="VirtualMachine">vm-57</object><privilegeId>VApp.Export</privilegeId></NoPermissionFault></detail>',
    );
    const f = faultFromDetail('NoPermissionFault', child(doc.detail, 'NoPermissionFault'), 'Permission to perform this operation was denied');
    expect(f).toBeInstanceOf(VimFault);
    expect(f).toMatchObject({ faultType: 'NoPermission', privilegeId: 'VApp.Export', object: { type: 'VirtualMachine', value: 'vm-57' } });
    expect(f.message).toBe('Permission to perform this operation was denied (requires privilege VApp.Export on VirtualMachine vm-57)');
  });

  it('maps a task LocalizedMethodFault whatever the xsi prefix', () => {
    const doc = parseXml(
      '<error xmlns:x="http://www.w3.org/2001/XMLSchema-instance"><fault x:type="InvalidPowerState"><existingState>poweredOn</existingState></fault>' +
        '<localizedMessage>The attempted operation cannot be performed in the current state (Powered on).</localizedMessage></error>',
    );
    const f = faultFromLocalized(doc.error);
    expect(f.faultType).toBe('InvalidPowerState');
    expect(f.faultString).toMatch(/current state/);
  });
});

describe('thumbprints', () => {
  it('parses SHA-1 and SHA-256 thumbprints and matches them against a certificate', async () => {
    const pems = await generate([{ name: 'commonName', value: 'thumbprint.test' }], { keyType: 'ec', curve: 'P-256' });
    const der = new X509Certificate(pems.cert).raw;
    const sha1 = certificateThumbprint(der, 'sha1');
    const sha256 = certificateThumbprint(der, 'sha256');
    expect(sha1).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(sha256).toBe(new X509Certificate(pems.cert).fingerprint256);
    expect(parseThumbprint(sha1).algorithm).toBe('sha1');
    expect(parseThumbprint(sha256.toLowerCase()).algorithm).toBe('sha256');
    expect(thumbprintMatches(der, parseThumbprint(sha256.toLowerCase()))).toBe(true);
    expect(thumbprintMatches(der, parseThumbprint(sha1.replace(/:/g, '')))).toBe(true);
    expect(thumbprintMatches(der, parseThumbprint('00:'.repeat(31) + '00'))).toBe(false);
    expect(() => parseThumbprint('AB:CD')).toThrow(/SHA-1 \(20 bytes\) or SHA-256 \(32 bytes\)/);
    expect(() => parseThumbprint('zz'.repeat(20))).toThrow(/Invalid certificate thumbprint/);
  });
});
