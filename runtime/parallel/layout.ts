/**
 * How P ranks split one DiT step (SPEC §1.4): `cfg` groups (1, or 2 with CFG-parallel: the unconditional and the
 * conditional batch rows on two groups of ranks) of `sp` ranks each (the Ulysses degree U). Rank r is in group
 * floor(r / U) at position r mod U of it. Between attentions the rank at position u holds a contiguous,
 * frame-aligned slice of the video tokens; frame counts that U does not divide give the first T mod U positions
 * one frame more (uneven slices, no padding).
 */
import { ParallelConfigError } from './errors.js';

/** The degrees of one world: P = sp * cfg. */
export interface ParallelDegrees {
  /** Ulysses degree U: ranks that split the tokens of one batch row; it must divide the head count. */
  readonly sp: number;
  /** 2 with CFG-parallel (guidance's two batch rows on two rank groups), else 1. */
  readonly cfg: 1 | 2;
}

/** The degrees, and the ranks this process drives. */
export interface RankLayout extends ParallelDegrees {
  /** P = sp * cfg. */
  readonly world: number;
  /**
   * Ranks this process runs, in order: one (a process per rank) or all of them (logical ranks: the whole world
   * in one process, with device copies in place of the exchanges).
   */
  readonly local: readonly number[];
}

/** Frames [first, first + count) of the video, held by one sequence-parallel position. */
export interface FrameSlice {
  readonly first: number;
  readonly count: number;
}

/** A rank's group (batch row with CFG-parallel) and its position in the group (its token slice). */
export function rankPosition(layout: ParallelDegrees, rank: number): { group: number; position: number } {
  return { group: Math.floor(rank / layout.sp), position: rank % layout.sp };
}

/** The rank at `position` of `group`. */
export function rankAt(layout: ParallelDegrees, group: number, position: number): number {
  return group * layout.sp + position;
}

/** The frame slice of every position: contiguous, in order, the first T mod U one frame longer. */
export function frameSlices(frames: number, sp: number): FrameSlice[] {
  if (sp > frames)
    throw new ParallelConfigError(
      `sequence parallelism over ${sp} ranks needs at least ${sp} latent frames (one per rank); this video has ${frames}`,
    );
  const base = Math.floor(frames / sp);
  const extra = frames % sp;
  const slices: FrameSlice[] = [];
  let first = 0;
  for (let u = 0; u < sp; u++) {
    const count = base + (u < extra ? 1 : 0);
    slices.push({ first, count });
    first += count;
  }
  return slices;
}

/** Ulysses degrees that work for a model of `heads` heads over `frames` latent frames. */
export function validSpDegrees(heads: number, frames: number): number[] {
  const out: number[] = [];
  for (let u = 1; u <= Math.min(heads, frames); u++) if (heads % u === 0) out.push(u);
  return out;
}

/** What the degrees are checked against. */
export interface DegreeContext {
  readonly heads: number;
  readonly frames: number;
  /** Guidance batches the unconditional and conditional rows (batch 2): what CFG-parallel splits. */
  readonly guided: boolean;
}

/** Throw a {@link ParallelConfigError} naming the valid choices unless `degrees` can run `world` ranks. */
export function checkDegrees(degrees: ParallelDegrees, world: number, ctx: DegreeContext): void {
  const { sp, cfg } = degrees;
  const valid = validSpDegrees(ctx.heads, ctx.frames);
  if (!Number.isSafeInteger(sp) || sp < 1 || ctx.heads % sp !== 0)
    throw new ParallelConfigError(
      `--sp-degree ${sp}: the Ulysses degree must divide the ${ctx.heads} attention heads; valid degrees: ${valid.join(', ')}`,
    );
  if (sp > ctx.frames)
    throw new ParallelConfigError(
      `--sp-degree ${sp}: each rank needs at least one of the ${ctx.frames} latent frames; valid degrees: ${valid.join(', ')}`,
    );
  if (cfg === 2 && !ctx.guided)
    throw new ParallelConfigError(
      '--cfg-parallel splits the unconditional and conditional halves of guidance; with --guidance 1 there is only one',
    );
  if (sp * cfg !== world)
    throw new ParallelConfigError(
      `${world} ranks cannot run --sp-degree ${sp}${cfg === 2 ? ' with --cfg-parallel' : ''} (that needs ${sp * cfg}); ${describeChoices(world, ctx)}`,
    );
}

/** The degrees that fit `world` ranks, for messages. */
function describeChoices(world: number, ctx: DegreeContext): string {
  const choices = degreeChoices(world, ctx).map((d) =>
    d.cfg === 2 ? `--sp-degree ${d.sp} --cfg-parallel` : `--sp-degree ${d.sp}`,
  );
  return choices.length > 0
    ? `for ${world} ranks use ${choices.join(' or ')}`
    : `no split of ${ctx.heads} heads and ${ctx.frames} frames fits ${world} ranks (Ulysses degrees: ${validSpDegrees(ctx.heads, ctx.frames).join(', ')}, times 2 with --cfg-parallel)`;
}

/** Every (sp, cfg) with sp * cfg = world that {@link checkDegrees} accepts, CFG-parallel first. */
export function degreeChoices(world: number, ctx: DegreeContext): ParallelDegrees[] {
  const valid = new Set(validSpDegrees(ctx.heads, ctx.frames));
  const out: ParallelDegrees[] = [];
  if (ctx.guided && world % 2 === 0 && valid.has(world / 2)) out.push({ sp: world / 2, cfg: 2 });
  if (valid.has(world)) out.push({ sp: world, cfg: 1 });
  return out;
}

/**
 * The default split of `world` ranks: with guidance, CFG-parallel over two groups of world / 2 (the batch split
 * costs one small gather per step instead of two all-to-alls per layer, and halves the Ulysses degree), else
 * Ulysses over all of them. Throws, naming the valid choices, when nothing fits.
 */
export function defaultDegrees(world: number, ctx: DegreeContext): ParallelDegrees {
  const choice = degreeChoices(world, ctx)[0];
  if (!choice) throw new ParallelConfigError(`${world} ranks: ${describeChoices(world, ctx)}`);
  return choice;
}

/** The layout of a world whose ranks are `local` in this process (all of them for logical ranks). */
export function rankLayout(degrees: ParallelDegrees, local: readonly number[]): RankLayout {
  const world = degrees.sp * degrees.cfg;
  for (const r of local)
    if (!Number.isSafeInteger(r) || r < 0 || r >= world)
      throw new ParallelConfigError(`rank ${r} is outside a world of ${world}`);
  return { ...degrees, world, local: [...local] };
}

/** All ranks of the world in this process (logical ranks). */
export function logicalLayout(degrees: ParallelDegrees): RankLayout {
  return rankLayout(
    degrees,
    Array.from({ length: degrees.sp * degrees.cfg }, (_, r) => r),
  );
}
