"""Compare tessera's CUDA kernel output with FlexAttention on the same inputs and the same block mask.

Reads what `test/device/attention.gpu.ts` exported (TESSERA_FLEX_DIR): flex_case.tensors.safetensors (q, k, v as
bf16 values in float32, our out and lse), the block mask (safetensors) and mask_mod. Prints the relative errors; exits 1 above 1e-2.
Usage: python3 bench/gpu/flex_compare.py <dir>
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file
from torch.nn.attention.flex_attention import flex_attention

sys.path.insert(0, os.path.dirname(__file__))
from flex_common import load_block_mask  # noqa: E402


def main():
    directory = sys.argv[1]
    meta = json.load(open(os.path.join(directory, "flex_case.json")))
    t = load_file(os.path.join(directory, "flex_case.tensors.safetensors"), device="cuda")
    q, k, v = (t[n].to(torch.bfloat16) for n in ("q", "k", "v"))
    ours, ours_lse = t["out"], t["lse"]
    mask = load_block_mask(directory, "flex_case")
    out, lse = torch.compile(flex_attention)(q, k, v, block_mask=mask, return_lse=True)
    out, lse = out.float(), lse.float()
    # Reference in float64 on the same bf16 inputs, dense with the mask_mod, to judge both implementations.
    S = meta["seqLen"]
    idx = torch.arange(S, device="cuda")
    allowed = mask.mask_mod(0, 0, idx[:, None], idx[None, :])
    logits = (q.double() @ k.double().transpose(-1, -2)) / math.sqrt(q.shape[-1])
    logits = logits.masked_fill(~allowed, float("-inf"))
    ref_lse = torch.logsumexp(logits, dim=-1)
    p = torch.softmax(logits, dim=-1).nan_to_num(0.0)
    ref = p @ v.double()
    rel = lambda a, b: ((a.double() - b).norm() / b.norm()).item()
    finite = torch.isfinite(ref_lse)
    lse_err = lambda a: (a.double()[finite] - ref_lse[finite]).abs().max().item()
    results = {
        "tessera_vs_flex_out": rel(ours, out.double()),
        "tessera_vs_float64_out": rel(ours, ref),
        "flex_vs_float64_out": rel(out, ref),
        "tessera_lse_max_abs_err": lse_err(ours_lse),
        "flex_lse_max_abs_err": lse_err(lse),
    }
    print(f"FlexAttention comparison on {meta['plan']} (same block mask, same bf16 inputs):")
    for name, value in results.items():
        print(f"  {name:28s} {value:.3e}")
    ok = results["tessera_vs_flex_out"] < 1e-2 and results["tessera_vs_float64_out"] < 1e-2
    print("  PASS" if ok else "  FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
