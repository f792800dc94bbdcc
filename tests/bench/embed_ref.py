#!/usr/bin/python3
"""embed_ref.py: the PyTorch reference's eval forward (what cdt-embed does), timed.

    /usr/bin/python3 tests/bench/embed_ref.py WIDTH CHANNELS SIZE BATCH THREADS IMAGES

ResNet18, cifar stem, hidden 128, 128 heads (tests/gen/gen_cd_golden.py's
network), eval mode, torch.no_grad, u8 images scaled by / 255 inside the
timed loop as cdt-embed does. Prints one line:
    images_per_s <over IMAGES images after one warm-up batch> cpu_s <CPU time>
"""
import os, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gen"))
from gen_cd_golden import Network  # noqa: E402

width, ch, size, batch, threads, images = map(int, sys.argv[1:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = Network(dict(depth=18, stem="cifar", width=width, in_ch=ch, size=size, hidden=128, features=128))
net.eval()
x = torch.randint(0, 256, (batch, ch, size, size), dtype=torch.uint8)
with torch.no_grad():
    net(x.float() / 255)
    t0, c0 = time.perf_counter(), time.process_time()
    done = 0
    while done < images:
        net(x.float() / 255)
        done += batch
    t1, c1 = time.perf_counter(), time.process_time()
print(f"images_per_s {done / (t1 - t0):.1f} cpu_s {c1 - c0:.2f}")
