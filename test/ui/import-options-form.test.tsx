// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { EnvironmentImportDefaults, KmsKeyOption } from '../../connector/contract/index.ts';
import { tagProblems } from '../../ui/features/migrate/formRules.ts';
import { importOptionsOf, newTagRow } from '../../ui/features/migrate/importOptions.ts';
import { env, noDefaults } from './fixtures.ts';
import { begin, renderModal, useMigrateFormConnector } from './migrate-fixture.tsx';

// The migration form's Advanced section (issue 18): licence type, encryption with a KMS key, boot mode, tags.

const key = (alias: string, id: string, over: Partial<KmsKeyOption> = {}): KmsKeyOption => ({
  keyId: id,
  arn: `arn:aws:kms:us-east-1:111122223333:key/${id}`,
  aliases: [alias],
  description: '',
  usable: true,
  ...over,
});
const labKey = key('alias/vm2ec2-lab', '1234abcd-12ab-34cd-56ef-1234567890ab', { description: 'vm2ec2 lab imports' });
const teamKey = key('alias/team-key', '2234abcd-12ab-34cd-56ef-1234567890ab');
const ebsKey = key('alias/aws/ebs', '4234abcd-12ab-34cd-56ef-1234567890ab', { description: 'Default key that protects my EBS volumes when no other key is defined' });
const disabledKey = key('alias/retired', '3234abcd-12ab-34cd-56ef-1234567890ab', { usable: false, reason: 'The key is disabled. Enable it in AWS KMS, or choose another key.' });

const fx = useMigrateFormConnector({ id: 'mig-000001', idKind: 'import', state: 'running' });

const advancedHeader = () => screen.findByRole('button', { name: /^Advanced/ });
const openAdvanced = async () => {
  const header = await advancedHeader();
  if (header.getAttribute('aria-expanded') !== 'true') fireEvent.click(header);
  // The section's fields arrive in a chunk of their own the first time it opens.
  await screen.findByRole('radio', { name: 'AWS-provided license' });
  return header;
};
const kmsSelect = () => screen.getByRole('combobox', { name: 'KMS key' }) as HTMLSelectElement;
const ready = () => waitFor(() => expect(begin().disabled).toBe(false));

describe('Advanced section of Migrate VM to EC2', () => {
  it('is collapsed, says what the import will do, and starts from the environment defaults, which an untouched form does not resend', async () => {
    fx.keys = [labKey, teamKey];
    fx.firmware = { firmware: 'efi', secureBoot: true, bootMode: 'uefi' };
    fx.environments = [
      env({ importDefaults: { licenseType: 'BYOL', encryption: { encrypted: true, kmsKeyId: 'alias/team-key' }, tags: [{ key: 'CostCenter', value: '4711' }] } }),
    ];
    renderModal();
    const header = await advancedHeader();
    expect(header.getAttribute('aria-expanded')).toBe('false');
    expect(screen.queryByRole('radio', { name: 'Bring your own license (BYOL)' })).toBeNull();
    // The collapsed header still shows the defaults (and the boot mode, once the pre-flight has read the firmware).
    await waitFor(() => expect(header.textContent).toBe('AdvancedBring your own license (BYOL) · Encrypted · UEFI · 1 tag(s)'));

    fireEvent.click(header);
    expect(header.getAttribute('aria-expanded')).toBe('true');
    expect((await screen.findByRole('radio', { name: 'Bring your own license (BYOL)' }) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByRole('radio', { name: 'AWS-provided license' }) as HTMLInputElement).checked).toBe(false);
    expect((screen.getByRole('checkbox', { name: 'Encrypt the imported volumes (Amazon EBS encryption)' }) as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(kmsSelect().selectedOptions[0]?.textContent).toBe('Environment default: alias/team-key'));
    // The default key is offered once, as the default, not again in the list.
    expect([...kmsSelect().options].map((o) => o.textContent)).toEqual(['Environment default: alias/team-key', 'alias/vm2ec2-lab · vm2ec2 lab imports']);
    expect(screen.getByText('UEFI (VM firmware: EFI, Secure Boot enabled)')).toBeTruthy();
    const inherited = document.querySelector('[data-test="migrate-tags-inherited"]')!;
    expect(inherited.textContent).toContain('CostCenter = 4711');
    // The AWS rule for this guest's OS, where the licence is chosen.
    expect(screen.getByText(/AWS imports Linux only with BYOL/)).toBeTruthy();

    await ready();
    fireEvent.click(begin());
    await screen.findByText(/Import task ID/);
    expect(fx.migrationBodies).toHaveLength(1);
    expect(fx.migrationBodies[0]).not.toHaveProperty('importOptions');
    expect(fx.kmsCalls).toContain('env-prod');
  });

  it('lists a key the import cannot use as disabled with its reason, and names a default key that became unusable', async () => {
    fx.keys = [labKey, disabledKey, ebsKey];
    fx.environments = [env({ importDefaults: { ...noDefaults, encryption: { encrypted: true, kmsKeyId: 'alias/retired' } } })];
    renderModal();
    await openAdvanced();
    // With an environment key as the default, aws/ebs is a choice of its own.
    await waitFor(() => expect([...kmsSelect().options].map((o) => o.value)).toEqual(['', 'alias/vm2ec2-lab', 'alias/aws/ebs']));
    const [first, lab] = [...kmsSelect().options];
    expect(first!.textContent).toBe('Environment default: alias/retired (cannot be used: The key is disabled. Enable it in AWS KMS, or choose another key.)');
    expect(lab!.disabled).toBe(false);
    // The environment's default key is unusable: Begin stays disabled and the footer names the key and why.
    const problem = await screen.findByRole('button', { name: /^KMS key: alias\/retired cannot be used: The key is disabled/ });
    expect(begin().disabled).toBe(true);
    expect(begin().getAttribute('aria-describedby')).toBe(problem.parentElement!.id);
    fireEvent.change(kmsSelect(), { target: { value: 'alias/vm2ec2-lab' } });
    await ready();

    // Where the environment has no default key, the unusable key is listed, disabled, with its reason.
    cleanup();
    fx.environments = [env()];
    renderModal();
    await openAdvanced();
    fireEvent.click(screen.getByRole('checkbox', { name: 'Encrypt the imported volumes (Amazon EBS encryption)' }));
    // Without one, the first option is aws/ebs, which the list then does not repeat.
    await waitFor(() => expect([...kmsSelect().options].map((o) => o.value)).toEqual(['', 'alias/vm2ec2-lab', 'alias/retired']));
    const retired = [...kmsSelect().options].find((o) => o.value === 'alias/retired')!;
    expect(retired.disabled).toBe(true);
    expect(retired.textContent).toBe('alias/retired (cannot be used: The key is disabled. Enable it in AWS KMS, or choose another key.)');
    expect(kmsSelect().options[0]!.textContent).toBe('AWS managed key (aws/ebs)');
  });

  it('checks tag keys as EC2 does while the user types, and names the problem in the footer', async () => {
    fx.environments = [env({ importDefaults: { ...noDefaults, tags: [{ key: 'Owner', value: 'platform-team' }] } })];
    renderModal();
    await openAdvanced();
    await ready();
    fireEvent.click(screen.getByRole('button', { name: 'Add tag' }));
    // A row left empty is no tag and no error.
    expect(screen.queryByRole('alert')).toBeNull();
    expect(begin().disabled).toBe(false);
    const keyInput = screen.getByRole('textbox', { name: 'Key of tag 1' });
    fireEvent.change(keyInput, { target: { value: 'aws:owner' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Tag keys starting with aws: are reserved for AWS.');
    expect(keyInput.getAttribute('aria-invalid')).toBe('true');
    expect(begin().disabled).toBe(true);
    const footer = screen.getByRole('button', { name: 'Tag 1: Tag keys starting with aws: are reserved for AWS.' });
    fireEvent.click(footer);
    expect(document.activeElement).toBe(keyInput);

    // A key of the environment's is replaced, which the inherited list says.
    fireEvent.change(keyInput, { target: { value: 'Owner' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Value of tag 1' }), { target: { value: 'web-team' } });
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    expect(document.querySelector('[data-test="migrate-tags-inherited"] li[data-key="Owner"]')!.textContent).toContain('(replaced by your value)');
    // The same key twice in the migration's own tags is refused.
    fireEvent.click(screen.getByRole('button', { name: 'Add tag' }));
    fireEvent.change(screen.getByRole('textbox', { name: 'Key of tag 2' }), { target: { value: 'Owner' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Each tag key may appear only once.');
    fireEvent.click(screen.getByRole('button', { name: 'Remove tag 2' }));
    await ready();
  });

  it('sends what differs from the environment as importOptions, and has the pre-flight check it first', async () => {
    fx.keys = [labKey, teamKey];
    fx.environments = [env()];
    renderModal();
    await openAdvanced();
    await ready();
    fireEvent.click(screen.getByRole('radio', { name: 'Bring your own license (BYOL)' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'Encrypt the imported volumes (Amazon EBS encryption)' }));
    await waitFor(() => expect(kmsSelect().options).toHaveLength(3));
    fireEvent.change(kmsSelect(), { target: { value: 'alias/vm2ec2-lab' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add tag' }));
    fireEvent.change(screen.getByRole('textbox', { name: 'Key of tag 1' }), { target: { value: 'Project' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Value of tag 1' }), { target: { value: 'Apollo 11' } });
    await waitFor(() =>
      expect(fx.preflightCalls.some((q) => q.get('licenseType') === 'BYOL' && q.get('encrypted') === 'true' && q.get('kmsKeyId') === 'alias/vm2ec2-lab')).toBe(true),
    );
    await ready();
    fireEvent.click(begin());
    await screen.findByText(/Import task ID/);
    expect(fx.migrationBodies).toHaveLength(1);
    expect(fx.migrationBodies[0]!.importOptions).toEqual({
      licenseType: 'BYOL',
      encryption: { encrypted: true, kmsKeyId: 'alias/vm2ec2-lab' },
      tags: [{ key: 'Project', value: 'Apollo 11' }],
    });
  });

  it("shows the pre-flight's licence blocker under License type, and keeps Begin disabled", async () => {
    // The fixture gives the next test the Ubuntu VM again.
    fx.vm = { ...fx.vm, guestId: 'windows2019srv_64Guest', guestFullName: 'Microsoft Windows Server 2019 (64-bit)' };
    fx.environments = [env({ importDefaults: { ...noDefaults, licenseType: 'BYOL' } })];
    fx.preflightChecks = [
      {
        code: 'BYOL_NEEDS_DEDICATED_HOST',
        severity: 'blocker',
        message: "Bring your own license for Windows Server needs Dedicated Hosts under Microsoft's license terms; this environment launches on shared tenancy.",
        fix: 'Choose AWS-provided license.',
      },
    ];
    renderModal();
    await openAdvanced();
    const group = screen.getByRole('radiogroup', { name: 'License type' });
    const bite = await within(group).findByText(/needs Dedicated Hosts/);
    expect(bite.textContent).toContain('Choose AWS-provided license.');
    expect(within(group).getByText(/Windows client editions \(such as Windows 10\) only BYOL/)).toBeTruthy();
    expect(begin().disabled).toBe(true);
  });

  it("shows the license AWS allows when the environment's default does not apply to the guest, and sends nothing for it", async () => {
    fx.environments = [env()];
    fx.preflightChecks = [
      {
        code: 'LICENSE_TYPE_ADJUSTED',
        severity: 'info',
        message: "Linux guests are imported with their own license (BYOL): AWS provides no license for them. The environment's default, AWS-provided license, does not apply to this VM.",
        details: { licenseType: 'BYOL' },
      },
    ];
    renderModal();
    const header = await openAdvanced();
    await waitFor(() => expect((screen.getByRole('radio', { name: 'Bring your own license (BYOL)' }) as HTMLInputElement).checked).toBe(true));
    expect(header.textContent).toContain('Bring your own license (BYOL) · Not encrypted');
    expect(within(screen.getByRole('radiogroup', { name: 'License type' })).getByText(/does not apply to this VM/)).toBeTruthy();
    await ready();
    fireEvent.click(begin());
    await screen.findByText(/Import task ID/);
    expect(fx.migrationBodies[0]).not.toHaveProperty('importOptions');
  });

  it("starts again from another environment's defaults when the user switches environment", async () => {
    fx.environments = [env(), env({ id: 'env-secure', name: 'Secure', importDefaults: { licenseType: 'BYOL', encryption: { encrypted: true }, tags: [] } })];
    renderModal();
    // Two environments: none is chosen yet, so there are no defaults to show.
    fireEvent.change(await screen.findByRole('combobox', { name: 'Environment' }), { target: { value: 'env-prod' } });
    const header = await advancedHeader();
    await waitFor(() => expect(header.textContent).toContain('AWS-provided license · Not encrypted'));
    fireEvent.click(header);
    fireEvent.click(screen.getByRole('radio', { name: 'Bring your own license (BYOL)' }));
    expect(header.textContent).toContain('Bring your own license (BYOL) · Not encrypted');
    fireEvent.change(screen.getByRole('combobox', { name: 'Environment' }), { target: { value: 'env-secure' } });
    await waitFor(() => expect(header.textContent).toContain('Bring your own license (BYOL) · Encrypted'));
    fireEvent.change(screen.getByRole('combobox', { name: 'Environment' }), { target: { value: 'env-prod' } });
    await waitFor(() => expect(header.textContent).toContain('AWS-provided license · Not encrypted'));
  });
});

describe('Instance type for the VM\'s boot mode', () => {
  it('offers a UEFI guest only the types that boot UEFI, once the pre-flight has read its firmware', async () => {
    fx.environments = [env()];
    fx.anyBootTypes = [{ name: 't2.medium' }, { name: 'm5.large' }];
    fx.firmware = { firmware: 'efi', secureBoot: false, bootMode: 'uefi' };
    renderModal();
    const types = (await screen.findByRole('combobox', { name: 'Instance type' })) as HTMLSelectElement;
    await waitFor(() => expect([...types.options].map((o) => o.value)).toEqual(['', 'm5.large']));
    expect(fx.typeCalls).toContain('uefi');
    await ready();
  });

  it('asks for every type for a BIOS guest', async () => {
    fx.environments = [env()];
    fx.anyBootTypes = [{ name: 't2.medium' }, { name: 'm5.large' }];
    fx.firmware = { firmware: 'bios', secureBoot: false, bootMode: 'legacy-bios' };
    renderModal();
    const types = (await screen.findByRole('combobox', { name: 'Instance type' })) as HTMLSelectElement;
    await waitFor(() => expect([...types.options].map((o) => o.value)).toEqual(['', 't2.medium', 'm5.large']));
    await waitFor(() => expect(fx.preflightCalls.length).toBeGreaterThan(0));
    await openAdvanced();
    await screen.findByText('Legacy BIOS (VM firmware: BIOS)');
    expect(fx.typeCalls.every((b) => b === null)).toBe(true);
  });
});

describe('importOptionsOf', () => {
  const d: EnvironmentImportDefaults = { licenseType: 'AWS', encryption: { encrypted: true, kmsKeyId: 'alias/team-key' }, tags: [{ key: 'a', value: '1' }] };
  it('sends nothing for the defaults, and only what differs', () => {
    expect(importOptionsOf({ licenseType: 'AWS', encrypted: true, kmsKeyId: '', tags: [] }, d)).toBeUndefined();
    expect(importOptionsOf({ licenseType: 'AWS', encrypted: false, kmsKeyId: 'alias/x', tags: [newTagRow()] }, d)).toEqual({ encryption: { encrypted: false } });
    expect(importOptionsOf({ licenseType: 'BYOL', encrypted: true, kmsKeyId: 'alias/x', tags: [newTagRow('b', '')] }, d)).toEqual({
      licenseType: 'BYOL',
      encryption: { encrypted: true, kmsKeyId: 'alias/x' },
      tags: [{ key: 'b', value: '' }],
    });
  });
  it('refuses more tags than EC2 leaves room for', () => {
    const rows = Array.from({ length: 41 }, (_, i) => newTagRow(`k${i}`, 'v'));
    expect(tagProblems(rows).list).toBe('Use at most 40 tags: EC2 allows 50 per resource and vm2ec2 adds its own.');
  });
});
