#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../core/errors.js';
/**
 * The `tessera` command line. Exit codes: 0 success, 1 the input is wrong (diagnostics, bad option values),
 * 2 usage error, 3 verification failed, 70 internal error (a bug in tessera: please report it).
 */
import { LAYOUT_PRESETS } from '../patterns/presets.js';
import { runCompile, runInspect } from './commands.js';
import { handleFailure } from './exit.js';
import { runGenerate } from './generate.js';
import { createModelDenoiser, createModelNetwork } from './generate-model.js';
import { runMakeCheckpoint } from './make-checkpoint.js';
import { runSearch } from './search.js';
import { runCheck, runFormat, runLayers, runPatterns, runRegenerate } from './tools.js';

/** The package's version, from its package.json (beside dist/ when installed, or the source tree's). */
function packageVersion(): string {
  for (const up of ['../../package.json', '../package.json']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const program = new Command();
program
  .name('tessera')
  .version(packageVersion(), '-V, --version', 'print the version')
  .description(
    'Compile attention patterns into block-sparse attention kernels for video diffusion transformers.',
  )
  .showHelpAfterError()
  .exitOverride();

/** Options shared by `compile` and `inspect`. */
function analysisOptions(command: Command): Command {
  return command
    .argument('<file>', 'a .tile file, or the name of a built-in pattern (see `tessera patterns`)')
    .option('-p, --pattern <name>', 'which pattern of the file, when it holds several')
    .option('-s, --set <assignments...>', 'pattern parameters, e.g. a=2 or a=2,causal=true')
    .option(
      '-l, --layout <sizes>',
      `layout sizes, e.g. t=8,h=45,w=80, or a preset (${LAYOUT_PRESETS.map((p) => p.name).join(', ')}) optionally followed by sizes such as ,l=256 (defaults: the built-in pattern's)`,
    )
    .option('-b, --block <size>', 'block size, e.g. 128 or 128x64 (query x key)', '128')
    .option('--heads <n>', 'heads for FLOP counts', '24')
    .option('--head-dim <n>', 'head dimension for FLOP counts', '96')
    .option('--json', 'print the report as JSON')
    .option('--no-cache', 'do not read or write the compile cache');
}

analysisOptions(program.command('compile'))
  .description(
    'compile a pattern: report, block mask (FlexAttention safetensors), pictures, bindings, kernels',
  )
  .addOption(
    new Option('-t, --target <targets>', 'artefacts to write: ts, flex, png, wgsl, cuda').default(
      'ts,flex,png',
    ),
  )
  .option('-o, --out <dir>', 'output folder (default: out/<pattern key>)')
  .option('--verify', 'check the plan (invariants, sampled exactness) and run it on the best backend present')
  .option('--dump <stage>', "print one stage's output: parse, check, lower, classify, plan, render")
  .action(async (file: string, options) => {
    process.exitCode = await runCompile(file, options);
  });

analysisOptions(program.command('inspect'))
  .description(
    'print the analysis of a pattern (sparsity, block counts, FLOPs, layout choices) without writing files',
  )
  .action(async (file: string, options) => {
    process.exitCode = await runInspect(file, options);
  });

program
  .command('check')
  .description('parse and check .tile files; print every diagnostic')
  .argument('<files...>')
  .action(async (files: string[]) => {
    process.exitCode = await runCheck(files);
  });

program
  .command('format')
  .description('print a .tile file in canonical form')
  .argument('<files...>')
  .option('-w, --write', 'rewrite the files in place')
  .option('-c, --check', 'exit 1 if a file is not formatted')
  .action(async (files: string[], options) => {
    process.exitCode = await runFormat(files, options);
  });

program
  .command('layers')
  .description('compile every pattern of a per-layer plan file and summarise the stack')
  .argument('<plan>', 'a per-layer plan (JSON, format tessera.layer-plan/1)')
  .option('-b, --block <size>', 'block size, e.g. 128 or 128x64', '128')
  .option('--json', 'print the summary as JSON')
  .option('--no-cache', 'do not read or write the compile cache')
  .option('--flex <dir>', 'write the FlexAttention export (H = heads) of every layer that splits its heads')
  .action(async (plan: string, options) => {
    process.exitCode = await runLayers(plan, options);
  });

program
  .command('patterns')
  .description('list the built-in patterns')
  .action(() => {
    process.exitCode = runPatterns();
  });

program
  .command('regenerate')
  .description('rewrite generated/ (kernels and bindings of every built-in pattern)')
  .option('-c, --check', 'only report stale files; exit 1 if any')
  .action(async (options) => {
    process.exitCode = await runRegenerate(options);
  });

/** Options shared by `generate` and `search`: the model, its inputs, the video size and the sampler. */
function modelOptions(command: Command, textHelp: string): Command {
  return command
    .option(
      '--config <name>',
      'model config for a bare weights file: open-sora-plan-1.2-720p, open-sora-plan-1.2-480p, tiny or a JSON path',
    )
    .requiredOption(
      '--weights <path>',
      'checkpoint folder (config.json + diffusion_pytorch_model.safetensors) or a safetensors file',
    )
    .requiredOption('--text-embeddings <file>', textHelp)
    .option('--frames <n>', 'video frames, 4k + 1 (latent frames (F - 1) / 4 + 1)', '29')
    .option(
      '--size <size>',
      "video size: 720p (1280x720), 480p (640x480) or WxH (default: the checkpoint's trained size, else 720p)",
    )
    .option('--sampler <name>', 'segment (multistep consistency student), ddim or euler-a', 'segment')
    .option('--steps <n>', 'network evaluations: inference steps, or segments for the segment sampler', '20')
    .option('--spacing <spacing>', 'timestep spacing: leading, trailing or linspace (default: per sampler)')
    .option('--guidance <scale>', 'classifier-free guidance scale (1 = none)', '7.5');
}

modelOptions(
  program.command('generate'),
  'safetensors with prompt_embeds and prompt_attention_mask (optional negative_prompt_embeds and its mask)',
)
  .description(
    'sample a video latent with the Open-Sora-Plan 1.2 DiT from text embeddings (writes safetensors)',
  )
  .option('--plan <file>', 'per-layer attention plan JSON (default: full attention everywhere)')
  .option('--seed <n>', 'seed of the initial noise and of ancestral noise', '0')
  .option('-o, --out <file>', 'where to write the latents', 'latents.safetensors')
  .option('--backend <name>', 'cpu or cuda (default cpu; cuda with --gpus)')
  .option(
    '--execution <mode>',
    'cuda: eager (pooled buffers), planned (one memory slab planned from the first step; default) or graph ' +
      '(planned, every later step replayed as one CUDA graph)',
  )
  .option('--json', 'print the timing report as JSON')
  .option(
    '--gpus <n>',
    'sequence parallelism over n GPUs of this machine: one process per GPU, NCCL between them (implies --backend cuda); torchrun and srun start the ranks themselves',
  )
  .option(
    '--ranks <n>',
    'n processes on this machine with any backend (cpu: the host communicator, a reference)',
  )
  .option(
    '--sp-degree <u>',
    'Ulysses degree: ranks that split the tokens of one batch row (must divide the heads)',
  )
  .option('--cfg-parallel', "guidance's unconditional and conditional rows on two groups of ranks")
  .action(async (options) => {
    process.exitCode = await runGenerate(options, { createDenoiser: createModelDenoiser });
  });

modelOptions(
  program.command('search'),
  'safetensors with prompt_embeds [P, L, D] (one or several prompts) and prompt_attention_mask; optional negative_prompt_embeds',
)
  .description(
    "the layer-wise mask search: each layer's sparsest candidate whose error stays under a threshold; writes a " +
      'plan per threshold, a report and an error heatmap',
  )
  .option(
    '--candidates <list>',
    'masks to try, e.g. full,attention_tile:a=2 or my.tile#pattern:k=v (default: full and the Attention Tile masks whose stride divides the latent frames)',
  )
  .option('--threshold <list>', 'error thresholds r, one plan each', '0.025,0.05,0.1,0.2,0.4')
  .option('--calibration <n>', 'calibration seeds (from --seed on), each sampled with every prompt', '4')
  .option(
    '--calibration-steps <steps>',
    'sampler steps recorded: spread (seed i of n at step floor(i * steps / n)) or a list, e.g. 0,10',
    'spread',
  )
  .option('--seed <n>', 'first calibration seed', '0')
  .option(
    '--mode <mode>',
    'independent (every other layer full) or cumulative (decided layers keep their masks)',
    'independent',
  )
  .option('--backend <name>', 'cpu or cuda', 'cpu')
  .option('-b, --block <size>', 'block size of the plans, e.g. 128 or 128x64', '128')
  .option(
    '-o, --out <dir>',
    'folder for the plans (r<threshold>.json), the heatmap and search.json',
    'plans/searched',
  )
  .option('--json', 'print the report as JSON')
  .option('--no-cache', 'do not read or write the compile cache')
  .action(async (options) => {
    process.exitCode = await runSearch(options, { createNetwork: createModelNetwork });
  });

program
  .command('make-checkpoint')
  .description(
    'write a random-weight checkpoint folder (config.json + safetensors) and text embeddings, to try `generate`',
  )
  .option('--config <name>', 'open-sora-plan-1.2-720p, open-sora-plan-1.2-480p, tiny or a JSON path', 'tiny')
  .requiredOption('-o, --out <dir>', 'the checkpoint folder to write')
  .option('--seed <n>', 'seed of the weights and embeddings', '0')
  .option('--text-tokens <n>', 'text length L of the embeddings (padding included)', '32')
  .option('--prompt-tokens <n>', 'real tokens of the prompt (the rest is padding)', '12')
  .action(async (options) => {
    process.exitCode = await runMakeCheckpoint(options);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.exitCode = handleFailure(error);
  }
}
