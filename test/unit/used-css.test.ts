// The UI build keeps only the Clarity rules the plugin's sources can match (ui/build/used-css.ts through vite.config.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preprocessCSS, resolveConfig } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { isUsed, usedClasses } from '../../ui/build/used-css.ts';

const dir = mkdtempSync(join(tmpdir(), 'vm2ec2-used-css-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Clarity rules the UI can match', () => {
  it('takes class names from the sources, and classes built from a prefix and a word', () => {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'Alert.tsx'), "type Kind = 'danger' | 'info';\nexport const cls = (k: Kind) => `alert alert-${k}`;\n");
    const used = usedClasses(join(dir, 'src'));
    expect(isUsed('alert', used)).toBe(true);
    expect(isUsed('alert-danger', used)).toBe(true);
    expect(isUsed('alert-info', used)).toBe(true);
    expect(isUsed('alert-app-level', used)).toBe(false);
    expect(isUsed('datagrid', used)).toBe(false);
  });

  it('drops from the built CSS the selectors naming a class or attribute the plugin never uses, and keeps the rest', async () => {
    const config = await resolveConfig({ configFile: join(PACKAGE_ROOT, 'vite.config.ts') }, 'build', 'production', 'production');
    const css = [
      '.btn{color:red}',
      '.datagrid-never-used{color:blue}',
      '.btn,.datagrid-never-used{margin:0}',
      '[cds-layout~=vertical]{display:flex}',
      '.clr-form-control:not(.datagrid-never-used){padding:1px}',
      ':where(.datagrid-never-used,.btn) .alert{border:0}',
      ':where(.datagrid-never-used) .alert{border:1px}',
      'body[cds-theme=dark] .alert{width:var(--cds-global-space-5)}',
    ].join('\n');
    const { code } = await preprocessCSS(css, join(dir, 'sample.css'), config);
    const out = code.replace(/\s+/g, '').replace(/;}/g, '}').replace(/"/g, '');
    expect(out).toContain('.btn{color:red}');
    expect(out).not.toContain('datagrid-never-used{color:blue}');
    expect(out).toContain('.btn{margin:0}');
    expect(out).not.toContain('cds-layout');
    expect(out).toContain('.clr-form-control:not(.datagrid-never-used){padding:1px}');
    expect(out).toContain(':where(.datagrid-never-used,.btn).alert{border:0}');
    expect(out).not.toContain('border:1px');
    expect(out).toContain('body[cds-theme=dark].alert{width:var(--cds-global-space-5)}');
  });
});
