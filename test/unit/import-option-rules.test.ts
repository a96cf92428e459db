import { describe, expect, it } from 'vitest';
import { EnvironmentImportDefaults, ImportOptions } from '../../connector/contract/index.ts';
import { importRolePolicies, keyUsableByRole, missingImportKmsActions } from '../../connector/aws/vmimport-role.ts';
import type { AwsGateway } from '../../connector/aws/gateway.ts';
import { checkImportRole } from '../../connector/doctor/checks.ts';
import { licenseChecks, mergeImportOptions, tagChecks, uefiChecks, windowsEdition } from '../../connector/preflight/import-option-rules.ts';
import { resourceTags } from '../../connector/engine/import-options.ts';
import { licenseOfUsage } from '../../connector/engine/instances.ts';
import { enUS } from '../../ui/i18n/en-US.ts';

const defaults = EnvironmentImportDefaults.parse({
  licenseType: 'AWS',
  encryption: { encrypted: true, kmsKeyId: 'alias/env-key' },
  tags: [
    { key: 'CostCenter', value: '4711' },
    { key: 'Owner', value: 'ops' },
  ],
});

describe('mergeImportOptions', () => {
  it('takes the environment’s defaults when the request leaves the Advanced section alone', () => {
    expect(mergeImportOptions(defaults, undefined, 'uefi')).toEqual({
      options: { licenseType: 'AWS', encrypted: true, kmsKeyId: 'alias/env-key', tags: defaults.tags, bootMode: 'uefi' },
      licenseFromRequest: false,
    });
  });

  it('lets the request replace a default tag’s value and add its own; the request’s licence wins', () => {
    const { options, licenseFromRequest } = mergeImportOptions(defaults, { licenseType: 'BYOL', tags: [{ key: 'CostCenter', value: '9' }, { key: 'App', value: 'x' }] });
    expect(licenseFromRequest).toBe(true);
    expect(options.licenseType).toBe('BYOL');
    expect(options.tags).toEqual([
      { key: 'Owner', value: 'ops' },
      { key: 'CostCenter', value: '9' },
      { key: 'App', value: 'x' },
    ]);
    expect(options.bootMode).toBeUndefined();
  });

  it('encrypts with the environment’s key unless the request names one, and drops the key when the request does not encrypt', () => {
    expect(mergeImportOptions(defaults, { encryption: { encrypted: true } }).options).toMatchObject({ encrypted: true, kmsKeyId: 'alias/env-key' });
    expect(mergeImportOptions(defaults, { encryption: { encrypted: true, kmsKeyId: 'alias/other' } }).options.kmsKeyId).toBe('alias/other');
    const off = mergeImportOptions(defaults, { encryption: { encrypted: false } }).options;
    expect(off.encrypted).toBe(false);
    expect(off.kmsKeyId).toBeUndefined();
  });

  it('leaves the key to AWS’s default (aws/ebs) when neither names one', () => {
    const plain = EnvironmentImportDefaults.parse({});
    expect(mergeImportOptions(plain, { encryption: { encrypted: true } }).options).toEqual({ licenseType: 'AWS', encrypted: true, tags: [] });
  });
});

describe('the contract refuses what EC2 refuses in a tag or a key', () => {
  it('explains each refusal', () => {
    const bad = (o: unknown) => ImportOptions.safeParse(o).error?.issues.map((i) => i.message);
    expect(bad({ tags: [{ key: 'aws:x', value: '' }] })).toEqual(['Tag keys starting with aws: are reserved for AWS.']);
    expect(bad({ tags: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] })).toEqual(['Each tag key may appear only once.']);
    expect(bad({ tags: [{ key: 'k'.repeat(129), value: '' }] })).toEqual(['A tag key has at most 128 characters.']);
    expect(bad({ encryption: { encrypted: false, kmsKeyId: 'alias/x' } })).toEqual(['A KMS key applies only when the volumes are encrypted.']);
    expect(bad({ encryption: { encrypted: true, kmsKeyId: 'my key' } })?.[0]).toMatch(/A KMS key is a key ID/);
  });
});

describe('licence rules', () => {
  it('knows Windows Server from Windows client by the vSphere guest id', () => {
    expect(windowsEdition('windows2019srv_64Guest')).toBe('server');
    expect(windowsEdition('windows9Server64Guest')).toBe('server');
    expect(windowsEdition('windows9_64Guest')).toBe('client');
    expect(windowsEdition('windows11_64Guest')).toBe('client');
    expect(windowsEdition('ubuntu64Guest')).toBeUndefined();
  });

  it('blocks a requested AWS licence for Linux and Windows client, adjusts a default one, blocks Windows Server BYOL', () => {
    expect(licenseChecks('AWS', true, 'Linux', 'ubuntu64Guest').checks.map((c) => [c.code, c.severity])).toEqual([['LICENSE_TYPE_NOT_ALLOWED', 'blocker']]);
    expect(licenseChecks('AWS', false, 'Linux', 'ubuntu64Guest')).toMatchObject({ licenseType: 'BYOL', checks: [{ code: 'LICENSE_TYPE_ADJUSTED', severity: 'info' }] });
    expect(licenseChecks('AWS', true, 'Windows', 'windows11_64Guest').checks[0]?.message).toMatch(/Windows client/);
    expect(licenseChecks('BYOL', true, 'Windows', 'windows2019srv_64Guest').checks[0]?.code).toBe('BYOL_NEEDS_DEDICATED_HOST');
    expect(licenseChecks('AWS', true, 'Windows', 'windows2019srv_64Guest').checks).toEqual([]);
    expect(licenseChecks('BYOL', true, 'Linux', 'rhel8_64Guest').checks).toEqual([]);
  });

  it("words its messages as the seed guide and the form do ('license'), and its fixes name the form's own choices", () => {
    const checks = [
      ...licenseChecks('AWS', true, 'Linux', 'ubuntu64Guest').checks,
      ...licenseChecks('AWS', false, 'Windows', 'windows11_64Guest').checks,
      ...licenseChecks('BYOL', true, 'Windows', 'windows2019srv_64Guest').checks,
      ...licenseChecks('BYOL', false, 'Windows', 'windows2019srv_64Guest').checks,
    ];
    expect(checks).toHaveLength(4);
    for (const c of checks) expect(`${c.message} ${c.fix ?? ''}`).not.toMatch(/licence/i);
    expect(checks[0]?.fix).toContain(enUS['migrate.license.BYOL']);
    expect(checks[2]?.fix).toContain(enUS['migrate.license.AWS']);
    expect(checks[3]?.fix).toContain(enUS['migrate.license.AWS']);
  });
});

describe('tag and boot mode rules', () => {
  it('blocks keys the connector sets and more tags than fit', () => {
    expect(tagChecks([{ key: 'vm2ec2:task-id', value: 'x' }]).map((c) => c.code)).toEqual(['TAG_KEY_RESERVED']);
    expect(tagChecks(Array.from({ length: 41 }, (_, i) => ({ key: `k${i}`, value: '' }))).map((c) => c.code)).toEqual(['TOO_MANY_TAGS']);
    expect(tagChecks(Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: '' })))).toEqual([]);
  });

  it('blocks a UEFI guest only on a type without UEFI', () => {
    const efi = { firmware: 'efi' as const, secureBoot: false, bootMode: 'uefi' as const };
    expect(uefiChecks(efi, 't2.micro', ['legacy-bios']).map((c) => c.code)).toEqual(['INSTANCE_TYPE_NO_UEFI']);
    expect(uefiChecks(efi, 'm5.large', ['legacy-bios', 'uefi'])).toEqual([]);
    expect(uefiChecks({ firmware: 'bios', secureBoot: false, bootMode: 'legacy-bios' }, 't2.micro', ['legacy-bios'])).toEqual([]);
  });

  it('puts the user’s tags next to the connector’s, the user’s Name replacing the VM name', () => {
    const own = [{ Key: 'Name', Value: 'vm-1' }, { Key: 'vm2ec2:task-id', Value: 't' }];
    expect(resourceTags(own, { importOptions: { licenseType: 'AWS', encrypted: false, tags: [{ key: 'Name', value: 'web' }, { key: 'App', value: 'a' }] } })).toEqual([
      { Key: 'vm2ec2:task-id', Value: 't' },
      { Key: 'Name', Value: 'web' },
      { Key: 'App', Value: 'a' },
    ]);
  });

  it('reads the licence model from the usage operation AWS reports', () => {
    expect(licenseOfUsage('RunInstances:0800')).toBe('BYOL');
    expect(licenseOfUsage('RunInstances:0002')).toBe('AWS');
    expect(licenseOfUsage('RunInstances')).toBe('BYOL');
    expect(licenseOfUsage(undefined)).toBeUndefined();
  });
});

describe('may the vmimport role use a KMS key', () => {
  const role = 'arn:aws:iam::123456789012:role/vmimport';
  const root = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' };
  const use = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'];
  const rolePolicy = { Statement: [{ Effect: 'Allow', Action: use, Resource: '*' }] };

  it('when the key policy names the role, or "*" as aws/ebs does', () => {
    expect(keyUsableByRole({ Statement: [{ Effect: 'Allow', Principal: { AWS: role }, Action: use }] }, role, [])).toBeUndefined();
    expect(keyUsableByRole({ Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: use }] }, role, [])).toBeUndefined();
  });

  it('when the key policy delegates to IAM, only if the role’s own policy allows the actions', () => {
    expect(keyUsableByRole({ Statement: [root] }, role, [rolePolicy])).toBeUndefined();
    expect(keyUsableByRole({ Statement: [root] }, role, [])).toEqual({ missing: ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'], where: 'role-policy' });
  });

  it('never when the key policy gives the account only metadata, or denies the role', () => {
    const meta = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['kms:Describe*', 'kms:Get*'] };
    expect(keyUsableByRole({ Statement: [meta] }, role, [rolePolicy])).toEqual({ missing: ['kms:CreateGrant', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'], where: 'key-policy' });
    const deny = { Effect: 'Deny', Principal: { AWS: role }, Action: 'kms:CreateGrant' };
    expect(keyUsableByRole({ Statement: [root, deny] }, role, [rolePolicy])?.missing).toEqual(['kms:CreateGrant']);
  });

  it('checks the wildcard actions as every action they stand for', () => {
    expect(missingImportKmsActions([{ Statement: [{ Effect: 'Allow', Action: ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom'] }] }])).toEqual([
      'kms:GenerateDataKey*',
      'kms:ReEncrypt*',
    ]);
  });
});

describe('the doctor’s role check and the KMS permissions', () => {
  const facts = (statements: object[]) =>
    ({ importRole: async () => ({ roleName: 'vmimport', exists: true, arn: 'arn:aws:iam::123456789012:role/vmimport', trustPolicy: importRolePolicies().trust, policies: [{ Statement: statements }] }) }) as unknown as AwsGateway;

  it('warns (fixable) when the role has everything but the KMS actions, and is content with the policy --fix applies', async () => {
    const withoutKms = importRolePolicies().permissions.Statement.filter((s) => !JSON.stringify(s.Action).includes('kms:'));
    const warned = await checkImportRole(facts(withoutKms));
    expect(warned).toMatchObject({ severity: 'warning', fixable: true, details: { missingKmsActions: ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'] } });
    expect(warned.title).toMatch(/key policy delegates to IAM will fail/);
    expect((await checkImportRole(facts(importRolePolicies().permissions.Statement))).severity).toBe('ok');
  });
});
