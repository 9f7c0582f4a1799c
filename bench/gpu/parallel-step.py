"""The PyTorch peer of bench/parallel-step.ts: the same Open-Sora-Plan 1.2 network as bench/gpu/model-step.py
(bf16, SDPA with cuDNN, random weights with the same scales) split over the ranks torchrun starts, the way xDiT
and Open-Sora-Plan do it: Ulysses all-to-alls with torch.distributed.all_to_all_single around self-attention
(tokens split by frames, RoPE with global positions), and CFG-parallel (guidance's two rows on two rank groups,
gathered at the end). Full attention only (PyTorch has no block-sparse plan here). Times one step with CUDA
events on every rank; rank 0 prints the table and, when bench/parallel-step.ts wrote parallel-step.json in the
same folder, tessera's time for the same case.

Usage: python3 -m torch.distributed.run --nproc-per-node P bench/gpu/parallel-step.py <outDir> <latent frames>
       [ulysses|cfg] [iterations]
"""

import importlib.util
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

_spec = importlib.util.spec_from_file_location("model_step", os.path.join(os.path.dirname(__file__), "model-step.py"))
model_step = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_step)

DEV, DT = "cuda", torch.bfloat16
D, HEADS, HEAD_DIM = model_step.D, model_step.HEADS, model_step.HEAD_DIM
CHANNELS, CAPTION = model_step.CHANNELS, model_step.CAPTION
HEIGHT, WIDTH = 90, 160
HP, WP = HEIGHT // 2, WIDTH // 2
BATCH, TEXT = 2, 120


def rope_tables(frames, first):
    """cos/sin [n, 1, 3, 16] of the rank's tokens: frames first .. first + frames - 1 (global positions)."""
    chunk = HEAD_DIM // 3
    inv = 10000.0 ** (-torch.arange(0, chunk, 2, device=DEV, dtype=torch.float32) / chunk)
    n = torch.arange(frames * HP * WP, device=DEV)
    pos = torch.stack([n // (HP * WP) + first, (n // WP) % HP, n % WP], dim=1).float()
    angles = pos[:, :, None] * inv[None, None, :]
    return angles.cos()[:, None].to(DT), angles.sin()[:, None].to(DT)


def sdpa(q, k, v):
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)


class Ulysses:
    """All-to-alls within a group of U ranks: [B, n, H, d] (tokens split) <-> [B, N, H / U, d] (heads split)."""

    def __init__(self, group, size):
        self.group, self.size = group, size

    def to_heads(self, x):
        if self.size == 1:
            return x
        b, n, h, d = x.shape
        # [U, B, n, H / U, d]: chunk s goes to rank s; what arrives is [U (source), B, n, H / U, d].
        send = x.view(b, n, self.size, h // self.size, d).permute(2, 0, 1, 3, 4).contiguous()
        recv = torch.empty_like(send)
        dist.all_to_all_single(recv, send, group=self.group)
        return recv.permute(1, 0, 2, 3, 4).reshape(b, self.size * n, h // self.size, d)

    def to_tokens(self, x):
        if self.size == 1:
            return x
        b, total, hg, d = x.shape
        n = total // self.size
        send = x.view(b, self.size, n, hg, d).permute(1, 0, 2, 3, 4).contiguous()
        recv = torch.empty_like(send)
        dist.all_to_all_single(recv, send, group=self.group)
        return recv.permute(1, 2, 0, 3, 4).reshape(b, n, self.size * hg, d)


def forward(w, x, t, text, cos, sin, uly, frames_local, first):
    """model-step.py's network on this rank's rows and frames; self-attention through the all-to-alls."""
    p = model_step.patchify(x[:, :, first:first + frames_local])
    h, emb, t6, cap = model_step.embed(w, p, t, text)
    h = model_step.blocks(w, h, t6, cap, cos, sin,
                          attend=lambda q, k, v: uly.to_tokens(sdpa(uly.to_heads(q), uly.to_heads(k), uly.to_heads(v))))
    return model_step.output(w, h, emb)


@torch.inference_mode()
def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "out/bench-parallel"
    frames = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    mode = sys.argv[3] if len(sys.argv) > 3 else "ulysses"
    iterations = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if world > 1:
        dist.init_process_group("nccl")
    cfg = 2 if mode == "cfg" and world % 2 == 0 else 1
    sp = world // cfg
    assert HEADS % sp == 0 and frames % sp == 0, "the peer splits frames and heads evenly"
    group_id, position = rank // sp, rank % sp
    groups = [dist.new_group(list(range(g * sp, (g + 1) * sp))) for g in range(cfg)] if world > 1 else [None]
    uly = Ulysses(groups[group_id], sp)
    gen = torch.Generator(device=DEV).manual_seed(0)
    w = model_step.make_weights(32, gen)
    x = torch.randn(BATCH, CHANNELS, frames, HEIGHT, WIDTH, device=DEV, dtype=DT, generator=gen)
    t = torch.full((BATCH,), 500.0, device=DEV)
    text = torch.randn(BATCH, TEXT, CAPTION, device=DEV, dtype=DT, generator=gen)
    rows = slice(group_id, group_id + 1) if cfg == 2 else slice(0, BATCH)
    frames_local, first = frames // sp, position * (frames // sp)
    cos, sin = rope_tables(frames_local, first)

    def step():
        y = forward(w, x[rows], t[rows], text[rows], cos, sin, uly, frames_local, first)
        if world > 1:  # every rank ends with the whole [B, N, 16] output, as tessera's ranks do
            parts = [torch.empty_like(y) for _ in range(world)]
            dist.all_gather(parts, y.contiguous())
        return y

    ms, runs = model_step.time_ms(step, iterations)
    if world > 1:
        dist.barrier()
    if rank == 0:
        split = "one GPU" if world == 1 else (f"CFG x Ulysses {sp}" if cfg == 2 else f"Ulysses {sp}")
        result = {"frames": frames, "world": world, "sp": sp, "cfg": cfg, "torch_ms": ms, "runs": runs}
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, f"parallel-torch-f{frames}-p{world}-{mode}.json"), "w") as f:
            json.dump(result, f, indent=2)
        line = f"| PyTorch (torchrun, SDPA) | {frames * 4 - 3} frames | full | P={world} | {split} | {ms:.1f} ms |"
        ours_path = os.path.join(out_dir, "parallel-step.json")
        if os.path.exists(ours_path):
            with open(ours_path) as f:
                ours = [r for r in json.load(f) if r["frames"] == frames and r["attention"] == "full"
                        and r["world"] == world and r["degrees"]["sp"] == sp and r["degrees"]["cfg"] == cfg]
            if ours:
                line += f" tessera {ours[0]['ms']:.1f} ms ({ms / ours[0]['ms']:.2f}x) |"
        print(line, flush=True)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
