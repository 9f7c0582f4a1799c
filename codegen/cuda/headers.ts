/**
 * The CUDA kernel headers (`codegen/cuda/kernels/tessera/*.cuh`): real files, read when a module is rendered.
 * A generated module `#include`s them as `"tessera/<name>.cuh"`; {@link inlineKernelHeaders} pastes them in
 * instead (each once, in include order, clearly delimited), for NVRTC, which is given one source string, and
 * for anything else that wants a self-contained `.cu`.
 *
 * The headers ship in the npm package (package.json `files`) and stay in the source tree when this module is
 * compiled to `dist/codegen/cuda/`, so they are looked for next to the module first, then in the package's
 * source tree (as patterns/index.ts finds the `.tile` files).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folder that holds `tessera/`: what `nvcc -I` takes to compile a generated `.cu` in place. */
export function kernelIncludeDir(): string {
  const candidates = [
    new URL('./kernels/', import.meta.url),
    new URL('../../../codegen/cuda/kernels/', import.meta.url),
  ];
  const found = candidates
    .map((u) => fileURLToPath(u))
    .find((dir) => existsSync(`${dir}tessera/tessera.cuh`));
  if (!found) {
    throw new Error(
      `internal: the CUDA kernel headers (tessera/*.cuh) are in neither ${candidates.map((u) => fileURLToPath(u)).join(' nor ')}`,
    );
  }
  return found;
}

/** The include prefix of the headers: `#include "tessera/attention_sm90.cuh"`. */
export const HEADER_PREFIX = 'tessera/';

/** The kernel headers, by include path (`tessera/tessera.cuh`, ...). */
export const KERNEL_HEADERS = [
  'tessera/tessera.cuh',
  'tessera/key_runs.cuh',
  'tessera/wgmma.cuh',
  'tessera/wg_rows.cuh',
  'tessera/attention_sm80.cuh',
  'tessera/attention_sm90.cuh',
  'tessera/attention_sm90_ws.cuh',
] as const;

/** One kernel header's include path. */
export type KernelHeader = (typeof KERNEL_HEADERS)[number];

const texts = new Map<string, string>();

/** The text of a kernel header, by include path; read once. */
export function kernelHeader(path: KernelHeader): string {
  let text = texts.get(path);
  if (text === undefined) {
    text = readFileSync(`${kernelIncludeDir()}${path}`, 'utf8');
    texts.set(path, text);
  }
  return text;
}

const INCLUDE = /^#include "([^"]+)"\s*$/;

/** A header's include path from an `#include` inside it (same folder) or inside a module (`tessera/...`). */
function resolve(target: string, from: string | null): KernelHeader | null {
  const path = from === null || target.startsWith(HEADER_PREFIX) ? target : `${HEADER_PREFIX}${target}`;
  return (KERNEL_HEADERS as readonly string[]).includes(path) ? (path as KernelHeader) : null;
}

/**
 * The headers `source` includes, directly or through other headers, each once, in the order their text lands in
 * the translation unit (a header after the ones it includes).
 */
export function includedHeaders(source: string): KernelHeader[] {
  const seen = new Set<KernelHeader>();
  const order: KernelHeader[] = [];
  const visit = (text: string, from: KernelHeader | null) => {
    for (const line of text.split('\n')) {
      const m = INCLUDE.exec(line);
      const path = m ? resolve(m[1]!, from) : null;
      if (path === null || seen.has(path)) continue;
      seen.add(path);
      visit(kernelHeader(path), path);
      order.push(path);
    }
  };
  visit(source, null);
  return order;
}

/**
 * `source` with each `#include` of a kernel header replaced by the header's text (its own includes inlined the
 * same way, `#pragma once` dropped), each header once: what `#pragma once` makes of the includes, in one string.
 */
export function inlineKernelHeaders(source: string): string {
  const done = new Set<KernelHeader>();
  const expand = (text: string, from: KernelHeader | null): string[] =>
    text.split('\n').flatMap((line) => {
      if (from !== null && line.trim() === '#pragma once') return [];
      const m = INCLUDE.exec(line);
      const path = m ? resolve(m[1]!, from) : null;
      if (path === null) return [line];
      if (done.has(path)) return [];
      done.add(path);
      const body = expand(kernelHeader(path).trimEnd(), path);
      const rule = (text: string) => `${text} ${'-'.repeat(Math.max(4, 116 - text.length))}`;
      return [rule(`// ---- ${path} (inlined)`), ...body, rule(`// ---- end of ${path}`)];
    });
  return expand(source, null).join('\n');
}
