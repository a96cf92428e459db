// @vitest-environment jsdom
// Issue 18: administrators set an environment's import defaults (licence type, encryption with a default key,
// default tags) in Administration → Environments; the migration form's Advanced section starts from them.
import { cleanup, configure, fireEvent, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EnvironmentInput, KmsKeyOption } from '../../connector/contract/index.ts';
import { EnvironmentForm } from '../../ui/features/admin/EnvironmentForm.tsx';
import { env, noDefaults } from './fixtures.ts';
import { API, renderWithProviders } from './render.tsx';

// The waits are for msw's answers; on a loaded machine the first render of a file can take seconds.
configure({ asyncUtilTimeout: 5000 });

const VPC = 'vpc-0a1b2c3d4e5f67890';
const saved = env({ vpcId: VPC, importDefaults: { ...noDefaults, tags: [{ key: 'CostCenter', value: '4711' }] }, myRole: 'Owner' });
const keys: KmsKeyOption[] = [
  { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', arn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', aliases: ['alias/vm2ec2-lab'], description: '', usable: true },
  {
    keyId: '5234abcd-12ab-34cd-56ef-1234567890ab',
    arn: 'arn:aws:kms:us-east-1:111122223333:key/5234abcd-12ab-34cd-56ef-1234567890ab',
    aliases: ['alias/refused'],
    description: '',
    usable: false,
    reason: 'Its key policy does not let the vmimport role use it.',
  },
];

const bodies: EnvironmentInput[] = [];
const kmsCalls: string[] = [];
const server = setupServer(
  http.get(`${API}/regions`, () => HttpResponse.json({ regions: [{ name: 'us-east-1', displayName: 'US East (N. Virginia)', isDefault: true }] })),
  http.get(`${API}/regions/:region/vpcs`, () => HttpResponse.json({ vpcs: [{ id: VPC, cidrBlock: '10.0.0.0/16', isDefault: false, name: 'lab' }] })),
  http.get(`${API}/regions/:region/subnets`, () =>
    HttpResponse.json({ subnets: [{ id: 'subnet-0a1b2c3d4e5f67890', vpcId: VPC, name: 'app-a', cidrBlock: '10.0.1.0/24', availabilityZone: 'us-east-1a', availableIpAddressCount: 250 }] }),
  ),
  http.get(`${API}/regions/:region/security-groups`, () => HttpResponse.json({ securityGroups: [{ id: 'sg-0a1b2c3d4e5f67890', vpcId: VPC, name: 'web', description: 'web' }] })),
  http.get(`${API}/environments/:id/kms-keys`, ({ params }) => {
    kmsCalls.push(String(params['id']));
    return HttpResponse.json({ keys });
  }),
  http.put(`${API}/environments/env-prod`, async ({ request }) => {
    const body = (await request.json()) as EnvironmentInput;
    bodies.push(body);
    return HttpResponse.json({ ...saved, ...body });
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  bodies.length = 0;
  kmsCalls.length = 0;
});
afterAll(() => server.close());

const save = () => screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement;

describe('Import defaults in Administration', () => {
  it('saves the license type, encryption with a default key from the list and the default tags', async () => {
    renderWithProviders(<EnvironmentForm editing={saved} onDone={() => {}} />);
    expect((await screen.findByRole('radio', { name: 'AWS-provided license' }) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByRole('textbox', { name: 'Key of tag 1' }) as HTMLInputElement).value).toBe('CostCenter');
    await waitFor(() => expect(save().disabled).toBe(false));

    fireEvent.click(screen.getByRole('radio', { name: 'Bring your own license (BYOL)' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'Encrypt the imported volumes (Amazon EBS encryption)' }));
    const select = (await screen.findByRole('combobox', { name: 'KMS key' })) as HTMLSelectElement;
    await waitFor(() => expect(select.options).toHaveLength(3));
    const refused = [...select.options].find((o) => o.value === 'alias/refused')!;
    expect(refused.disabled).toBe(true);
    expect(refused.textContent).toBe('alias/refused (cannot be used: Its key policy does not let the vmimport role use it.)');
    fireEvent.change(select, { target: { value: 'alias/vm2ec2-lab' } });

    fireEvent.click(screen.getByRole('button', { name: 'Add tag' }));
    fireEvent.change(screen.getByRole('textbox', { name: 'Key of tag 2' }), { target: { value: 'aws:created-by' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Tag keys starting with aws: are reserved for AWS.');
    expect(save().disabled).toBe(true);
    fireEvent.change(screen.getByRole('textbox', { name: 'Key of tag 2' }), { target: { value: 'Owner' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Value of tag 2' }), { target: { value: 'platform-team' } });
    await waitFor(() => expect(save().disabled).toBe(false));
    fireEvent.click(save());
    await waitFor(() => expect(bodies).toHaveLength(1));
    expect(bodies[0]!.importDefaults).toEqual({
      licenseType: 'BYOL',
      encryption: { encrypted: true, kmsKeyId: 'alias/vm2ec2-lab' },
      tags: [
        { key: 'CostCenter', value: '4711' },
        { key: 'Owner', value: 'platform-team' },
      ],
    });
    expect(new Set(kmsCalls)).toEqual(new Set(['env-prod']));
  });

  it('asks to save a new environment before choosing its default key', async () => {
    renderWithProviders(<EnvironmentForm editing={null} onDone={() => {}} />);
    fireEvent.click(await screen.findByRole('checkbox', { name: 'Encrypt the imported volumes (Amazon EBS encryption)' }));
    expect(screen.getByText(/^Save the environment first, then choose its default key here/)).toBeTruthy();
    expect(screen.queryByRole('combobox', { name: 'KMS key' })).toBeNull();
    expect(kmsCalls).toEqual([]);
  });
});
