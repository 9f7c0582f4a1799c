/**
 * Loading an OpenSoraT2V checkpoint: every tensor the config needs ({@link openSoraWeightSpecs}) is checked
 * against the file's header before any data is read (missing, unexpected, wrong shape, non-float dtype, all
 * reported together), then read one tensor at a time and converted to float32, so the file is never held in
 * memory twice (the largest transient is one tensor's raw bytes). Bounds, truncation and hostile headers are
 * the safetensors reader's job (core/safetensors.ts) and surface as its errors.
 */

import { type SafetensorsDType, SafetensorsError, SafetensorsFile } from '../../core/safetensors.js';
import { fromFloat16Bits, TensorError } from '../../core/tensor.js';
import type { OpenSoraConfig } from './config.js';
import { openSoraWeightSpecs, type WeightSpec } from './weight-names.js';

/** One weight in float32, row-major. */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A complete, shape-checked set of weights for one config. */
export interface ModelWeights {
  readonly config: OpenSoraConfig;
  /** The tensor called `name`; throws a {@link TensorError} for a name the config does not define. */
  get(name: string): WeightTensor;
  /** Names in checkpoint order. */
  readonly names: readonly string[];
}

/** One thing wrong with a checkpoint. */
export interface WeightProblem {
  readonly tensor: string;
  readonly kind: 'missing' | 'unexpected' | 'shape' | 'dtype' | 'non-finite';
  readonly detail: string;
}

/**
 * A checkpoint that does not match the model: every problem found, one line each, in one error. It is a
 * {@link SafetensorsError} (the file is the user's input), so the CLI reports it as a user error.
 */
export class WeightsError extends SafetensorsError {
  readonly problems: readonly WeightProblem[];

  constructor(file: string, modelName: string, problems: readonly WeightProblem[]) {
    const shown = problems.slice(0, 40).map((p) => `  ${p.tensor}: ${p.detail}`);
    if (problems.length > shown.length) shown.push(`  ... and ${problems.length - shown.length} more`);
    super(
      file,
      null,
      `does not hold the weights of ${modelName} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${shown.join('\n')}`,
    );
    this.problems = problems;
  }
}

/** Float dtypes a checkpoint may store weights in. */
const FLOAT_DTYPES: ReadonlySet<SafetensorsDType> = new Set(['F32', 'F16', 'BF16']);

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Compare a header's entries with the specs; returns every problem (empty when the file matches). */
export function checkWeightEntries(
  specs: readonly WeightSpec[],
  entries: readonly {
    readonly name: string;
    readonly dtype: SafetensorsDType;
    readonly shape: readonly number[];
  }[],
): WeightProblem[] {
  const problems: WeightProblem[] = [];
  const byName = new Map(entries.map((e) => [e.name, e]));
  const expected = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const entry = byName.get(spec.name);
    if (!entry) {
      problems.push({
        tensor: spec.name,
        kind: 'missing',
        detail: `missing (expected shape ${fmt(spec.shape)})`,
      });
      continue;
    }
    if (!sameShape(entry.shape, spec.shape)) {
      problems.push({
        tensor: spec.name,
        kind: 'shape',
        detail: `expected shape ${fmt(spec.shape)}, found ${fmt(entry.shape)}`,
      });
    }
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      problems.push({
        tensor: spec.name,
        kind: 'dtype',
        detail: `dtype ${entry.dtype} is not a float type (F32, F16 or BF16)`,
      });
    }
  }
  for (const entry of entries) {
    if (!expected.has(entry.name)) {
      problems.push({
        tensor: entry.name,
        kind: 'unexpected',
        detail: `unexpected tensor ${fmt(entry.shape)} ${entry.dtype}`,
      });
    }
  }
  return problems;
}

let f16Table: Float32Array | null = null;

/** Raw little-endian F32 / F16 / BF16 bytes as float32 values (bf16 is the top half of a float32: exact). */
export function floatBytesToFloat32(dtype: SafetensorsDType, bytes: Uint8Array, count: number): Float32Array {
  if (dtype === 'F32') {
    // The reader returns a buffer of the tensor's own, so a view is aligned and nothing is copied.
    return bytes.byteOffset % 4 === 0
      ? new Float32Array(bytes.buffer, bytes.byteOffset, count)
      : new Float32Array(bytes.slice().buffer, 0, count);
  }
  const halves =
    bytes.byteOffset % 2 === 0
      ? new Uint16Array(bytes.buffer, bytes.byteOffset, count)
      : new Uint16Array(bytes.slice().buffer, 0, count);
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
    return out;
  }
  if (dtype === 'F16') {
    if (f16Table === null) {
      f16Table = new Float32Array(65536);
      for (let b = 0; b < 65536; b++) f16Table[b] = fromFloat16Bits(b);
    }
    for (let i = 0; i < count; i++) out[i] = f16Table[halves[i]!]!;
    return out;
  }
  throw new TensorError('weights', `dtype ${dtype} is not a float type`);
}

/** Weights held in memory, checked against the config's specs. */
class WeightSet implements ModelWeights {
  readonly names: readonly string[];

  constructor(
    readonly config: OpenSoraConfig,
    private readonly tensors: ReadonlyMap<string, WeightTensor>,
  ) {
    this.names = [...tensors.keys()];
  }

  get(name: string): WeightTensor {
    const t = this.tensors.get(name);
    if (!t) throw new TensorError(name, `no such weight in ${this.config.name}`);
    return t;
  }
}

/**
 * Weights from float32 arrays in memory (random test weights, or weights converted elsewhere). Every spec must
 * be present with the right element count; problems are reported together as a {@link WeightsError}.
 */
export function weightsFromArrays(
  config: OpenSoraConfig,
  arrays: ReadonlyMap<string, Float32Array>,
): ModelWeights {
  const specs = openSoraWeightSpecs(config);
  const problems: WeightProblem[] = [];
  const tensors = new Map<string, WeightTensor>();
  const expected = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const data = arrays.get(spec.name);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (!data)
      problems.push({
        tensor: spec.name,
        kind: 'missing',
        detail: `missing (expected shape ${fmt(spec.shape)})`,
      });
    else if (data.length !== count)
      problems.push({
        tensor: spec.name,
        kind: 'shape',
        detail: `expected ${count} elements ${fmt(spec.shape)}, got ${data.length}`,
      });
    else tensors.set(spec.name, { shape: spec.shape, data });
  }
  for (const name of arrays.keys()) {
    if (!expected.has(name)) problems.push({ tensor: name, kind: 'unexpected', detail: 'unexpected tensor' });
  }
  if (problems.length > 0) throw new WeightsError('<memory>', config.name, problems);
  return new WeightSet(config, tensors);
}

/** Values of `data` that are NaN or infinite. */
export function countNonFinite(data: Float32Array): number {
  let bad = 0;
  // x - x is 0 for every finite x and NaN for NaN and +-Infinity: one test per value.
  for (let i = 0; i < data.length; i++) if (data[i]! - data[i]! !== 0) bad++;
  return bad;
}

/**
 * Load the weights of `config` from a diffusers-style safetensors checkpoint. The header is checked in full
 * first (so a wrong file fails fast, listing every problem); tensors are then read and converted one by one,
 * and each is refused if it holds NaN or infinite values (they would turn every latent into NaN, silently).
 */
export async function loadOpenSoraWeights(path: string, config: OpenSoraConfig): Promise<ModelWeights> {
  const specs = openSoraWeightSpecs(config);
  const file = await SafetensorsFile.open(path);
  try {
    const problems = checkWeightEntries(specs, file.entries);
    if (problems.length > 0) throw new WeightsError(path, config.name, problems);
    const tensors = new Map<string, WeightTensor>();
    for (const spec of specs) {
      const raw = await file.read(spec.name);
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const data = floatBytesToFloat32(raw.dtype, raw.bytes, count);
      const bad = countNonFinite(data);
      if (bad > 0) {
        throw new WeightsError(path, config.name, [
          {
            tensor: spec.name,
            kind: 'non-finite',
            detail: `${bad.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} values are NaN or infinite (a corrupt or diverged checkpoint)`,
          },
        ]);
      }
      tensors.set(spec.name, { shape: spec.shape, data });
    }
    return new WeightSet(config, tensors);
  } finally {
    await file.close();
  }
}
