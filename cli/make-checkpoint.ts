/**
 * `tessera make-checkpoint`: a random-weight checkpoint folder laid out like a released one (`config.json` beside
 * `diffusion_pytorch_model.safetensors`) and a text-embeddings file for it (a prompt and a negative prompt with
 * their masks), so `tessera generate` can be tried without downloading anything. The weights are seeded bf16
 * streamed to disk (memory stays small even for the 2.7B-parameter model); the embeddings are seeded normals.
 * Random weights give noise, not video: this exercises the pipeline and measures it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, OptionError } from '../core/errors.js';
import { gaussianNoise } from '../core/random.js';
import { writeSafetensors } from '../core/safetensors.js';
import { fromStorage, fromValues } from '../core/tensor.js';
import { hiddenSize } from '../models/open-sora-plan/config.js';
import { diffusersConfigOf } from '../models/open-sora-plan/diffusers-config.js';
import { writeRandomOpenSoraCheckpoint } from '../models/open-sora-plan/random-weights.js';
import { handleFailure } from './exit.js';
import { CHECKPOINT_WEIGHTS, resolveConfig } from './generate-inputs.js';
import { prepareOutputFolder } from './output-paths.js';

/** Options of `make-checkpoint` as commander hands them over. */
export interface MakeCheckpointCliOptions {
  config: string;
  out: string;
  seed: string;
  textTokens: string;
  promptTokens: string;
}

/** The file `make-checkpoint` writes the text embeddings to, inside the folder. */
export const TEXT_EMBEDDINGS_FILE = 'text-embeddings.safetensors';

function integer(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max)
    throw new OptionError(`${option}: expected an integer from ${min} to ${max}, found "${text}"`);
  return n;
}

/** Write the folder; returns what was written, one line per file. */
export async function makeCheckpoint(cli: MakeCheckpointCliOptions): Promise<string[]> {
  const config = await resolveConfig(cli.config);
  const seed = integer('--seed', cli.seed, 0, 2 ** 31 - 1);
  const tokens = integer('--text-tokens', cli.textTokens, 1, 4096);
  const promptTokens = integer('--prompt-tokens', cli.promptTokens, 1, tokens);
  await prepareOutputFolder(cli.out);
  const json = diffusersConfigOf(config);
  await writeFile(join(cli.out, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  const weights = join(cli.out, CHECKPOINT_WEIGHTS);
  const bytes = await writeRandomOpenSoraCheckpoint(weights, config, seed);
  const width = config.captionChannels;
  // mT5 pads to a fixed length: the prompt's real tokens first, then padding; the negative prompt "" is one
  // end-of-sequence token.
  const mask = (real: number) => Array.from({ length: tokens }, (_, i) => (i < real ? 1 : 0));
  const text = join(cli.out, TEXT_EMBEDDINGS_FILE);
  await writeSafetensors(
    text,
    {
      prompt_embeds: fromStorage('float32', [1, tokens, width], gaussianNoise(seed, 1, tokens * width)),
      prompt_attention_mask: fromValues('int32', [1, tokens], mask(promptTokens)),
      negative_prompt_embeds: fromStorage(
        'float32',
        [1, tokens, width],
        gaussianNoise(seed, 2, tokens * width),
      ),
      negative_prompt_attention_mask: fromValues('int32', [1, tokens], mask(1)),
    },
    { format: 'pt', note: 'random embeddings for trying tessera generate; not an encoded prompt' },
  );
  const params = (bytes / 2).toLocaleString('en-US');
  return [
    `${join(cli.out, 'config.json')}  (${config.name}: ${config.layers} layers, hidden ${hiddenSize(config)})`,
    `${weights}  (${params} random bf16 weights, seed ${seed})`,
    `${text}  (prompt: ${promptTokens} of ${tokens} tokens; negative prompt: 1 token; width ${width})`,
  ];
}

/** The command: write the folder and say what was written and how to use it. */
export async function runMakeCheckpoint(cli: MakeCheckpointCliOptions): Promise<number> {
  try {
    const written = await makeCheckpoint(cli);
    process.stdout.write(
      `wrote\n${written.map((w) => `  ${w}`).join('\n')}\n` +
        `try: tessera generate --weights ${cli.out} --text-embeddings ${join(cli.out, TEXT_EMBEDDINGS_FILE)} ` +
        '--frames 9 --size 64x64 --steps 4 --out latents.safetensors\n',
    );
    return EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}
