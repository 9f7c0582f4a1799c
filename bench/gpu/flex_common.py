"""Shared helpers of the GPU-side Python scripts: load tessera's exported block mask (safetensors written by
codegen/flex/block-mask.ts) and mask_mod as a FlexAttention BlockMask (the same mask our kernel walks), and
time a callable the METHOD.md way."""
import importlib.util
import os
import sys

from safetensors import safe_open
from torch.nn.attention.flex_attention import BlockMask


def load_mask_mod(path):
    name = "tessera_" + os.path.basename(path)[:-3].replace(".", "_").replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # torch.compile re-imports the module of a traced function by name, so it must be registered.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.mask_mod


def load_block_mask(directory, prefix, device="cuda"):
    """BlockMask from `<prefix>.blockmask.safetensors` and `<prefix>.mask_mod.py` written by tessera."""
    with safe_open(os.path.join(directory, f"{prefix}.blockmask.safetensors"), framework="pt", device=device) as f:
        meta = f.metadata()
        t = {name: f.get_tensor(name) for name in f.keys()}
    seq_len = int(meta["seq_len"])
    mask_mod = load_mask_mod(os.path.join(directory, f"{prefix}.mask_mod.py"))
    return BlockMask.from_kv_blocks(
        t["kv_num_blocks"],
        t["kv_indices"],
        t["full_kv_num_blocks"],
        t["full_kv_indices"],
        BLOCK_SIZE=(int(meta["q_block_size"]), int(meta["kv_block_size"])),
        mask_mod=mask_mod,
        seq_lengths=(seq_len, seq_len),
    )


def median_ms(fn, warmup_ms=100, rep_ms=500, min_runs=1):
    """Median time of fn() with CUDA events (triton's do_bench: warm-up, cache flush, repetitions). do_bench repeats
    for about rep_ms; a kernel of a large shape (0.1-0.5 s) gets a window long enough for min_runs repetitions."""
    import torch
    import triton.testing

    if min_runs > 1:
        fn()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        rep_ms = max(rep_ms, (min_runs + 0.5) * start.elapsed_time(end))
    return triton.testing.do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median")
