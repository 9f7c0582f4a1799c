/**
 * The import rule of ARCHITECTURE.md (core <- dsl <- compiler <- codegen <- runtime <- models <- tools) is
 * enforced by biome (biome.json: noRestrictedImports per folder, noImportCycles). These tests plant
 * back-arrows and a circle in a scratch tree under the project's own biome configuration and check that the
 * linter refuses each of them and accepts the allowed imports, so the rule cannot silently stop working.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-imports-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Lint `files` (path -> source) in a scratch tree with the project's biome.json; the diagnostics as text. */
function lint(files: Record<string, string>): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(scratch, 'tree-'));
  const config = JSON.parse(readFileSync(join(root, 'biome.json'), 'utf8'));
  // The scratch tree is not a git checkout: no ignore file to read.
  config.vcs = { enabled: false };
  delete config.$schema;
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const biome = join(root, 'node_modules', '.bin', 'biome');
  try {
    const output = execFileSync(biome, ['lint', '--max-diagnostics=50', ...Object.keys(files)], {
      cwd: dir,
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return { ok: true, output };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const use = (specifier: string, name = 'x') =>
  `import { ${name} } from '${specifier}';\nexport const y = ${name};\n`;

describe('the import rule', () => {
  it.each([
    ['core/a.ts', '../dsl/parse.js'],
    ['dsl/a.ts', '../compiler/pipeline.js'],
    ['compiler/a.ts', '../codegen/index.js'],
    ['compiler/plan/a.ts', '../../runtime/model-ops.js'],
    ['codegen/cuda/a.ts', '../../runtime/cuda/device.js'],
    ['codegen/a.ts', '../patterns/index.js'],
    ['runtime/cuda/a.ts', '../../compiler/layout.js'],
    ['runtime/cuda/a.ts', '../../models/open-sora-plan/network.js'],
    ['runtime/a.ts', '../patterns/index.js'],
    ['models/open-sora-plan/a.ts', '../../verify/verify.js'],
    ['models/samplers/a.ts', '../../cli/main.js'],
    ['verify/a.ts', '../bench/common.js'],
    ['search/a.ts', '../cli/main.js'],
  ])('refuses %s importing %s', (file, specifier) => {
    const { ok, output } = lint({ [file]: use(specifier) });
    expect(ok).toBe(false);
    expect(output).toContain('noRestrictedImports');
    expect(output).toContain('Imports flow one way');
  });

  it.each([
    ['dsl/a.ts', '../core/errors.js'],
    ['compiler/a.ts', '../patterns/index.js'],
    ['codegen/cuda/a.ts', '../../compiler/plan/plan.js'],
    ['runtime/cuda/a.ts', '../../compiler/plan/dense.js'],
    ['runtime/cuda/a.ts', '../../codegen/cuda/kernel-options.js'],
    ['models/open-sora-plan/a.ts', '../../compiler/layer-plan.js'],
    ['models/open-sora-plan/a.ts', '../../runtime/cuda/model-ops.js'],
    ['search/a.ts', '../models/open-sora-plan/network.js'],
    ['cli/a.ts', '../search/search.js'],
  ])('accepts %s importing %s', (file, specifier) => {
    const { ok, output } = lint({ [file]: use(specifier) });
    expect(output).not.toContain('noRestrictedImports');
    expect(ok).toBe(true);
  });

  it('refuses a circle of imports inside a layer', () => {
    const { ok, output } = lint({
      'compiler/a.ts': use('./b.js', 'b'),
      'compiler/b.ts': "import { y } from './a.js';\nexport const b = () => y;\n",
    });
    expect(ok).toBe(false);
    expect(output).toContain('noImportCycles');
  });
});
