"""The PyTorch side of bench/model-step.ts: the same Open-Sora-Plan 1.2 network (SPEC 2; 32 blocks, 24 heads x
96, FFN 9216, adaLN-single, RoPE3D, cross-attention to 120 text tokens) written directly in PyTorch, bf16,
attention through SDPA with the cuDNN backend, random weights with the same scales. Times one sampling step
with guidance (batch 2) at 29 frames 720p (28,800 tokens; 93 frames, 86,400 tokens, with TESSERA_LATENT_FRAMES=24)
with CUDA events, and the self-attention calls alone.

Usage: python3 bench/gpu/model-step.py <outDir> [layers] [iterations]
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

DEV, DT = "cuda", torch.bfloat16
D, HEADS, HEAD_DIM, FFN = 2304, 24, 96, 9216
CHANNELS, CAPTION, T_CHANNELS = 4, 4096, 256
FRAMES, HEIGHT, WIDTH = int(os.environ.get("TESSERA_LATENT_FRAMES", "8")), 90, 160
HP, WP = HEIGHT // 2, WIDTH // 2
N = FRAMES * HP * WP
BATCH, TEXT = 2, 120
SDPA_BACKENDS = [SDPBackend.CUDNN_ATTENTION]


def uniform(gen, shape, bound):
    return ((torch.rand(*shape, device=DEV, generator=gen) * 2 - 1) * bound).to(DT)


def linear(gen, out, inp):
    bound = 1 / math.sqrt(inp)
    return uniform(gen, (out, inp), bound), uniform(gen, (out,), bound)


def make_weights(layers, gen):
    w = {
        "patch": linear(gen, D, CHANNELS * 4),
        "t1": linear(gen, D, T_CHANNELS),
        "t2": linear(gen, D, D),
        "t6": linear(gen, 6 * D, D),
        "c1": linear(gen, D, CAPTION),
        "c2": linear(gen, D, D),
        "table": uniform(gen, (2, D), math.sqrt(3 / D)),
        "out": linear(gen, CHANNELS * 4, D),
        "blocks": [],
    }
    for _ in range(layers):
        blk = {name: linear(gen, D, D) for name in ("q", "k", "v", "o", "cq", "ck", "cv", "co")}
        blk["ff1"] = linear(gen, FFN, D)
        blk["ff2"] = linear(gen, D, FFN)
        blk["table"] = uniform(gen, (6, D), math.sqrt(3 / D))
        w["blocks"].append(blk)
    return w


def rope_tables():
    """cos/sin [N, 1, 3, 16]: per token, the angles of its t, h and w positions (RoPE3D, rotate-half pairs)."""
    chunk = HEAD_DIM // 3
    inv = 10000.0 ** (-torch.arange(0, chunk, 2, device=DEV, dtype=torch.float32) / chunk)
    n = torch.arange(N, device=DEV)
    pos = torch.stack([n // (HP * WP), (n // WP) % HP, n % WP], dim=1).float()
    angles = pos[:, :, None] * inv[None, None, :]
    return angles.cos()[:, None].to(DT), angles.sin()[:, None].to(DT)


def rope(x, cos, sin):
    b, n = x.shape[0], x.shape[1]
    x = x.view(b, n, HEADS, 3, 2, HEAD_DIM // 6)
    x1, x2 = x[..., 0, :], x[..., 1, :]
    out = torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-2)
    return out.view(b, n, HEADS, HEAD_DIM)


def attention(q, k, v):
    with sdpa_kernel(SDPA_BACKENDS):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)


def timestep_features(t):
    half = T_CHANNELS // 2
    f = torch.exp(-math.log(10000) * torch.arange(half, device=DEV, dtype=torch.float32) / half)
    a = t[:, None].float() * f[None]
    return torch.cat([a.cos(), a.sin()], dim=1).to(DT)


def embed(w, p, t, text):
    """Patch embedding of patches [B, n, C * 2 * 2], the timestep embedding and modulation, the caption projection."""
    b = p.shape[0]
    h = F.linear(p, *w["patch"])
    emb = F.linear(F.silu(F.linear(timestep_features(t), *w["t1"])), *w["t2"])
    t6 = F.linear(F.silu(emb), *w["t6"]).view(b, 6, D)
    cap = F.linear(F.gelu(F.linear(text, *w["c1"]), approximate="tanh"), *w["c2"])
    return h, emb, t6, cap


def blocks(w, h, t6, cap, cos, sin, attend=None):
    """The transformer blocks on hidden states [B, n, D]; `attend(q, k, v)` is self-attention (default SDPA; the
    sequence-parallel peer wraps it in all-to-alls)."""
    attend = attend or attention
    b, n = h.shape[0], h.shape[1]
    for blk in w["blocks"]:
        mod = blk["table"][None] + t6
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (m[:, None] for m in mod.unbind(1))
        nrm = F.layer_norm(h, (D,), eps=1e-6) * (1 + scale_msa) + shift_msa
        q = rope(F.linear(nrm, *blk["q"]).view(b, n, HEADS, HEAD_DIM), cos, sin)
        k = rope(F.linear(nrm, *blk["k"]).view(b, n, HEADS, HEAD_DIM), cos, sin)
        v = F.linear(nrm, *blk["v"]).view(b, n, HEADS, HEAD_DIM)
        h = h + gate_msa * F.linear(attend(q, k, v).reshape(b, n, D), *blk["o"])
        cq = F.linear(h, *blk["cq"]).view(b, n, HEADS, HEAD_DIM)
        ck = F.linear(cap, *blk["ck"]).view(b, cap.shape[1], HEADS, HEAD_DIM)
        cv = F.linear(cap, *blk["cv"]).view(b, cap.shape[1], HEADS, HEAD_DIM)
        h = h + F.linear(attention(cq, ck, cv).reshape(b, n, D), *blk["co"])
        nrm = F.layer_norm(h, (D,), eps=1e-6) * (1 + scale_mlp) + shift_mlp
        h = h + gate_mlp * F.linear(F.gelu(F.linear(nrm, *blk["ff1"]), approximate="tanh"), *blk["ff2"])
    return h


def output(w, h, emb):
    """Final modulation and projection: per-token patch outputs [B, n, 2 * 2 * C]."""
    shift, scale = (m[:, None] for m in (w["table"][None] + emb[:, None]).unbind(1))
    return F.linear(F.layer_norm(h, (D,), eps=1e-6) * (1 + scale) + shift, *w["out"])


def patchify(x):
    """[B, C, T, H, W] -> [B, T * H/2 * W/2, C * 2 * 2] ordered (c, i, j)."""
    b, _, frames = x.shape[0], x.shape[1], x.shape[2]
    return x.reshape(b, CHANNELS, frames, HP, 2, WP, 2).permute(0, 2, 3, 5, 1, 4, 6).reshape(b, -1, CHANNELS * 4)


def forward(w, x, t, text, cos, sin):
    b = x.shape[0]
    h, emb, t6, cap = embed(w, patchify(x), t, text)
    y = output(w, blocks(w, h, t6, cap, cos, sin), emb)
    y = y.view(b, FRAMES, HP, WP, 2, 2, CHANNELS).permute(0, 6, 1, 2, 4, 3, 5)
    return y.reshape(b, CHANNELS, FRAMES, HEIGHT, WIDTH)


def time_ms(fn, iterations, warmup=1):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2], times


@torch.inference_mode()
def main():
    global SDPA_BACKENDS
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "out/bench-model"
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    os.makedirs(out_dir, exist_ok=True)
    gen = torch.Generator(device=DEV).manual_seed(0)
    w = make_weights(layers, gen)
    x = torch.randn(BATCH, CHANNELS, FRAMES, HEIGHT, WIDTH, device=DEV, dtype=DT, generator=gen)
    t = torch.full((BATCH,), 500.0, device=DEV)
    text = torch.randn(BATCH, TEXT, CAPTION, device=DEV, dtype=DT, generator=gen)
    cos, sin = rope_tables()
    q, k, v = (torch.randn(BATCH, N, HEADS, HEAD_DIM, device=DEV, dtype=DT, generator=gen) for _ in range(3))
    try:
        attention(q, k, v)
        backend = "cuDNN"
    except RuntimeError as e:  # no cuDNN attention here: take what SDPA picks, and say so
        print(f"cuDNN SDPA unavailable ({str(e).splitlines()[0]}); using SDPA's default choice")
        SDPA_BACKENDS = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]
        backend = "SDPA default"
    print(f"device {torch.cuda.get_device_name()}; torch {torch.__version__}; {layers} layers; {N} tokens; SDPA {backend}")
    step, runs = time_ms(lambda: forward(w, x, t, text, cos, sin), iterations)
    attn, _ = time_ms(lambda: attention(q, k, v), 3)
    result = {
        "layers": layers,
        "backend": backend,
        "torch_step_ms": step,
        "torch_step_runs": runs,
        "torch_attention_ms": attn * layers,
        "torch_attention_share": attn * layers / step,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
    }
    with open(os.path.join(out_dir, "model-step-torch.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"| PyTorch bf16 (SDPA {backend}) | full | {step:.1f} ms | self-attention {attn * layers:.1f} ms "
          f"({100 * attn * layers / step:.1f}%) | peak {result['peak_memory_gib']:.1f} GiB |")
    ours_path = os.path.join(out_dir, "model-step.json")
    if os.path.exists(ours_path):
        with open(ours_path) as f:
            ours = json.load(f)
        print(f"tessera full {ours['full_step_ms']:.1f} ms vs PyTorch {step:.1f} ms: "
              f"{step / ours['full_step_ms']:.2f}x; tessera plan {ours['plan_step_ms']:.1f} ms")
        if "full_graph_step_ms" in ours:  # written by bench/model-step.ts since the memory plan and CUDA graphs
            held = (ours["weights_bytes"] + ours["full_planned_activation_bytes"]) / 2**30
            print(f"tessera full as a CUDA graph {ours['full_graph_step_ms']:.1f} ms "
                  f"({step / ours['full_graph_step_ms']:.2f}x PyTorch); planned memory {held:.1f} GiB "
                  f"vs PyTorch peak {result['peak_memory_gib']:.1f} GiB")


if __name__ == "__main__":
    main()
