/** Choosing the pattern of a file and binding its parameters (defaults, then overrides). */
import type { PatternDecl, TileFile } from '../../dsl/ast.js';
import { type Diagnostic, TesseraError } from '../../dsl/diagnostics.js';
import { START_OF_FILE } from '../../dsl/source.js';
import { closestName } from '../check/suggest.js';
import { Env } from './env.js';
import type { Lowerer } from './lower-expr.js';
import { isInt32, optionError } from './options-errors.js';

/** The pattern named `name`, or the file's only pattern. */
export function selectPattern(file: TileFile, fileName: string, name: string | undefined): PatternDecl {
  const patterns = file.items.filter((i): i is PatternDecl => i.kind === 'PatternDecl');
  const names = patterns.map((p) => p.name.name);
  const list = names.map((n) => `\`${n}\``).join(', ');
  if (name !== undefined) {
    const found = patterns.find((p) => p.name.name === name);
    if (found) return found;
    const close = closestName(name, names);
    const hint = close
      ? `did you mean \`${close}\`?`
      : names.length > 0
        ? `the file declares ${list}`
        : undefined;
    throw new TesseraError([
      optionError(fileName, 'TP301', START_OF_FILE, `no pattern \`${name}\` in this file`, hint),
    ]);
  }
  if (patterns.length === 1) return patterns[0]!;
  if (patterns.length === 0)
    throw new TesseraError([
      optionError(
        fileName,
        'TP301',
        START_OF_FILE,
        'this file declares no pattern',
        'add `pattern name() on layout { attend ... }`',
      ),
    ]);
  throw new TesseraError([
    optionError(
      fileName,
      'TP301',
      patterns[1]!.name.range,
      `this file declares several patterns (${list}); choose one`,
      'pass the pattern name (`--pattern`)',
    ),
  ]);
}

/** Parameter values of `pattern`: every default, overridden by `overrides`; reports all problems at once. */
export function bindParams(
  pattern: PatternDecl,
  overrides: Readonly<Record<string, number | boolean>>,
  fileName: string,
  lowerer: Lowerer,
): Record<string, number | boolean> {
  const diagnostics: Diagnostic[] = [];
  const declared = pattern.params.map((p) => `\`${p.name.name}: ${p.type.name}\``).join(', ') || 'none';
  const names = pattern.params.map((p) => p.name.name);
  for (const key of Object.keys(overrides)) {
    if (names.includes(key)) continue;
    const close = closestName(key, names);
    diagnostics.push(
      optionError(
        fileName,
        'TP302',
        pattern.name.range,
        `pattern \`${pattern.name.name}\` has no parameter \`${key}\``,
        `${close ? `did you mean \`${close}\`? ` : ''}its parameters: ${declared}`,
      ),
    );
  }
  const values: Record<string, number | boolean> = {};
  for (const p of pattern.params) {
    const name = p.name.name;
    if (Object.hasOwn(overrides, name)) {
      const v = overrides[name];
      const ok = p.type.name === 'bool' ? typeof v === 'boolean' : isInt32(v);
      if (!ok) {
        const want = p.type.name === 'bool' ? '`true` or `false`' : 'an integer in the signed 32-bit range';
        diagnostics.push(
          optionError(
            fileName,
            'TP303',
            p.range,
            `parameter \`${name}\` is \`${p.type.name}\` and cannot be set to ${JSON.stringify(v)}`,
            `give ${want}`,
          ),
        );
        continue;
      }
      values[name] = v as number | boolean;
    } else if (p.defaultValue) {
      try {
        const v = lowerer.lower(p.defaultValue, new Env(null));
        if (v.ir.op === 'const' || v.ir.op === 'bool') values[name] = v.ir.value;
        else
          diagnostics.push(
            optionError(
              fileName,
              'TP210',
              p.defaultValue.range,
              `the default of \`${name}\` is not a constant`,
            ),
          );
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        diagnostics.push(...error.diagnostics);
      }
    } else {
      diagnostics.push(
        optionError(
          fileName,
          'TP304',
          p.range,
          `parameter \`${name}\` has no default and was not given a value`,
          `set it, e.g. \`--set ${name}=${p.type.name === 'bool' ? 'true' : '1'}\``,
        ),
      );
    }
  }
  if (diagnostics.length > 0) throw new TesseraError(diagnostics);
  return values;
}
