/** Why the CUDA model tests cannot run here: no CUDA (addon, driver, device) or no cuBLASLt; false when they can. */
import { cublasLtAvailable } from '../../runtime/cuda/gemm.js';
import { cudaAvailable } from '../../runtime/cuda/index.js';

export function cudaModelSkip(): string | false {
  const gpu = cudaAvailable();
  if (!gpu.available) return `no CUDA: ${gpu.reason.split('\n')[0]}`;
  const lt = cublasLtAvailable();
  return lt.available ? false : `no cuBLASLt: ${lt.reason.split('\n')[0]}`;
}
