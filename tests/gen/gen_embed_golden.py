#!/usr/bin/python3
"""gen_embed_golden.py: a PyTorch model converted with pth_to_cdt.py and its
eval-mode outputs, for tests/unit/test_modelfile_pytorch.c and
tests/cli/test_embed.sh.

    /usr/bin/python3 tests/gen/gen_embed_golden.py tests/golden/embed

Builds gen_cd_golden.py's network (a ResNet18, cifar stem, width 2, 3x12x12
images, hidden 8, 8 heads), gives every BatchNorm random affine parameters
and running statistics (so eval mode is tested, not the identity), saves
its state_dict as a .pth and converts it; then runs it in eval mode on
u8 images scaled by ToTensor's x / 255. Writes model.cdt, x.npy (u8
[10,3,12,12]), h.npy and f.npy (f32, computed in float64).
"""
import os, subprocess, sys, tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from gen_cd_golden import Network  # noqa: E402

out = sys.argv[1]
torch.manual_seed(7)
c = dict(depth=18, stem="cifar", width=2, in_ch=3, size=12, hidden=8, features=8)
net = Network(c)
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(5)
with tempfile.TemporaryDirectory() as tmp:
    torch.save(net.state_dict(), tmp + "/model.pth")
    subprocess.check_call([sys.executable, here + "/pth_to_cdt.py", tmp + "/model.pth",
                           out + "/model.cdt", "12"])
x = np.random.default_rng(3).integers(0, 256, (10, 3, 12, 12), dtype=np.uint8)
net = net.double().eval()
with torch.no_grad():
    h, z, f = net(torch.from_numpy(x).float().div(255).double())
np.save(out + "/x.npy", x)
np.save(out + "/h.npy", h.float().numpy())
np.save(out + "/f.npy", f.float().numpy())
