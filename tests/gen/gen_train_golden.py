#!/usr/bin/python3
"""gen_train_golden.py: PyTorch's numbers for cdt's trainer (tests/unit/test_train.c).

    /usr/bin/python3 tests/gen/gen_train_golden.py tests/golden/train

gen_cd_golden.py's network (ResNet18, cifar stem, width 2, 1x8x8 images,
hidden 16, 8 heads), 4 training steps of batch 6 on u8 views scaled by
x / 255, as the reference trains: Adam (lr 1e-2, weight decay 1e-4),
clip_grad_norm_ 1.0 and CosineAnnealingLR over 4 steps, stepped after each
optimizer step. The float32 initial weights are written as a model file
(init.cdt, by pth_to_cdt.py), the views as x.npy (u8 [4,6,2,1,8,8]); the
run itself is in float64 from those weights: the loss terms of each step
(loss.npy, f64 [4,4]: instance, feature, entropy, total) and the
parameters and running statistics after it (after.cdt, float32).
"""
import os, subprocess, sys, tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from gen_cd_golden import Network, entropy, ntxent  # noqa: E402

STEPS, BATCH = 4, 6


def to_cdt(sd, path):
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(sd, tmp + "/m.pth")
        subprocess.check_call([sys.executable, here + "/pth_to_cdt.py", tmp + "/m.pth", path, "8"])


out = sys.argv[1]
torch.manual_seed(2024)
net = Network(dict(depth=18, stem="cifar", width=2, in_ch=1, size=8, hidden=16, features=8))
to_cdt(net.state_dict(), out + "/init.cdt")
x = np.random.default_rng(5).integers(0, 256, (STEPS, BATCH, 2, 1, 8, 8), dtype=np.uint8)
net = net.double().train()
opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)
losses = []
for step in range(STEPS):
    v = torch.from_numpy(x[step]).float().div(255).double()
    opt.zero_grad()
    h1, z1, f1 = net(v[:, 0])
    h2, z2, f2 = net(v[:, 1])
    li, lf, H = ntxent(z1, z2, 0.5), ntxent(f1.t(), f2.t(), 1.0), entropy(torch.cat([f1, f2]))
    loss = li + (lf - H)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    sched.step()
    losses.append([li.item(), lf.item(), H.item(), loss.item()])
to_cdt({k: v.float() if v.is_floating_point() else v for k, v in net.state_dict().items()},
       out + "/after.cdt")
np.save(out + "/x.npy", x)
np.save(out + "/loss.npy", np.array(losses))
