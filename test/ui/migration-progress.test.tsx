// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { MigrationProgress } from '../../ui/features/portal/MigrationsTab.tsx';
import { createTranslator } from '../../ui/i18n/i18n.ts';

const t = createTranslator('en-US');
const task = (over: Partial<MigrationTask>): MigrationTask => ({
  id: 'mig-000001',
  idKind: 'import',
  state: 'running',
  mode: 'cold',
  phase: 'importing',
  environmentId: 'env-prod',
  region: 'us-east-1',
  vmId: 'vm-42',
  platform: 'Linux',
  subnetId: 'subnet-0a1b2c3d4e5f67890',
  instanceType: 'm5.large',
  securityGroupIds: ['sg-0a1b2c3d4e5f67890'],
  requestedBy: 'operator@vsphere.local',
  disks: [],
  percent: 61,
  importTaskId: 'import-ami-0123456789abcdef0',
  importStatus: 'converting',
  createdAt: '2026-11-25T10:00:00.000Z',
  updatedAt: '2026-11-25T10:00:00.000Z',
  ...over,
});

afterEach(cleanup);

describe('migration progress', () => {
  it("shows EC2's own percentage and the import's ETA in the Amazon EC2 phase", () => {
    render(<MigrationProgress task={task({ importProgress: 28, importEtaSeconds: 754 })} t={t} />);
    expect(screen.getByText(/Amazon EC2 is importing the image · EC2: converting, 28% · about 12 min 34 s left/)).toBeTruthy();
  });

  it('shows no ETA before the rate is known, and no import percentage once the import is over', () => {
    render(<MigrationProgress task={task({ importProgress: 2 })} t={t} />);
    expect(screen.getByText(/EC2: converting, 2%$/)).toBeTruthy();
    cleanup();
    render(<MigrationProgress task={task({ phase: 'launching', percent: 92, importStatus: 'completed', importProgress: 100 })} t={t} />);
    expect(screen.getByText(/Launching the instance · EC2: completed$/)).toBeTruthy();
  });
});
