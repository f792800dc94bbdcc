#!/usr/bin/python3
"""bench_torch_step.py: the PyTorch side of device-check.sh's timings, the
same work as bench_step (tests/cuda/bench_step.c) on the GPU:

    bench_torch_step.py train|embed DEPTH STEM SIZE BATCH fp32|tf32|bf16 [WARMUP STEPS]

train: u8 batch uploaded, / 255, two forwards (one per view), the CD loss,
backward, Adam (eager, as the authors' code; bf16 as torch.autocast with
channels_last, the reference figures' setting). embed: eval-mode forward
of one batch, h and f brought back to the host. Network: tests/gen's
gen_cd_golden.Network (the authors' architecture), width 64, hidden 128,
128 heads. Prints one line like bench_step's."""
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gen"))
from gen_cd_golden import Network  # noqa: E402

mode, depth, stem, size, batch, prec = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
    int(sys.argv[5]), sys.argv[6]
warmup = int(sys.argv[7]) if len(sys.argv) > 7 else 5
steps = int(sys.argv[8]) if len(sys.argv) > 8 else 20
dev = torch.device("cuda")
torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
torch.backends.cudnn.allow_tf32 = prec == "tf32"
torch.backends.cudnn.benchmark = True
net = Network(dict(depth=depth, stem=stem, width=64, in_ch=3, size=size, hidden=128, features=128)).to(dev)
if prec == "bf16":
    net = net.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(net.parameters(), lr=3e-4)
g = torch.Generator().manual_seed(1)
x = torch.randint(0, 256, (batch, 2, 3, size, size), dtype=torch.uint8, generator=g).pin_memory()


def ntxent(a, b, t):
    m = a.shape[0]
    u = F.normalize(torch.cat([a, b]), dim=1, eps=1e-12)
    s = u @ u.t() / t
    s = s.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=a.device), float("-inf"))
    target = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)]).to(a.device)
    return F.cross_entropy(s, target)


def entropy(p):
    e = -(p * torch.log(p + 1e-12) + (1 - p) * torch.log(1 - p + 1e-12))
    return e.mean() / 0.6931471805599453


def step():
    v = x.to(dev, non_blocking=True).float().div(255)
    if prec == "bf16":
        v = v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=prec == "bf16"):
        if mode == "train":
            h1, z1, f1 = net(v[:, 0])
            h2, z2, f2 = net(v[:, 1])
            loss = ntxent(z1.float(), z2.float(), 0.5) + ntxent(f1.float().t(), f2.float().t(), 1.0) \
                - entropy(torch.cat([f1, f2]).float())
        else:
            with torch.no_grad():
                h, z, f = net(v[:, 0])
    if mode == "train":
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # one wait per step, as cdt's trainer
    else:
        h.float().cpu(), f.float().cpu()


if mode == "embed":
    net.eval()
times = []
for i in range(warmup + steps):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    step()
    torch.cuda.synchronize()
    if i >= warmup:
        times.append((time.perf_counter() - t0) * 1e3)
med = statistics.median(times)
print("%s resnet%d %s %d b%d %s on PyTorch %s: %.2f ms/%s (%.0f img/s)" % (
    mode, depth, stem, size, batch, prec, torch.__version__, med, "step" if mode == "train" else "batch",
    batch / med * 1e3))
