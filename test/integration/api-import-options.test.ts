// Issue 18 through the API against the lab: environment import defaults, the KMS key list, the pre-flight's
// import-option blockers, and migrations whose licence, encryption, boot mode and tags are read back from the
// emulated AWS through the real SDK clients.
import { readFile } from 'node:fs/promises';
import { DescribeImagesCommand, DescribeImportImageTasksCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, type Tag } from '@aws-sdk/client-ec2';
import { PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiErrorBody,
  AuditPage,
  Environment,
  ImportAuthorization,
  InstanceList,
  InstanceTypeList,
  KmsKeyList,
  MigrationAccepted,
  MigrationTask,
  PreflightResult,
  type PreflightCheck,
} from '../../connector/contract/index.ts';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { el, toMoRef, wrap } from '../../connector/vsphere/soap.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;
let kms: KMSClient;

const DEFAULTS = {
  licenseType: 'AWS' as const,
  encryption: { encrypted: true, kmsKeyId: 'alias/vm2ec2-lab' },
  tags: [
    { key: 'CostCenter', value: '4711' },
    { key: 'Owner', value: 'platform team' },
  ],
};

/** Changes a lab VM the way a vSphere administrator would (Edit Settings), with the administrator's session. */
async function reconfigure(vmName: string, specXml: string): Promise<void> {
  const { users } = JSON.parse(await readFile(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] };
  const user = users.find((u) => u.name === 'administrator@vsphere.local')!;
  const vim = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
  try {
    await vim.login(user.name, user.password);
    const task = await vim.invoke('ReconfigVM_Task', { type: 'VirtualMachine', value: vms.get(vmName)! }, wrap('spec', specXml));
    await vim.waitForTask(toMoRef(task)!);
    await vim.logout();
  } finally {
    vim.close();
  }
}

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const { vpcId, subnets, groups } = await regionNetwork(admin);
  subnetId = subnets.find((s) => s.name === 'lab-app-a')!.id;
  groupId = groups.find((g) => g.name === 'web')!.id;
  const res = await admin.call('POST', '/environments', { name: 'Options', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId], importDefaults: DEFAULTS });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  env = Environment.parse(res.body);
  await admin.call('PUT', `/environments/${env.id}/permissions`, {
    permissions: [
      { userName: 'operator@vsphere.local', role: 'General' },
      { userName: 'readonly@vsphere.local', role: 'ReadOnly' },
    ],
  });
  await lab.iamClient().send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  kms = new KMSClient({ region: 'us-east-1', endpoint: lab.ec2.kmsUrl, credentials: labAwsCredentials() });
  // A UEFI guest with secure boot, and a Windows 10 guest (the lab's inventory has neither).
  await reconfigure('ubuntu-web-01', el('firmware', 'efi') + wrap('bootOptions', el('efiSecureBootEnabled', true)));
  await reconfigure('debian-tools-01', el('guestId', 'windows9_64Guest'));
}, 180_000);
afterAll(async () => {
  kms?.destroy();
  await lab?.stop();
});

const keyArn = async (alias: string) => (await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.Arn!;

async function preflight(user: ApiUser, vmName: string, query: Record<string, string> = {}): Promise<PreflightResult> {
  const qs = new URLSearchParams({ environmentId: env.id, ...query });
  const res = await user.call('GET', `/vms/${vms.get(vmName)}/preflight?${qs.toString()}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return PreflightResult.parse(res.body);
}
const check = (r: PreflightResult, code: PreflightCheck['code']) => r.checks.find((c) => c.code === code);

async function migrate(user: ApiUser, vmName: string, body: Record<string, unknown>) {
  const vmId = vms.get(vmName)!;
  const auth = await user.call('POST', '/import-authorizations', { environmentId: env.id, vmId });
  expect(auth.status, JSON.stringify(auth.body)).toBe(201);
  const { token } = ImportAuthorization.parse(auth.body);
  return user.call('POST', '/migrations', { token, environmentId: env.id, vmId, subnetId, securityGroupIds: [groupId], instanceType: 'm5.large', ...body });
}

async function finished(user: ApiUser, id: string): Promise<MigrationTask> {
  let t = MigrationTask.parse((await user.call('GET', `/migrations/${id}`)).body);
  for (let i = 0; i < 1500 && !['completed', 'failed', 'cancelled'].includes(t.state); i++) {
    await new Promise((r) => setTimeout(r, 100));
    t = MigrationTask.parse((await user.call('GET', `/migrations/${id}`)).body);
  }
  return t;
}

const tagMap = (tags: Tag[] | undefined) => Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));

describe('environment import defaults', () => {
  it('are stored, returned to the environment’s users, replaced by the administrator and audited', async () => {
    expect(env.importDefaults).toEqual(DEFAULTS);
    const seen = Environment.parse((await operator.call('GET', `/environments/${env.id}`)).body);
    expect(seen.importDefaults).toEqual(DEFAULTS);
    const changed = { ...DEFAULTS, tags: [...DEFAULTS.tags, { key: 'Project', value: 'Apollo' }] };
    const put = await admin.call('PUT', `/environments/${env.id}`, {
      name: env.name,
      region: env.region,
      vpcId: env.vpcId,
      subnetIds: env.subnetIds,
      securityGroupIds: env.securityGroupIds,
      importDefaults: changed,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(Environment.parse(put.body).importDefaults).toEqual(changed);
    const audit = AuditPage.parse((await admin.call('GET', `/audit?action=environment.update&environmentId=${env.id}`)).body).entries[0]!;
    expect(audit.details).toMatchObject({ before: { importDefaults: DEFAULTS }, after: { importDefaults: changed } });
    env = Environment.parse(put.body);
  });

  it('refuses a tag key AWS reserves, saying what to fix', async () => {
    const res = await admin.call('PUT', `/environments/${env.id}`, {
      name: env.name,
      region: env.region,
      vpcId: env.vpcId,
      subnetIds: env.subnetIds,
      securityGroupIds: env.securityGroupIds,
      importDefaults: { ...DEFAULTS, tags: [{ key: 'aws:cost', value: 'x' }] },
    });
    expect(res.status).toBe(400);
    expect(ApiErrorBody.parse(res.body).message).toMatch(/aws: are reserved for AWS/);
  });

  it('refuses a default KMS key the import cannot use, naming it and why', async () => {
    const put = (kmsKeyId: string) =>
      admin.call('PUT', `/environments/${env.id}`, {
        name: env.name,
        region: env.region,
        vpcId: env.vpcId,
        subnetIds: env.subnetIds,
        securityGroupIds: env.securityGroupIds,
        importDefaults: { ...DEFAULTS, encryption: { encrypted: true, kmsKeyId } },
      });
    const missing = await put('alias/no-such-key');
    expect(missing.status).toBe(422);
    expect(ApiErrorBody.parse(missing.body)).toMatchObject({ code: 'ENVIRONMENT_INVALID', details: { kmsKeyId: 'alias/no-such-key' } });
    expect(ApiErrorBody.parse(missing.body).message).toMatch(/default KMS key alias\/no-such-key: There is no KMS key alias\/no-such-key in us-east-1/);
    const disabled = await put('alias/vm2ec2-lab-disabled');
    expect(ApiErrorBody.parse(disabled.body).message).toMatch(/default KMS key alias\/vm2ec2-lab-disabled: The key is disabled/);
    expect(Environment.parse((await admin.call('GET', `/environments/${env.id}`)).body).importDefaults.encryption.kmsKeyId).toBe('alias/vm2ec2-lab');
  });
});

describe('GET /environments/{id}/kms-keys', () => {
  it('lists every key, usable ones first, each unusable one with the reason', async () => {
    const res = await operator.call('GET', `/environments/${env.id}/kms-keys`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { keys } = KmsKeyList.parse(res.body);
    const byAlias = (a: string) => keys.find((k) => k.aliases.includes(a));
    expect(byAlias('alias/vm2ec2-lab')).toMatchObject({ usable: true, arn: await keyArn('alias/vm2ec2-lab') });
    expect(byAlias('alias/vm2ec2-lab')?.reason).toBeUndefined();
    expect(byAlias('alias/aws/ebs')).toMatchObject({ usable: true });
    expect(byAlias('alias/vm2ec2-lab-app-team')).toMatchObject({ usable: false, reason: expect.stringMatching(/key policy does not let the VM Import service role "vmimport" use the key \(kms:CreateGrant/) });
    expect(byAlias('alias/vm2ec2-lab-disabled')).toMatchObject({ usable: false, reason: expect.stringMatching(/^The key is disabled\. Enable it in AWS KMS/) });
    expect(byAlias('alias/vm2ec2-lab-rsa')).toMatchObject({ usable: false, reason: expect.stringMatching(/asymmetric \(RSA_2048\)/) });
    expect(byAlias('alias/vm2ec2-lab-retired')).toMatchObject({ usable: false, reason: expect.stringMatching(/scheduled for deletion on \d{4}-\d\d-\d\d/) });
    const firstUnusable = keys.findIndex((k) => !k.usable);
    expect(keys.slice(firstUnusable).every((k) => !k.usable)).toBe(true);
  });

  it('is refused (and audited) to a user who may not migrate into the environment', async () => {
    const res = await readonly.call('GET', `/environments/${env.id}/kms-keys`);
    expect(res.status).toBe(403);
    expect(ApiErrorBody.parse(res.body).code).toBe('NO_ENVIRONMENT_PERMISSION');
    const audit = AuditPage.parse((await admin.call('GET', `/audit?action=environment.access&environmentId=${env.id}`)).body).entries;
    expect(audit.some((e) => e.actor === 'readonly@vsphere.local' && e.outcome === 'denied')).toBe(true);
  });
});

describe('pre-flight: import options', () => {
  it('states the VM’s firmware as a fact: UEFI with secure boot, or BIOS', async () => {
    expect((await preflight(operator, 'ubuntu-web-01')).firmware).toEqual({ firmware: 'efi', secureBoot: true, bootMode: 'uefi' });
    expect((await preflight(operator, 'app-multidisk-01')).firmware).toEqual({ firmware: 'bios', secureBoot: false, bootMode: 'legacy-bios' });
  });

  it('blocks an AWS-provided licence for Linux, and adjusts the environment’s default for it', async () => {
    const asked = await preflight(operator, 'app-multidisk-01', { platform: 'Linux', licenseType: 'AWS' });
    expect(check(asked, 'LICENSE_TYPE_NOT_ALLOWED')).toMatchObject({ severity: 'blocker', fix: expect.stringMatching(/choose Bring your own license \(BYOL\)/) });
    const byDefault = await preflight(operator, 'app-multidisk-01', { platform: 'Linux' });
    expect(check(byDefault, 'LICENSE_TYPE_NOT_ALLOWED')).toBeUndefined();
    expect(check(byDefault, 'LICENSE_TYPE_ADJUSTED')).toMatchObject({ severity: 'info', details: { licenseType: 'BYOL' } });
  });

  it('blocks BYOL for Windows Server (Dedicated Hosts) and an AWS licence for Windows client', async () => {
    const server = await preflight(admin, 'win2016-dc-01', { platform: 'Windows', licenseType: 'BYOL' });
    expect(check(server, 'BYOL_NEEDS_DEDICATED_HOST')).toMatchObject({ severity: 'blocker', message: expect.stringMatching(/Dedicated Hosts/) });
    expect(check(await preflight(admin, 'win2016-dc-01', { platform: 'Windows' }), 'BYOL_NEEDS_DEDICATED_HOST')).toBeUndefined();
    const client = await preflight(admin, 'debian-tools-01', { platform: 'Windows', licenseType: 'AWS' });
    expect(check(client, 'LICENSE_TYPE_NOT_ALLOWED')?.message).toMatch(/Windows client/);
    expect(check(await preflight(admin, 'debian-tools-01', { platform: 'Windows', licenseType: 'BYOL' }), 'LICENSE_TYPE_NOT_ALLOWED')).toBeUndefined();
  });

  it('blocks a KMS key that is missing, unusable, or that the vmimport role may not use', async () => {
    const q = (kmsKeyId: string) => preflight(operator, 'app-multidisk-01', { platform: 'Linux', encrypted: 'true', kmsKeyId });
    expect(check(await q('alias/no-such-key'), 'KMS_KEY_NOT_FOUND')).toMatchObject({ severity: 'blocker', message: expect.stringMatching(/There is no KMS key alias\/no-such-key in us-east-1/) });
    expect(check(await q('alias/vm2ec2-lab-disabled'), 'KMS_KEY_NOT_USABLE')?.message).toMatch(/disabled/);
    expect(check(await q('alias/vm2ec2-lab-rsa'), 'KMS_KEY_NOT_USABLE')?.message).toMatch(/asymmetric/);
    expect(check(await q('alias/vm2ec2-lab-retired'), 'KMS_KEY_NOT_USABLE')?.message).toMatch(/scheduled for deletion/);
    expect(check(await q('alias/vm2ec2-lab-app-team'), 'KMS_KEY_NOT_ALLOWED_FOR_IMPORT_ROLE')).toMatchObject({ severity: 'blocker', fix: expect.stringMatching(/kms:CreateGrant/) });
    const fine = await q('alias/vm2ec2-lab');
    expect(fine.checks.filter((c) => c.code.startsWith('KMS_'))).toEqual([]);
  });

  it('blocks a UEFI guest on an instance type without UEFI', async () => {
    const r = await preflight(operator, 'ubuntu-web-01', { platform: 'Linux', instanceType: 't2.micro' });
    expect(check(r, 'INSTANCE_TYPE_NO_UEFI')).toMatchObject({ severity: 'blocker', message: expect.stringMatching(/UEFI \(secure boot\).*t2\.micro supports only legacy-bios/) });
    expect(check(await preflight(operator, 'ubuntu-web-01', { platform: 'Linux', instanceType: 'm5.large' }), 'INSTANCE_TYPE_NO_UEFI')).toBeUndefined();
  });

  it('offers only instance types that support UEFI when the form asks for a UEFI guest', async () => {
    const all = InstanceTypeList.parse((await operator.call('GET', `/environments/${env.id}/instance-types`)).body).instanceTypes.map((t) => t.name);
    const uefi = InstanceTypeList.parse((await operator.call('GET', `/environments/${env.id}/instance-types?bootMode=uefi`)).body).instanceTypes.map((t) => t.name);
    expect(all).toEqual(expect.arrayContaining(['t2.micro', 'm5.large']));
    expect(uefi).toContain('m5.large');
    expect(uefi.filter((t) => t.startsWith('t2.'))).toEqual([]);
    expect(uefi.length).toBeLessThan(all.length);
  });

  it('refuses a migration whose tags use a key the connector sets itself, before anything is copied', async () => {
    const res = await migrate(operator, 'app-multidisk-01', { platform: 'Linux', importOptions: { tags: [{ key: 'vm2ec2:task-id', value: 'mine' }] } });
    expect(res.status).toBe(422);
    const body = ApiErrorBody.parse(res.body);
    expect(body.code).toBe('PREFLIGHT_BLOCKED');
    expect(body.details).toMatchObject({ checks: [expect.objectContaining({ code: 'TAG_KEY_RESERVED' })] });
  });
});

describe('migrations with import options', () => {
  it('imports and launches a UEFI guest as UEFI, encrypted with the environment’s key, with the tags on every resource', async () => {
    const res = await migrate(operator, 'ubuntu-web-01', {
      platform: 'Linux',
      importOptions: { tags: [{ key: 'CostCenter', value: '9999' }, { key: 'Ticket', value: 'CHG-42' }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const t = await finished(operator, MigrationAccepted.parse(res.body).id);
    expect(t.state, t.error).toBe('completed');
    const arn = await keyArn('alias/vm2ec2-lab');
    const wanted = { CostCenter: '9999', Owner: 'platform team', Project: 'Apollo', Ticket: 'CHG-42' };
    expect(t.importOptions).toEqual({
      licenseType: 'BYOL',
      encrypted: true,
      kmsKeyId: 'alias/vm2ec2-lab',
      tags: [
        { key: 'Owner', value: 'platform team' },
        { key: 'Project', value: 'Apollo' },
        { key: 'CostCenter', value: '9999' },
        { key: 'Ticket', value: 'CHG-42' },
      ],
      bootMode: 'uefi',
    });
    expect(t.applied).toMatchObject({ licenseType: 'BYOL', bootMode: 'uefi', encrypted: true, kmsKeyId: arn });
    expect(tagMap(t.applied?.tags?.map((x) => ({ Key: x.key, Value: x.value })))).toMatchObject(wanted);

    // Read back from AWS, resource by resource.
    const ec2 = lab.ec2Client('us-east-1');
    const [task] = (await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [t.importTaskId!] }))).ImportImageTasks ?? [];
    expect(task).toMatchObject({ Encrypted: true, KmsKeyId: arn, LicenseType: 'BYOL', BootMode: 'uefi' });
    expect(tagMap(task?.Tags)).toMatchObject({ ...wanted, 'vm2ec2:task-id': t.id });
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [t.imageId!] }))).Images ?? [];
    expect(image?.BootMode).toBe('uefi');
    expect(tagMap(image?.Tags)).toMatchObject(wanted);
    const snapshotIds = (image?.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((s): s is string => !!s);
    expect(snapshotIds.length).toBeGreaterThan(0);
    for (const s of (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? []) {
      expect(s).toMatchObject({ Encrypted: true, KmsKeyId: arn });
      expect(tagMap(s.Tags)).toMatchObject(wanted);
    }
    const inst = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [t.instanceId!] }))).Reservations?.[0]?.Instances?.[0];
    expect(inst?.CurrentInstanceBootMode).toBe('uefi');
    expect(tagMap(inst?.Tags)).toMatchObject(wanted);
    const volumes = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [t.instanceId!] }] }))).Volumes ?? [];
    expect(volumes.length).toBeGreaterThan(0);
    for (const v of volumes) {
      expect(v).toMatchObject({ Encrypted: true, KmsKeyId: arn });
      expect(tagMap(v.Tags)).toMatchObject(wanted);
    }

    // The Imported Instances list reports what AWS applied.
    const listed = InstanceList.parse((await operator.call('GET', `/instances?environmentId=${env.id}`)).body).items.find((i) => i.instanceId === t.instanceId);
    expect(listed?.applied).toMatchObject({ licenseType: 'BYOL', bootMode: 'uefi', encrypted: true, kmsKeyId: arn });
  }, 240_000);

  it('imports a Windows client VM with its own licence (BYOL), unencrypted when the migration says so', async () => {
    const detect = lab.ec2.emulator.detectGuestOs({ match: () => true, os: 'windows-client' });
    try {
      const res = await migrate(admin, 'debian-tools-01', { platform: 'Windows', importOptions: { licenseType: 'BYOL', encryption: { encrypted: false } } });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const t = await finished(admin, MigrationAccepted.parse(res.body).id);
      expect(t.state, t.error).toBe('completed');
      expect(t.importOptions).toMatchObject({ licenseType: 'BYOL', encrypted: false, bootMode: 'legacy-bios' });
      expect(t.importOptions?.kmsKeyId).toBeUndefined();
      expect(t.applied).toMatchObject({ licenseType: 'BYOL', usageOperation: 'RunInstances:0800', bootMode: 'legacy-bios', encrypted: false });
      const [task] = (await lab.ec2Client('us-east-1').send(new DescribeImportImageTasksCommand({ ImportTaskIds: [t.importTaskId!] }))).ImportImageTasks ?? [];
      expect(task).toMatchObject({ LicenseType: 'BYOL', Encrypted: false });
      const listed = InstanceList.parse((await admin.call('GET', `/instances?environmentId=${env.id}`)).body).items.find((i) => i.instanceId === t.instanceId);
      expect(listed?.applied).toMatchObject({ licenseType: 'BYOL', usageOperation: 'RunInstances:0800', encrypted: false });
    } finally {
      detect();
    }
  }, 240_000);
});
