// What the migrate modal downloads before its first render, from the real UI build (vite.config.ts): the entry, the
// route's page chunk and React with the shell (ui/main.tsx starts those three), with everything they import statically.
import { join } from 'node:path';
import { build, type Rolldown } from 'vite';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../connector/paths.ts';

type Chunk = Rolldown.OutputChunk;
let chunks: Chunk[] = [];

beforeAll(async () => {
  const out = await build({ configFile: join(PACKAGE_ROOT, 'vite.config.ts'), logLevel: 'silent', build: { write: false } });
  const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []));
  chunks = outputs.filter((o): o is Chunk => o.type === 'chunk');
}, 120_000);

const bySource = (suffix: string) => {
  const chunk = chunks.find((c) => c.facadeModuleId?.endsWith(suffix));
  if (!chunk) throw new Error(`the build has no chunk for ${suffix}`);
  return chunk;
};

/** The chunks a page needs before it renders: these, and what they import statically, transitively. */
function staticClosure(roots: Chunk[]): Chunk[] {
  const byFile = new Map(chunks.map((c) => [c.fileName, c]));
  const seen = new Map<string, Chunk>();
  const visit = (c: Chunk) => {
    if (seen.has(c.fileName)) return;
    seen.set(c.fileName, c);
    for (const f of c.imports) visit(byFile.get(f)!);
  };
  roots.forEach(visit);
  return [...seen.values()];
}
const modulesOf = (cs: Chunk[]) => cs.flatMap((c) => Object.keys(c.modules));

describe('the migrate modal’s first render', () => {
  it('needs no zod: the contract’s form rules arrive with the first field that uses them', () => {
    const entry = chunks.find((c) => c.isEntry)!;
    const firstRender = staticClosure([entry, bySource('ui/features/migrate/MigrateVmPage.tsx'), bySource('ui/app/start.tsx')]);
    const mods = modulesOf(firstRender);
    expect(mods.some((m) => m.endsWith('ui/features/migrate/MigrationForm.tsx'))).toBe(true);
    expect(mods.filter((m) => m.includes('/node_modules/zod/'))).toEqual([]);
    expect(mods.filter((m) => m.endsWith('ui/features/migrate/formRules.ts'))).toEqual([]);

    // The rules are still the contract's: their chunk, loaded on demand, carries zod and the schemas.
    const rulesChunk = chunks.find((c) => Object.keys(c.modules).some((m) => m.endsWith('ui/features/migrate/formRules.ts')))!;
    const rules = staticClosure([rulesChunk]);
    expect(modulesOf(rules).some((m) => m.includes('/node_modules/zod/'))).toBe(true);
    expect(modulesOf(rules).some((m) => m.endsWith('connector/contract/import-options.ts'))).toBe(true);
  });

  it('carries only the shell’s and the migrate form’s strings, not the catalogue of every screen', () => {
    const entry = chunks.find((c) => c.isEntry)!;
    const mods = modulesOf(staticClosure([entry, bySource('ui/features/migrate/MigrateVmPage.tsx'), bySource('ui/app/start.tsx')]));
    const catalogues = mods.filter((m) => /ui\/i18n\/en-US[^/]*\.ts$/.test(m)).map((m) => m.slice(m.lastIndexOf('/') + 1));
    expect(catalogues.sort()).toEqual(['en-US-core.ts', 'en-US-migrate.ts']);
  });

  it('leaves the collapsed Advanced section’s fields and the tag editor for when the section opens', () => {
    const entry = chunks.find((c) => c.isEntry)!;
    const mods = modulesOf(staticClosure([entry, bySource('ui/features/migrate/MigrateVmPage.tsx'), bySource('ui/app/start.tsx')]));
    expect(mods.some((m) => m.endsWith('ui/features/migrate/AdvancedOptions.tsx'))).toBe(true);
    expect(mods.filter((m) => /ui\/features\/migrate\/(AdvancedFields|TagsEditor)\.tsx$/.test(m))).toEqual([]);
  });
});
