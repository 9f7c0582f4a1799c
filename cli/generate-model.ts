/**
 * How `tessera generate` builds its network: the checkpoint loaded for the config, the per-layer plan read
 * (none = full attention), and the Open-Sora-Plan graph created on the requested backend for one latent shape.
 */
import { access } from 'node:fs/promises';
import { type CompiledLayerPlan, planLayers, readLayerPlan } from '../compiler/layer-plan.js';
import { OptionError } from '../core/errors.js';
import type { Denoiser } from '../models/open-sora-plan/denoiser.js';
import {
  createOpenSoraModel,
  createOpenSoraNetwork,
  type OpenSoraNetwork,
  tokenGrid,
} from '../models/open-sora-plan/network.js';
import { loadOpenSoraWeights } from '../models/open-sora-plan/weights.js';
import type { OpTensor } from '../runtime/model-ops.js';
import type { DenoiserRequest } from './generate.js';

/** Build the Open-Sora-Plan DiT for a `tessera generate` run. */
export async function createModelDenoiser(request: DenoiserRequest): Promise<Denoiser> {
  const { frames, height, width } = request.latent;
  const latent = { frames, height, width };
  let layerPlan: CompiledLayerPlan | undefined;
  if (request.plan !== undefined) {
    await access(request.plan).catch((e: NodeJS.ErrnoException) => {
      throw new OptionError(`--plan: cannot read ${request.plan} (${e.code ?? e.message})`);
    });
    layerPlan = await planLayers(await readLayerPlan(request.plan), tokenGrid(request.config, latent));
  }
  // Open CUDA before reading gigabytes of weights, so an unusable backend is reported at once.
  const cuda = request.backend === 'cuda' ? await import('../runtime/cuda/model-ops.js') : null;
  const cudaOps = cuda?.createCudaOps();
  const weights = await loadOpenSoraWeights(request.weights, request.config);
  const options = {
    latent,
    ...(layerPlan === undefined ? {} : { layerPlan }),
    ...(request.onLayer === undefined ? {} : { onLayer: request.onLayer }),
  };
  if (cudaOps) {
    const { createCudaOpenSoraModel } = await import('../models/open-sora-plan/cuda-model.js');
    // Planned memory by default: the same kernels in the same order as eager, on one slab sized by the first
    // step's allocations (bench/RESULTS.md: 7.9 GiB against 9.1 for the pool at full size, same step time).
    const execution = request.execution ?? 'planned';
    return createCudaOpenSoraModel(request.config, weights, cudaOps, { ...options, execution });
  }
  return createOpenSoraModel(request.config, weights, options);
}

/** A network for `tessera search`: full attention, its pieces exposed; `dispose` frees the backend. */
export interface ModelNetwork {
  readonly network: OpenSoraNetwork<OpTensor>;
  dispose(): void;
}

/**
 * Build the Open-Sora-Plan network (full attention) on the requested backend from a checkpoint, in pieces (the
 * layer search runs parts of the graph). On CUDA the weights are uploaded once and kept; async settles are off,
 * since the search times whole forwards.
 */
export async function createModelNetwork(
  request: Omit<DenoiserRequest, 'plan' | 'execution'>,
): Promise<ModelNetwork> {
  const { frames, height, width } = request.latent;
  const latent = { frames, height, width };
  // Open CUDA before reading gigabytes of weights, so an unusable backend is reported at once.
  const cuda = request.backend === 'cuda' ? await import('../runtime/cuda/model-ops.js') : null;
  const cudaOps = cuda?.createCudaOps({ syncAttention: false });
  try {
    const weights = await loadOpenSoraWeights(request.weights, request.config);
    if (cudaOps) {
      const network = cudaOps.persistent(() =>
        createOpenSoraNetwork(request.config, weights, { latent, ops: cudaOps }),
      );
      return { network: network as OpenSoraNetwork<OpTensor>, dispose: () => cudaOps.dispose() };
    }
    return { network: createOpenSoraNetwork(request.config, weights, { latent }), dispose: () => {} };
  } catch (error) {
    cudaOps?.dispose();
    throw error;
  }
}
