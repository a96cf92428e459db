// Disk facts the pre-flight checks rely on (encryption, independent modes, RDM), read by the real vim25 client
// from canned vCenter answers: the lab vcsim cannot create encrypted or RDM disks.
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskChecks } from '../../connector/preflight/rules.ts';
import { certificateThumbprint } from '../../connector/vsphere/tls.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';

const envelope = (body: string) =>
  '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ' +
  'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ' +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;

const SERVICE_CONTENT = envelope(
  '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>' +
    '<rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>' +
    '<about><name>VMware vCenter Server</name><fullName>VMware vCenter Server 8.0.3 build-24022515</fullName><version>8.0.3</version>' +
    '<apiVersion>8.0.3.0</apiVersion><instanceUuid>28a09968-ddd6-47e2-a28f-616048f32939</instanceUuid></about>' +
    '</returnval></RetrieveServiceContentResponse>',
);

const disk = (key: number, unit: number, backing: string) =>
  `<VirtualDevice xsi:type="VirtualDisk"><key>${key}</key><deviceInfo><label>Hard disk ${unit + 1}</label><summary>1,048,576 KB</summary></deviceInfo>` +
  `${backing}<controllerKey>1000</controllerKey><unitNumber>${unit}</unitNumber><capacityInKB>1048576</capacityInKB>` +
  '<capacityInBytes>1073741824</capacityInBytes></VirtualDevice>';

const flat = (file: string, mode: string, extra = '') =>
  `<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] sec-01/${file}</fileName><datastore type="Datastore">datastore-11</datastore>` +
  `<diskMode>${mode}</diskMode><split>false</split><writeThrough>false</writeThrough><thinProvisioned>true</thinProvisioned>${extra}</backing>`;

// Hard disk 2 is encrypted (CryptoKeyId on its backing), 3 is a physical-mode RDM, 4 is independent.
const DEVICES =
  disk(2000, 0, flat('sec-01.vmdk', 'persistent')) +
  disk(2001, 1, flat('sec-01_1.vmdk', 'persistent', '<keyId><keyId>6d1f4c1e-2b7a-4c55-9e0f-3b8a1d2c4e5f</keyId><providerId><id>lab-kms</id></providerId></keyId>')) +
  disk(
    2002,
    2,
    '<backing xsi:type="VirtualDiskRawDiskMappingVer1BackingInfo"><fileName>[ds1] sec-01/sec-01_2.vmdk</fileName>' +
      '<datastore type="Datastore">datastore-11</datastore><lunUuid>0200000000600a09803830</lunUuid><deviceName>vml.0200000000600a0980383</deviceName>' +
      '<compatibilityMode>physicalMode</compatibilityMode><diskMode>independent_persistent</diskMode></backing>',
  ) +
  disk(2003, 3, flat('sec-01_3.vmdk', 'independent_nonpersistent'));

const VM_PROPERTIES = envelope(
  '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-301</obj>' +
    '<propSet><name>config.guestFullName</name><val xsi:type="xsd:string">Ubuntu Linux (64-bit)</val></propSet>' +
    '<propSet><name>config.guestId</name><val xsi:type="xsd:string">ubuntu64Guest</val></propSet>' +
    `<propSet><name>config.hardware.device</name><val xsi:type="ArrayOfVirtualDevice">${DEVICES}</val></propSet>` +
    '<propSet><name>config.hardware.memoryMB</name><val xsi:type="xsd:int">4096</val></propSet>' +
    '<propSet><name>config.hardware.numCPU</name><val xsi:type="xsd:int">2</val></propSet>' +
    '<propSet><name>name</name><val xsi:type="xsd:string">sec-01</val></propSet>' +
    '<propSet><name>parent</name><val type="Folder" xsi:type="ManagedObjectReference">group-v3</val></propSet>' +
    '<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>' +
    '</objects></returnval></RetrievePropertiesExResponse>',
);

let server: Server;
let client: Vim25Client;
const asked: string[] = [];

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: 'vcenter.lab.test' }], { keyType: 'ec', curve: 'P-256' });
  server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = /<(\w+) xmlns="urn:vim25">/.exec(body)?.[1] ?? '';
      asked.push(method);
      const answer = method === 'RetrieveServiceContent' ? SERVICE_CONTENT : method === 'RetrievePropertiesEx' && body.includes('>vm-301<') ? VM_PROPERTIES : undefined;
      res.writeHead(answer ? 200 : 500, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(answer ?? envelope(`<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>unexpected ${method}</faultstring></soapenv:Fault>`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = await Vim25Client.connect({
    sdkUrl: `https://127.0.0.1:${port}/sdk`,
    thumbprint: certificateThumbprint(new X509Certificate(pems.cert).raw, 'sha256'),
  });
});

afterAll(async () => {
  client?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('VM disks from RetrievePropertiesEx', () => {
  it('reports encryption, disk modes and RDM backings', async () => {
    const vm = await client.getVirtualMachine('vm-301');
    expect(asked).toEqual(['RetrieveServiceContent', 'RetrievePropertiesEx']);
    expect(vm).toMatchObject({ id: 'vm-301', name: 'sec-01', powerState: 'poweredOn', folderId: 'group-v3' });
    expect(vm.disks).toEqual([
      { key: 2000, label: 'Hard disk 1', capacityBytes: 1024 ** 3, diskMode: 'persistent', backingType: 'VirtualDiskFlatVer2BackingInfo', fileName: '[ds1] sec-01/sec-01.vmdk', encrypted: false },
      { key: 2001, label: 'Hard disk 2', capacityBytes: 1024 ** 3, diskMode: 'persistent', backingType: 'VirtualDiskFlatVer2BackingInfo', fileName: '[ds1] sec-01/sec-01_1.vmdk', encrypted: true },
      {
        key: 2002,
        label: 'Hard disk 3',
        capacityBytes: 1024 ** 3,
        diskMode: 'independent_persistent',
        backingType: 'VirtualDiskRawDiskMappingVer1BackingInfo',
        fileName: '[ds1] sec-01/sec-01_2.vmdk',
        encrypted: false,
      },
      { key: 2003, label: 'Hard disk 4', capacityBytes: 1024 ** 3, diskMode: 'independent_nonpersistent', backingType: 'VirtualDiskFlatVer2BackingInfo', fileName: '[ds1] sec-01/sec-01_3.vmdk', encrypted: false },
    ]);
  });

  it('feeds the pre-flight disk checks: the encrypted, RDM and independent disks are blockers', async () => {
    const checks = diskChecks(await client.getVirtualMachine('vm-301'));
    expect(checks.map((c) => [c.code, c.details?.disk])).toEqual([
      ['DISK_ENCRYPTED', 'Hard disk 2'],
      ['DISK_RDM', 'Hard disk 3'],
      ['DISK_INDEPENDENT', 'Hard disk 3'],
      ['DISK_INDEPENDENT', 'Hard disk 4'],
    ]);
    expect(checks.every((c) => c.severity === 'blocker')).toBe(true);
  });
});
