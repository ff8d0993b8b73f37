#!/usr/bin/env python3
"""bench_torch.py: PyTorch's SDPA peers of pattn-bench, and the side-by-side table.

Times torch.nn.functional.scaled_dot_product_attention with the FLASH_ATTENTION and
CUDNN_ATTENTION backends on FlashAttention's benchmark grid (16K tokens per batch, hidden 2048,
head dims 64 and 128, sequence 1K..16K, causal and full), the same way pattn-bench times ours:
q, k, v are views of one fused (batch, seqlen, 3, heads, head_dim) tensor of uniform [-1, 1)
values, CUDA events around each call, warm-up calls first, the median of the timed ones.
TFLOP/s follow FlashAttention's convention: 4 * B * L * L * H * D, halved when causal.

  python3 tools/bench_torch.py [--dtype bf16,fp16] [--json FILE] [--ours pattn-bench.json]
  python3 tools/bench_torch.py --pass bwd ...   (the backward alone: 2.5 x the forward's FLOPs)
  python3 tools/bench_torch.py --peers FILE --ours pattn-bench.json   (the table only)

With --ours (the JSON of `pattn-bench -B cuda -G fa2 -J FILE`) it ends with a table of ours,
flash and cuDNN side by side, with the ratios ours/flash and ours/cuDNN.
"""
import argparse
import json
import statistics
import sys

DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", default="bf16,fp16", help="comma list of bf16, fp16")
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--seqlens", default="1024,2048,4096,8192,16384")
    ap.add_argument("--causal", default="both", choices=["0", "1", "both"])
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--ours", help="pattn-bench JSON to print side by side")
    ap.add_argument("--peers", help="print the table from this earlier --json instead of timing")
    ap.add_argument("--dropout", type=float, default=0.0, help="dropout probability")
    ap.add_argument("--pass", dest="which", default="fwd", choices=["fwd", "bwd"],
                    help="time the forward, or the backward alone (from the forward's outputs)")
    args = ap.parse_args()
    for d in args.dtype.split(","):
        if d not in DTYPES:
            ap.error(f"--dtype {d}: expected bf16 or fp16")
    return args


def flops(batch, seqlen, heads, head_dim, causal, which="fwd"):
    f = 4.0 * batch * seqlen * seqlen * heads * head_dim
    f = f / 2 if causal else f
    return 2.5 * f if which == "bwd" else f


def time_ms(torch, fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(iters):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def run_peers(args):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = [("torch_flash", SDPBackend.FLASH_ATTENTION), ("torch_cudnn", SDPBackend.CUDNN_ATTENTION)]
    causals = [0, 1] if args.causal == "both" else [int(args.causal)]
    rows = []
    print(f"# PyTorch {torch.__version__} on {torch.cuda.get_device_name()}")
    for dname in args.dtype.split(","):
        dtype = getattr(torch, DTYPES[dname])
        for causal in causals:
            for head_dim in map(int, args.head_dims.split(",")):
                for seqlen in map(int, args.seqlens.split(",")):
                    batch = max(1, args.tokens // seqlen)
                    heads = args.hidden // head_dim
                    qkv = torch.empty(batch, seqlen, 3, heads, head_dim, device="cuda", dtype=dtype)
                    qkv.uniform_(-1, 1)
                    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
                    if args.which == "bwd":
                        q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
                        dout = torch.empty_like(q).uniform_(-1, 1)
                    for name, backend in backends:
                        row = dict(backend=name, dtype=dname, causal=causal, batch=batch,
                                   seqlen=seqlen, heads=heads, head_dim=head_dim,
                                   dropout=args.dropout)
                        try:
                            with sdpa_kernel(backend):
                                out = F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal),
                                                                     dropout_p=args.dropout)
                                if args.which == "bwd":
                                    call = lambda: torch.autograd.grad(out, (q, k, v), dout,
                                                                       retain_graph=True)
                                else:
                                    call = lambda: F.scaled_dot_product_attention(
                                        q, k, v, is_causal=bool(causal), dropout_p=args.dropout)
                                ms = time_ms(torch, call, args.warmup, args.iters)
                            row.update(time_ms=ms, tflops=flops(batch, seqlen, heads, head_dim,
                                                                causal, args.which) / ms / 1e9)
                        except RuntimeError as e:  # a backend without a kernel for the shape
                            row.update(error=str(e).splitlines()[0])
                        rows.append(row)
                        print(f"{name:12s} {args.which} {dname} causal={causal} d={head_dim:3d} "
                              f"L={seqlen:5d} B={batch:2d} "
                              + (f"{row['time_ms']:8.3f} ms {row['tflops']:6.1f} TFLOP/s" if "tflops" in row
                                 else f"failed: {row['error']}"), flush=True)
                        out = None
                    del qkv, q, k, v
    return rows


def key(row):
    return (row["dtype"], int(row["causal"]), int(row["head_dim"]), int(row["seqlen"]))


def print_table(ours_rows, peer_rows, which):
    peers = {(r["backend"],) + key(r): r.get("tflops") for r in peer_rows}
    print("\n# TFLOP/s (FlashAttention's convention), " + ("forward" if which == "fwd"
          else "backward alone (2.5 x the forward's FLOPs)"))
    print(f"{'dtype':5s} {'mask':6s} {'d':>4s} {'seqlen':>6s} | {'ours':>6s} {'flash':>6s} {'cuDNN':>6s} |"
          f" {'ours/flash':>10s} {'ours/cuDNN':>10s}")
    for r in sorted(ours_rows, key=key):
        k = key(r)
        ours = r.get("tflops" if which == "fwd" else "bwd_tflops")
        flash, cudnn = peers.get(("torch_flash",) + k), peers.get(("torch_cudnn",) + k)

        def fmt(x, spec="6.1f"):
            return format(x, spec) if isinstance(x, (int, float)) else "-".rjust(len(format(0, spec)))

        def ratio(a, b):
            return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None

        print(f"{k[0]:5s} {'causal' if k[1] else 'full':6s} {k[2]:4d} {k[3]:6d} | {fmt(ours)} {fmt(flash)} "
              f"{fmt(cudnn)} | {fmt(ratio(ours, flash), '10.2f')} {fmt(ratio(ours, cudnn), '10.2f')}")


def main():
    args = parse_args()
    if args.peers:
        with open(args.peers) as f:
            rows = json.load(f)["rows"]
    else:
        rows = run_peers(args)
    if args.json and not args.peers:
        with open(args.json, "w") as f:
            json.dump({"tool": "bench_torch.py", "pass": args.which, "rows": rows}, f, indent=1)
    if args.ours:
        try:
            with open(args.ours) as f:
                field = "tflops" if args.which == "fwd" else "bwd_tflops"
                ours = [r for r in json.load(f)["rows"] if isinstance(r.get(field), (int, float))]
        except (OSError, ValueError, KeyError) as e:
            print(f"bench_torch.py: --ours {args.ours}: {e}", file=sys.stderr)
            return 2
        print_table(ours, rows, args.which)
    return 0


if __name__ == "__main__":
    sys.exit(main())
