/**
 * Slurm's compressed host lists (SLURM_JOB_NODELIST and friends): comma-separated entries, each a name with
 * bracketed ranges, e.g. `gpu[001-004,007],login-a[1-2]-ib`. A range keeps the zero padding of its start
 * (`001-004` gives 001 ... 004); several bracket groups in one name expand as their product, left to right.
 */
import { ParallelConfigError } from './errors.js';

/** Split at commas outside brackets. */
function entries(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
    if (depth < 0 || depth > 1) throw new ParallelConfigError(`host list "${list}": unbalanced brackets`);
  }
  if (depth !== 0) throw new ParallelConfigError(`host list "${list}": unbalanced brackets`);
  out.push(list.slice(start));
  return out.map((e) => e.trim()).filter((e) => e.length > 0);
}

/** The values of one bracket body, e.g. `001-003,7` -> 001, 002, 003, 7. */
function rangeValues(list: string, body: string): string[] {
  const out: string[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new ParallelConfigError(`host list "${list}": cannot read the range "${part}"`);
    const [, lo, hi] = m as unknown as [string, string, string | undefined];
    if (hi === undefined) {
      out.push(lo);
      continue;
    }
    const a = Number(lo);
    const b = Number(hi);
    if (b < a) throw new ParallelConfigError(`host list "${list}": the range ${part} runs backwards`);
    if (b - a > 100_000) throw new ParallelConfigError(`host list "${list}": the range ${part} is too long`);
    for (let v = a; v <= b; v++) out.push(String(v).padStart(lo.length, '0'));
  }
  return out;
}

/** Every host of a Slurm host list, in order. */
export function expandHostList(list: string): string[] {
  const hosts: string[] = [];
  for (const entry of entries(list)) {
    let names = [''];
    let rest = entry;
    while (rest.length > 0) {
      const open = rest.indexOf('[');
      if (open < 0) {
        names = names.map((n) => n + rest);
        break;
      }
      const close = rest.indexOf(']', open);
      const prefix = rest.slice(0, open);
      const values = rangeValues(list, rest.slice(open + 1, close));
      names = names.flatMap((n) => values.map((v) => n + prefix + v));
      rest = rest.slice(close + 1);
    }
    hosts.push(...names);
  }
  return hosts;
}

/** The first host of a Slurm host list, without expanding the rest. */
export function firstHost(list: string): string {
  const first = entries(list)[0];
  if (first === undefined) throw new ParallelConfigError(`host list "${list}" names no host`);
  return expandHostList(
    first.replace(/\[([^\]]*)\]/g, (_, body: string) => `[${body.split(/[,-]/)[0]}]`),
  )[0]!;
}
