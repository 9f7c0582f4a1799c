/**
 * Block copies between [B, N, W] tensors (bf16): the one layout kernel sequence parallelism needs. It slices a
 * rank's tokens out of the patch embedding, packs the head groups of Q, K and V for the all-to-all, places what
 * arrives back in token or head order, and stands in for the exchange itself when the ranks are logical (one
 * process, one GPU).
 */
import { param } from '../kernel-params.js';
import type { OpKernelSpec } from './kernel-spec.js';

/** dst[db + b, dn + n, dc + c] = src[sb + b, sn + n, sc + c] over a batches x rows x cols block. */
export const COPY_BLOCK: OpKernelSpec = {
  name: 'tp_copy_block',
  doc: 'copy a batches x rows x cols block of a [B, N, W] tensor into another at any offset',
  threads: 256,
  params: [
    param.in('src'),
    param.out('dst'),
    param.i64('total', 'batches * rows * cols'),
    param.i32('rows'),
    param.i32('cols'),
    param.i64('src_origin', 'element offset of the block in src'),
    param.i64('src_batch', 'elements between batches of src'),
    param.i64('src_row', 'elements between rows of src'),
    param.i64('dst_origin'),
    param.i64('dst_batch'),
    param.i64('dst_row'),
  ],
  body: `  TP_GRID_LOOP(e, total) {
    const long long c = e % cols;
    const long long r = (e / cols) % rows;
    const long long b = e / ((long long)cols * rows);
    dst[dst_origin + b * dst_batch + r * dst_row + c] = src[src_origin + b * src_batch + r * src_row + c];
  }`,
};
