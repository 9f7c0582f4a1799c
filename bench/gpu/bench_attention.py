"""Side-by-side attention benchmark on one GPU, in one session: tessera's CUDA kernel (timed by
`bench/cuda-attention.ts`, results in ours.json) against PyTorch SDPA (flash and cuDNN backends, dense only)
and FlexAttention with the same block mask (our exported tables + mask_mod). Prints ms, TFLOP/s, share of
the GPU's bf16 peak and our time over theirs; writes results.json and results.md next to ours.json.

Usage: python3 bench/gpu/bench_attention.py <dir with ours.json> [peak_tflops]
"""
import datetime
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import flex_attention

sys.path.insert(0, os.path.dirname(__file__))
from flex_common import load_block_mask, median_ms  # noqa: E402

# H100 SXM dense bf16 tensor-core peak from the datasheet (989.4 TFLOP/s); pass another for other GPUs.
DEFAULT_PEAK = 989.4


def main():
    directory = sys.argv[1]
    peak = float(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_PEAK
    ours = json.load(open(os.path.join(directory, "ours.json")))
    # Each mask_mod is a new function to compile; keep every compiled variant instead of falling back.
    torch._dynamo.config.cache_size_limit = 64
    flex = torch.compile(flex_attention)
    table = []
    for row in ours["rows"]:
        S, H, D = row["seqLen"], row["heads"], row["headDim"]
        gen = torch.Generator(device="cuda").manual_seed(0)
        q, k, v = (torch.randn(1, H, S, D, device="cuda", dtype=torch.bfloat16, generator=gen) for _ in range(3))
        dense_flops = 4 * S * S * D * H
        computed_flops = row["tflopsComputed"] * row["ms"] * 1e9
        entry = {"mask": row["mask"], "frames": row["frames"], "tokens": S, "ours_ms": row["ms"],
                 "family": row.get("family", "mma"), "mma_ms": row.get("mmaMs")}
        mask = load_block_mask(directory, row["prefix"])
        entry["flex_ms"] = median_ms(lambda: flex(q, k, v, block_mask=mask))
        if row["mask"] == "full":
            for name, backend in (("sdpa_flash_ms", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn_ms", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(backend):
                        F.scaled_dot_product_attention(q, k, v)
                        entry[name] = median_ms(lambda: F.scaled_dot_product_attention(q, k, v))
                except RuntimeError as e:  # a backend that does not support the shape here
                    entry[name] = None
                    print(f"{name}: unavailable ({str(e).splitlines()[0]})")
        entry["ours_tflops"] = computed_flops / row["ms"] / 1e9
        entry["ours_dense_equiv_tflops"] = dense_flops / row["ms"] / 1e9
        entry["flex_tflops"] = computed_flops / entry["flex_ms"] / 1e9
        entry["computed_blocks"] = f"{row['computedBlocks']}/{row['totalBlocks']} ({row['partialBlocks']} partial)"
        table.append(entry)
        del q, k, v
        torch.cuda.empty_cache()

    # Issue 4's sparse target: a mask's TFLOP/s on its computed blocks over our dense TFLOP/s at the same length.
    dense_rate = {e["frames"]: e["ours_tflops"] for e in table if e["mask"] == "full"}
    for e in table:
        e["of_dense"] = e["ours_tflops"] / dense_rate[e["frames"]] if e["frames"] in dense_rate else None

    gpu = torch.cuda.get_device_name()
    date = datetime.date.today().isoformat()
    lines = [
        f"GPU: {gpu}; date {date}; torch {torch.__version__}; batch 1, 24 heads, head dim 96, bf16; block 128x128;",
        f"TFLOP/s count the computed blocks (full + partial) of each mask; peak = {peak} TFLOP/s (dense bf16).",
        "",
        "'ours' is the kernel the runtime picks on this GPU (family column); 'mma ms' is the sm_80 kernel on the same GPU;",
        "'of dense' is a mask's TFLOP/s over ours on full attention at the same length (issue 4's target: 0.9 or more).",
        "",
        "| T | mask | tokens | computed blocks | family | ours ms | ours TFLOP/s | % peak | of dense | mma ms | Flex ms | Flex TFLOP/s | ours/Flex | SDPA flash ms | ours/flash | SDPA cuDNN ms | ours/cuDNN |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda x, p=3: "-" if x is None else f"{x:.{p}f}"
    for e in table:
        flash, cudnn = e.get("sdpa_flash_ms"), e.get("sdpa_cudnn_ms")
        lines.append(
            f"| {e['frames']} | {e['mask']} | {e['tokens']} | {e['computed_blocks']} | {e['family']} | {fmt(e['ours_ms'])} | "
            f"{fmt(e['ours_tflops'], 1)} | {fmt(100 * e['ours_tflops'] / peak, 1)} | {fmt(e['of_dense'], 2)} | {fmt(e['mma_ms'])} | {fmt(e['flex_ms'])} | "
            f"{fmt(e['flex_tflops'], 1)} | {fmt(e['ours_ms'] / e['flex_ms'], 2)} | {fmt(flash)} | "
            f"{fmt(None if flash is None else e['ours_ms'] / flash, 2)} | {fmt(cudnn)} | "
            f"{fmt(None if cudnn is None else e['ours_ms'] / cudnn, 2)} |"
        )
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(directory, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump({"gpu": gpu, "date": date, "peak": peak, "ours": ours, "table": table}, f, indent=2)


if __name__ == "__main__":
    main()
