#!/usr/bin/python3
"""train_ref.py: the PyTorch reference's CD training step, timed.

    /usr/bin/python3 tests/bench/train_ref.py WIDTH CHANNELS SIZE BATCH THREADS WARMUP STEPS

ResNet18, cifar stem, hidden 128, 128 heads (tests/gen/gen_cd_golden.py's
network, which matches the authors' code), fp32, Adam lr 3e-4, one forward
per view as the reference; u8 views scaled by / 255 inside the timed step,
as cdt-train does. Prints one line:
    step_ms <median of STEPS steps after WARMUP> gflop <per step> images_per_s <median> cpu_ms <median>
(cpu_ms: CPU time of all threads per step; steadier than wall time on a
shared machine)
The FLOP count is 2 x multiply-adds of every conv and linear layer, three
times over (forward, input gradient, weight gradient; the first conv has
no input gradient), two views: the same count train_bench.sh applies to
cdt-train.
"""
import os, statistics, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gen"))
from gen_cd_golden import Network, entropy, ntxent  # noqa: E402

width, ch, size, batch, threads, warmup, steps = map(int, sys.argv[1:8])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = Network(dict(depth=18, stem="cifar", width=width, in_ch=ch, size=size, hidden=128, features=128))
opt = torch.optim.Adam(net.parameters(), lr=3e-4)

macs = []


def count(mod, inp, out):
    w = mod.weight
    macs.append((out.numel() // out.shape[1]) * w.numel() if w.dim() == 4 else inp[0].shape[0] * w.numel())


hooks = [m.register_forward_hook(count) for m in net.modules()
         if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
with torch.no_grad():
    net(torch.zeros(batch, ch, size, size))
for h in hooks:
    h.remove()
first = macs[0]
gflop = 2 * 2 * (3 * sum(macs) - first) / 1e9

g = torch.Generator().manual_seed(1)
x = torch.randint(0, 256, (batch, 2, ch, size, size), dtype=torch.uint8, generator=g)
times, cpu = [], []
for i in range(warmup + steps):
    t0, c0 = time.perf_counter(), time.process_time()
    v = x.float().div(255)
    h1, z1, f1 = net(v[:, 0])
    h2, z2, f2 = net(v[:, 1])
    loss = ntxent(z1, z2, 0.5) + ntxent(f1.t(), f2.t(), 1.0) - entropy(torch.cat([f1, f2]))
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
med = statistics.median(times[warmup:])
print("step_ms %.1f gflop %.3f images_per_s %.1f cpu_ms %.1f" % (
    med * 1e3, gflop, batch / med, statistics.median(cpu[warmup:]) * 1e3))
