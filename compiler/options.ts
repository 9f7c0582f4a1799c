/**
 * Compile options: validated once, when built, with messages a user can act on, then frozen. Their canonical
 * form is part of every cache key.
 */
import { OptionError } from '../core/errors.js';

/** Frozen, validated options of one compilation. */
export interface CompileOptions {
  /** Which pattern of the file, when it holds several. */
  readonly pattern?: string;
  readonly params: Readonly<Record<string, number | boolean>>;
  readonly sizes: Readonly<Record<string, number>>;
  readonly blockQ: number;
  readonly blockK: number;
  /** Render targets (names codegen knows: `codegen/index.ts` TARGETS); empty renders nothing. */
  readonly targets: readonly string[];
  /** The attention head, for a pattern that reads `head` (compiled once per head). */
  readonly head?: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `a=2,causal=true` (also repeated `--set` values joined) into a record of ints and booleans. */
export function parseAssignments(
  text: readonly string[],
  option: string,
  allowBool: boolean,
): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const part of text
    .flatMap((t) => t.split(','))
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || !NAME.test(name)) throw new OptionError(`${option}: expected name=value, found "${part}"`);
    if (name in out) throw new OptionError(`${option}: ${name} is given twice`);
    if (allowBool && (value === 'true' || value === 'false')) out[name] = value === 'true';
    else if (/^-?\d+$/.test(value) && Number.isSafeInteger(Number(value))) out[name] = Number(value);
    else
      throw new OptionError(
        `${option}: ${name}=${value} is not ${allowBool ? 'an integer or true/false' : 'an integer'}`,
      );
  }
  return out;
}

/** `128` or `128x64` into query and key block sizes. */
export function parseBlockSizes(text: string): { blockQ: number; blockK: number } {
  const match = /^(\d+)(?:x(\d+))?$/.exec(text.trim());
  const blockQ = Number(match?.[1]);
  const blockK = Number(match?.[2] ?? match?.[1]);
  const ok = (b: number) => Number.isInteger(b) && b >= 1 && b <= 4096;
  if (!match || !ok(blockQ) || !ok(blockK)) {
    throw new OptionError(`--block: expected a size like 128 or 128x64 (1 to 4096), found "${text}"`);
  }
  return { blockQ, blockK };
}

/** Validate and freeze. */
export function makeCompileOptions(raw: {
  pattern?: string | undefined;
  params?: Record<string, number | boolean>;
  sizes?: Record<string, number>;
  blockQ?: number;
  blockK?: number;
  targets?: readonly string[];
  head?: number;
}): CompileOptions {
  for (const [name, value] of Object.entries(raw.sizes ?? {})) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new OptionError(`--layout: ${name} must be a positive integer, found ${String(value)}`);
    }
  }
  const { blockQ, blockK } = parseBlockSizes(`${raw.blockQ ?? 128}x${raw.blockK ?? raw.blockQ ?? 128}`);
  return Object.freeze({
    ...(raw.pattern !== undefined ? { pattern: raw.pattern } : {}),
    params: Object.freeze({ ...(raw.params ?? {}) }),
    sizes: Object.freeze({ ...(raw.sizes ?? {}) }),
    blockQ,
    blockK,
    targets: Object.freeze([...(raw.targets ?? [])]),
    ...(raw.head !== undefined ? { head: raw.head } : {}),
  });
}
