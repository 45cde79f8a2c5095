#!/usr/bin/env python3
"""PyTorch's side of bench/matmul.ts: fp32 torch.mm of n x n matrices, in TFLOP/s.

Prints one JSON object per size: {"n", "tflops", "device"}. CUDA when present (TF32 off, so
that it is fp32 arithmetic like the WGSL side), else the CPU.

  python3 torch_matmul.py --sizes 1024,2048,4096 [--device cpu]
"""
import argparse, json, time
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--sizes", default="1024,2048,4096")
parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
args = parser.parse_args()
dev = torch.device(args.device)
torch.backends.cuda.matmul.allow_tf32 = False

def sync():
    if dev.type == "cuda": torch.cuda.synchronize()

for n in (int(s) for s in args.sizes.split(",")):
    a = torch.randn(n, n, device=dev); b = torch.randn(n, n, device=dev)
    torch.mm(a, b); sync()
    t = time.perf_counter(); torch.mm(a, b); sync()
    reps = max(3, min(500, round(0.3 / max(time.perf_counter() - t, 1e-6))))
    rates = []
    for _ in range(3):
        sync(); t = time.perf_counter()
        for _ in range(reps): torch.mm(a, b)
        sync(); rates.append(2 * n ** 3 * reps / (time.perf_counter() - t) / 1e12)
    print(json.dumps({"n": n, "tflops": round(sorted(rates)[1], 4), "device": str(dev)}), flush=True)
