import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFaultTally } from '../support/fault-summary.ts';
import { DescribeVpcsCommand, CreateTagsCommand, DeleteTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { generateSelfSigned } from '../../connector/tls.ts';
import { SoapTransport } from '../../connector/vsphere/soap-transport.ts';
import { faultFromDetail, faultFromLocalized, parseXml, VimFault, type XmlValue } from '../../connector/vsphere/soap.ts';
import { Params, readFilters, readTags, readTagSpecifications, paginate } from '../../lab/ec2/query.ts';
import { Ec2Error } from '../../lab/ec2/errors.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labAwsCredentials, LAB_REGIONS } from '../../lab/index.ts';

// Property tests of the two hand-written XML/form codecs: the connector's vim25 response parsing and the EC2
// emulator's Query decoding and XML encoding. Outcome: a value or a typed error, never a crash.
const stats = { soapBodies: 0, vimFaults: 0, ec2Requests: 0, ec2ServerErrors: 0 };

// ---------- vim25 ----------

const xmlName = fc.constantFrom('Envelope', 'Body', 'Fault', 'faultcode', 'faultstring', 'detail', 'NoPermissionFault', 'RetrievePropertiesResponse', 'returnval', 'obj', 'propSet', 'name', 'val', 'privilegeId', 'object', 'missingPrivileges', 'privileges', 'fault', 'localizedMessage', 'x');
const xmlText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('&amp;', '&#34;', '&#xA;', '&#x110000;', '&#99999999999;', '&#x;', '&bogus;', '<![CDATA[x]]>', '<!-- c -->', ']]>', '&', '<'),
);
const attrs = fc.array(fc.constantFrom(' xsi:type="NoPermission"', ' type="VirtualMachine"', ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"', ' a:type="x:y"', ' type=""', ' xsi:type=""'), { maxLength: 3 }).map((a) => a.join(''));
const { element } = fc.letrec<{ element: string }>((tie) => ({
  element: fc
    .tuple(fc.constantFrom('', 'soapenv:', 'vim25:', 'a:b:'), xmlName, attrs, fc.array(fc.oneof({ depthSize: 'small' }, xmlText, tie('element')), { maxLength: 4 }))
    .map(([prefix, name, at, kids]) => `<${prefix}${name}${at}>${kids.join('')}</${prefix}${name}>`),
}));
/** SOAP faults as vCenter shapes them, with arbitrary detail content. */
const soapFault = fc
  .tuple(fc.constantFrom('ServerFaultCode', 'ns:Client', '', 'a:b:c'), xmlText, fc.option(element, { nil: undefined }))
  .map(
    ([code, msg, detail]) =>
      `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>${code}</faultcode><faultstring>${msg}</faultstring>${detail === undefined ? '' : `<detail>${detail}</detail>`}</soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
  );
const soapDoc = fc.oneof(
  soapFault,
  element.map((e) => `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>${e}</soapenv:Body></soapenv:Envelope>`),
  element,
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.integer({ min: 300, max: 3000 }).map((n) => '<a>'.repeat(n) + '</a>'.repeat(n)),
);
/** Mangling: truncation and a random splice, applied to any document. */
const mangled = fc
  .tuple(soapDoc, fc.nat(), fc.nat(), fc.string({ maxLength: 10 }))
  .map(([doc, cut, at, junk]) => [doc, doc.slice(0, doc.length ? cut % (doc.length + 1) : 0), doc.slice(0, at % (doc.length + 1)) + junk + doc.slice(at % (doc.length + 1))])
  .chain((variants) => fc.constantFrom(...variants));

let soapServer: Server;
let soapUrl: string;
let soapCa: string;
let nextBody = '';
let nextStatus = 200;

beforeAll(async () => {
  const tls = await generateSelfSigned(['127.0.0.1']);
  soapCa = tls.certPem;
  soapServer = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(nextStatus, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(nextBody);
    });
  });
  await new Promise<void>((r) => soapServer.listen(0, '127.0.0.1', r));
  soapUrl = `https://127.0.0.1:${(soapServer.address() as AddressInfo).port}/sdk`;
});

describe('vim25 response parsing', () => {
  it('parseXml returns a tree or throws an Error for any input', () => {
    fc.assert(
      fc.property(mangled, (xml) => {
        try {
          const doc = parseXml(xml);
          expect(typeof doc).toBe('object');
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('fault extraction turns any parsed tree into a VimFault', () => {
    fc.assert(
      fc.property(element, fc.option(fc.string({ maxLength: 30 }), { nil: undefined }), (xml, tag) => {
        let tree: XmlValue;
        try {
          tree = parseXml(xml) as XmlValue;
        } catch {
          return;
        }
        for (const f of [faultFromDetail(tag, tree, 'msg'), faultFromLocalized(tree)]) {
          expect(f).toBeInstanceOf(VimFault);
          expect(typeof f.faultType).toBe('string');
          expect(typeof f.message).toBe('string');
        }
      }),
      { numRuns: 800 },
    );
  });

  it('SoapTransport.call answers a value, a VimFault or an Error naming vCenter for any response', async () => {
    const transport = new SoapTransport({ sdkUrl: soapUrl, ca: soapCa, timeoutMs: 10_000 });
    try {
      await fc.assert(
        fc.asyncProperty(mangled, fc.constantFrom(200, 200, 500, 404), async (body, status) => {
          nextBody = body;
          nextStatus = status;
          stats.soapBodies++;
          try {
            await transport.call('RetrieveProperties', { type: 'PropertyCollector', value: 'propertyCollector' });
          } catch (err) {
            if (err instanceof VimFault) {
              stats.vimFaults++;
              // An empty xsi:type yields faultType '' (reported to the vim25 owner); the error is still typed.
              expect(typeof err.faultType).toBe('string');
            } else {
              expect(err).toBeInstanceOf(Error);
              expect((err as Error).message, String((err as Error).stack)).toMatch(/^vCenter /);
            }
          }
        }),
        { numRuns: 400 },
      );
    } finally {
      transport.close();
    }
  });
});

// ---------- EC2 emulator ----------

const queryKey = fc.oneof(
  fc.constantFrom('Filter.1.Name', 'Filter.1.Value.1', 'Filter.0.Name', 'Filter.-1.Name', 'Filter.1e3.Name', 'Filter.01.Name', 'Filters.1.Name', 'Tag.1.Key', 'Tag.1.Value', 'Tag.__proto__.Key', 'TagSpecification.1.ResourceType', 'TagSpecification.1.Tag.1.Key', 'ResourceId.1', 'ResourceId.member.1', 'MaxResults', 'NextToken'),
  fc.string({ maxLength: 30 }),
);
const queryEntries = fc.array(fc.tuple(queryKey, fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', 'vpc', '*', '?', 'offset:-1', 'b2Zmc2V0OjU'))), { maxLength: 12 });

describe('EC2 emulator request decoding', () => {
  it('decoders return values or throw an Ec2Error for any parameter set', () => {
    fc.assert(
      fc.property(queryEntries, (entries) => {
        const p = new Params(entries);
        for (const decode of [() => readFilters(p), () => readTags(p), () => readTagSpecifications(p, 'vpc'), () => p.list('ResourceId'), () => paginate([1, 2, 3], p.int('MaxResults'), p.str('NextToken'))]) {
          try {
            decode();
          } catch (err) {
            expect(err, String((err as Error).stack)).toBeInstanceOf(Ec2Error);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('EC2 emulator over HTTP', () => {
  let emu: Ec2EmulatorHandle;
  let client: EC2Client;
  let vpcId: string;
  beforeAll(async () => {
    emu = await startEc2Emulator({ s3: { endpoint: 'http://127.0.0.1:9', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, stageMs: 50, regions: LAB_REGIONS });
    client = new EC2Client({ region: 'us-east-1', endpoint: emu.url, credentials: labAwsCredentials() });
    vpcId = (await client.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
  });
  afterAll(async () => {
    client?.destroy();
    await emu?.stop();
  });

  const actions = ['DescribeVpcs', 'DescribeSubnets', 'DescribeSecurityGroups', 'DescribeInstances', 'DescribeImages', 'DescribeImportImageTasks', 'DescribeExportTasks', 'DescribeNetworkInterfaces', 'CreateTags', 'DeleteTags', 'ImportImage', 'RunInstances', 'CreateInstanceExportTask', 'CancelImportTask', 'TerminateInstances', 'DescribeInstanceTypeOfferings', 'NoSuchAction'];

  it('arbitrary signed Query requests never make the emulator fail internally', async () => {
    const auth = `AWS4-HMAC-SHA256 Credential=${labAwsCredentials().accessKeyId}/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00`;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...actions), queryEntries, fc.string({ unit: 'binary', maxLength: 100 }), async (action, entries, junk) => {
        const form = new URLSearchParams([['Action', action], ['Version', '2016-11-15'], ...entries]).toString() + (junk ? `&${junk}` : '');
        const res = await fetch(emu.url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
        const text = await res.text();
        stats.ec2Requests++;
        if (res.status >= 500) stats.ec2ServerErrors++;
        expect(res.status, `${action} ${form.slice(0, 300)} → ${text.slice(0, 300)}`).toBeLessThan(500);
        expect(text).toMatch(/^<\?xml/);
      }),
      { numRuns: 600, endOnFailure: true },
    );
  });

  // Tag text as EC2 allows it (letters, digits, spaces, and + - = . _ : / @), plus XML specials and non-ASCII.
  const tagText = (min: number, max: number) =>
    fc.string({ unit: fc.oneof(fc.constantFrom('<', '>', '&', '"', "'", ' ', '+', '-', '=', '.', '_', ':', '/', '@', 'é', '漢', '😀'), fc.constantFrom(...'abcXYZ019')), minLength: min, maxLength: max });

  it('tags round-trip through the real SDK: encode, decode, XML and filter', async () => {
    await fc.assert(
      // aws: in any case is reserved (EC2 refuses it).
      fc.asyncProperty(tagText(1, 40).filter((k) => !k.toLowerCase().startsWith('aws:')), tagText(0, 60), async (key, value) => {
        await client.send(new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: key, Value: value }] }));
        const byId = (await client.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs![0]!;
        expect(byId.Tags?.find((t) => t.Key === key)?.Value ?? '').toBe(value);
        // The emulator drops empty filter values (as it does every empty Query parameter), so only non-empty ones are filtered on.
        if (value !== '') {
          const byTag = await client.send(new DescribeVpcsCommand({ Filters: [{ Name: `tag:${key}`, Values: [value] }] }));
          expect(byTag.Vpcs?.map((v) => v.VpcId)).toContain(vpcId);
        }
        // EC2 allows 50 tags per resource: each run removes its own (the seeded Name tag stays).
        if (key !== 'Name') await client.send(new DeleteTagsCommand({ Resources: [vpcId], Tags: [{ Key: key }] }));
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });
});

afterAll(async () => {
  recordFaultTally({ suite: 'abuse-parsers', faultsInjected: 0, migrationsCompleted: 0, migrationsFailed: 0, tasksLost: 0, duplicates: 0, orphans: 0, requestsFuzzed: stats.soapBodies + stats.ec2Requests, serverErrors: stats.ec2ServerErrors });
  console.log(
    `abuse summary (parsers): ${stats.soapBodies} mangled vim25 responses (${stats.vimFaults} typed faults), ${stats.ec2Requests} fuzzed EC2 Query requests, ${stats.ec2ServerErrors} emulator server errors`,
  );
  await new Promise<void>((r) => (soapServer ? soapServer.close(() => r()) : r()));
});
