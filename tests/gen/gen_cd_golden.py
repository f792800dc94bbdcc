#!/usr/bin/python3
"""gen_cd_golden.py: golden numbers for the CD training step, from PyTorch.

Builds the authors' network (torchvision-style ResNet under `resnet`,
`instance_projector`, `feature_predictor`) at tiny sizes (a ResNet18 with
the cifar stem, a ResNet50 with the imagenet stem on grey images), runs
training steps on fixed random views, and writes what cdt must reproduce:
the initial state, h/z/f and the loss terms of step 1, every parameter
gradient of step 1 (before clipping), and the state after 3 steps of Adam
with weight decay, gradient clipping and the cosine schedule (for the
ResNet50 one step, and only the running statistics after it), and h and f
in eval mode after those steps for the first view's first batch, less its
last image.

The reference numbers come from the same network run in float64 (from the
same initial float32 weights); for each one the file also holds the
largest relative error PyTorch's own float32 runs make on it
("f32err.NAME"), the yardstick for how far a correct float32
implementation may stray. Those runs are the unpermuted batch and
F32_ORDERS - 1 random permutations of it (the same for both views and
every step): the loss and every gradient are exactly invariant under such a
permutation, but each permutation sums the batch in another order, as
another BLAS kernel or blocking would. One run's error is a single sample
of float32 rounding and can be several times below what another correct
summation order gives (seen: a ResNet50 BN weight gradient at 1.7e-4 in one
run, 1.1e-3 with OpenBLAS's SSE3 kernel). So there are also float32 runs
with PyTorch's oneDNN convolutions off (im2col + BLAS sgemm, as cdt does),
each in a child process with one of OpenBLAS's x86-64 kernels that this
CPU can run (OPENBLAS_CORETYPE=Prescott, Haswell, SkylakeX: SSE3, AVX2,
AVX-512, each with its own blocking and FMA use). The largest error over
all of them is the bound the test's tolerance rests on: what a correct
float32 implementation on some correct BLAS kernel does.

Run with Debian's python3-torch (1.13):
    /usr/bin/python3 tests/gen/gen_cd_golden.py tests/golden/cd

Output: records, little endian, until EOF:
    u32 name_len, name (utf-8), u32 rank, u32 dim[rank], f32 data[prod(dim)]
"""
import copy
import math
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

# The configurations tests/unit/test_nn_model.c builds.
CONFIGS = [
    dict(file="resnet18_cifar_w4.bin", depth=18, stem="cifar", width=4, in_ch=3,
         size=8, batch=6, hidden=16, features=8, steps=3, seed=1234, params_after=True),
    dict(file="resnet50_imagenet_w2.bin", depth=50, stem="imagenet", width=2, in_ch=1,
         size=40, batch=12, hidden=8, features=8, steps=1, seed=99, params_after=False),
]
BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3]}
T_INSTANCE, T_FEATURE = 0.5, 1.0
LR, BETAS, EPS, WD, MAX_NORM = 1e-2, (0.9, 0.999), 1e-8, 1e-4, 1.0
F32_ORDERS = 8
# OpenBLAS kernels for the im2col + sgemm runs, with the CPU flags they need
BLAS_CORES = [("Prescott", ()), ("Haswell", ("avx2", "fma")),
              ("SkylakeX", ("avx512f", "avx512bw", "avx512dq", "avx512vl"))]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu(out + sc)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(inp, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu(out + sc)


class ResNet(nn.Module):
    def __init__(self, depth, width, in_ch, stem):
        super().__init__()
        self.conv1 = (nn.Conv2d(in_ch, width, 7, 2, 3, bias=False) if stem == "imagenet"
                      else nn.Conv2d(in_ch, width, 3, 1, 1, bias=False))
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()
        block = Bottleneck if depth == 50 else BasicBlock
        inp = width
        for i, n in enumerate(BLOCKS[depth]):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(inp, width << i, stride))
                inp = (width << i) * block.expansion
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.rep_dim = inp
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class Network(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.resnet = ResNet(c["depth"], c["width"], c["in_ch"], c["stem"])
        rep, hidden = self.resnet.rep_dim, c["hidden"]
        self.instance_projector = nn.Sequential(
            nn.Linear(rep, rep, bias=False), nn.BatchNorm1d(rep), nn.ReLU(),
            nn.Linear(rep, hidden))
        self.feature_predictor = nn.Sequential(
            nn.Linear(hidden, rep, bias=False), nn.BatchNorm1d(rep), nn.ReLU(),
            nn.Linear(rep, c["features"], bias=False), nn.BatchNorm1d(c["features"]),
            nn.Sigmoid())

    def forward(self, x):
        h = self.resnet(x)
        z = self.instance_projector(h)
        return h, z, self.feature_predictor(z)


def ntxent(a, b, t):
    """Mean cross-entropy over the 2M rows of [a; b], positive = other view."""
    m = a.shape[0]
    u = F.normalize(torch.cat([a, b]), dim=1, eps=1e-12)
    s = u @ u.t() / t
    s = s.masked_fill(torch.eye(2 * m, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)])
    return F.cross_entropy(s, target)


def entropy(p):
    e = -(p * torch.log(p + 1e-12) + (1 - p) * torch.log(1 - p + 1e-12))
    return e.mean() / math.log(2)


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")

    def put(self, name, t):
        t = t.detach().to(torch.float32).contiguous()
        dims = list(t.shape)
        nb = name.encode()
        self.f.write(struct.pack("<I", len(nb)) + nb)
        self.f.write(struct.pack("<I%dI" % len(dims), len(dims), *dims))
        self.f.write(t.numpy().astype("<f4").tobytes())


def state(net):
    return {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def run(net, xs, dtype, steps, perm=None):
    """Three training steps of net in dtype; returns {name: tensor}. With
    perm, every batch is taken in that row order and the per-row outputs
    are put back in the original order."""
    inv = torch.argsort(perm) if perm is not None else None
    x_eval = xs[0][0][:-1]
    if perm is not None:
        xs = [(a[perm], b[perm]) for a, b in xs]
    out = {}
    net = net.to(dtype)
    for k, v in state(net).items():
        out["init." + k] = v.clone()
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    net.train()
    for step, (x1, x2) in enumerate(xs):
        opt.zero_grad()
        h1, z1, f1 = net(x1.to(dtype))
        h2, z2, f2 = net(x2.to(dtype))
        li = ntxent(z1, z2, T_INSTANCE)
        lf = ntxent(f1.t(), f2.t(), T_FEATURE)
        H = entropy(torch.cat([f1, f2]))
        loss = li + (lf - H)
        loss.backward()
        if step == 0:
            for name, t in (("h", (h1, h2)), ("z", (z1, z2)), ("f", (f1, f2))):
                out["out.%s0" % name] = t[0] if inv is None else t[0][inv]
                out["out.%s1" % name] = t[1] if inv is None else t[1][inv]
            out["loss"] = torch.stack([li, lf, H, loss])
            for k, p in net.named_parameters():
                out["grad." + k] = p.grad.clone()
        torch.nn.utils.clip_grad_norm_(net.parameters(), MAX_NORM)
        opt.step()
        sched.step()
    for k, v in state(net).items():
        out["step%d.%s" % (steps, k)] = v
    # inference with the running statistics, on all but the last image, as
    # an embedding tool would run a short final batch
    net.eval()
    with torch.no_grad():
        h, z, f = net(x_eval.to(dtype))
    out["eval.h"], out["eval.f"] = h, f
    return out


def check_names():
    """Our ResNet's state_dict names are torchvision's (less fc)."""
    import torchvision
    for depth in (18, 34, 50):
        ours = list(ResNet(depth, 64, 3, "imagenet").state_dict())
        tv = getattr(torchvision.models, "resnet%d" % depth)().state_dict()
        assert ours == [k for k in tv if not k.startswith("fc.")], depth


def setup(c):
    torch.manual_seed(c["seed"])
    net = Network(c)
    shape = (c["batch"], c["in_ch"], c["size"], c["size"])
    xs = [(torch.rand(shape), torch.rand(shape)) for _ in range(c["steps"])]
    gen = torch.Generator().manual_seed(c["seed"])
    perms = [None] + [torch.randperm(c["batch"], generator=gen) for _ in range(F32_ORDERS - 1)]
    return net, xs, perms


def gemm_runs(i, out):
    """Child: config i's float32 runs through im2col + BLAS, saved to out."""
    net, xs, perms = setup(CONFIGS[i])
    with torch.backends.mkldnn.flags(enabled=False):
        runs = [run(copy.deepcopy(net), xs, torch.float32, CONFIGS[i]["steps"], p) for p in perms[:2]]
    torch.save(runs, out)


def blas_core_runs(i):
    """Config i's gemm runs under every OpenBLAS kernel this CPU can run."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    runs = []
    for core, need in BLAS_CORES:
        if not set(need) <= flags:
            print("gen_cd_golden: this CPU cannot run OpenBLAS's %s kernel; left out" % core,
                  file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "runs.pt")
            env = dict(os.environ, OPENBLAS_CORETYPE=core)
            subprocess.run([sys.executable, __file__, "--gemm-runs", str(i), out], env=env, check=True)
            runs += torch.load(out)
    return runs


def generate(i, c, path):
    net, xs, perms = setup(c)
    ref = run(copy.deepcopy(net), xs, torch.float64, c["steps"])
    f32s = [run(copy.deepcopy(net), xs, torch.float32, c["steps"], p) for p in perms]
    f32s += blas_core_runs(i)
    w = Writer(path)
    for step, (x1, x2) in enumerate(xs):
        w.put("x%d.0" % step, x1)
        w.put("x%d.1" % step, x2)
    trainable = set(k for k, _ in net.named_parameters())
    for k, v in ref.items():
        if k.startswith("step") and k.split(".", 1)[1] in trainable and not c["params_after"]:
            continue  # only the running statistics: keeps the file small
        w.put(k, v)
        # PyTorch's own float32 error on this tensor, the largest over the
        # summation orders, so that the test can tell float rounding from a
        # mistake where the numbers cancel
        err = max((f[k].double() - v).norm() / v.norm().clamp_min(1e-30) for f in f32s)
        w.put("f32err." + k, err.reshape(1))


def main():
    if sys.argv[1] == "--gemm-runs":
        gemm_runs(int(sys.argv[2]), sys.argv[3])
        return
    check_names()
    for i, c in enumerate(CONFIGS):
        generate(i, c, sys.argv[1] + "/" + c["file"])


if __name__ == "__main__":
    main()
