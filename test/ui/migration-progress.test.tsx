// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { MigrationProgress } from '../../ui/features/portal/MigrationsTab.tsx';
import { createTranslator } from '../../ui/i18n/i18n.ts';
import { task } from './fixtures.ts';

const t = createTranslator('en-US');
const importing = (over: Partial<MigrationTask>): MigrationTask =>
  task({
    phase: 'importing',
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
    render(<MigrationProgress task={importing({ importProgress: 28, importEtaSeconds: 754 })} t={t} />);
    expect(screen.getByText(/Amazon EC2 is importing the image · EC2: converting, 28% · about 12 min 34 s left/)).toBeTruthy();
  });

  it('shows no ETA before the rate is known, and no import percentage once the import is over', () => {
    render(<MigrationProgress task={importing({ importProgress: 2 })} t={t} />);
    expect(screen.getByText(/EC2: converting, 2%$/)).toBeTruthy();
    cleanup();
    render(<MigrationProgress task={importing({ phase: 'launching', percent: 92, importStatus: 'completed', importProgress: 100 })} t={t} />);
    expect(screen.getByText(/Launching the instance · EC2: completed$/)).toBeTruthy();
  });
});
