#!/usr/bin/python3
"""Golden outputs of torchvision 0.14's uint8 tensor transforms for cdt-augment.

Run with Debian's python (python3-torch 1.13, python3-torchvision 0.14):
    /usr/bin/python3 tests/gen/gen_augment_golden.py tests/golden/augment
Writes, into that folder:
  inputs.u8    the test images, concatenated: rgb32 (4,3,32,32),
               gray28 (4,1,28,28), rgb96 (1,3,96,96)
  expect.u8    every case's expected output, concatenated
  cases.txt    one case a line:
               OP IN_OFFSET C H W OUT_H OUT_W EXPECT_OFFSET ARGS...
  crop_stats.txt  RandomResizedCrop.get_params statistics per image size
               (the first line says which)
The images are synthetic (smooth gradients, edges, noise) so that every
rounding path is hit; they are made from a fixed seed.
"""
import math
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/augment"
rng = np.random.default_rng(20240601)
torch.manual_seed(20240601)


def image(c, h, w, kind):
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    planes = []
    for k in range(c):
        if kind == 0:    # smooth colour waves
            p = (np.sin(xx / (2.5 + k) + k) * np.cos(yy / (4.0 + k)) + 1) * 127.5
        elif kind == 1:  # noise, full range
            p = rng.integers(0, 256, (h, w))
        elif kind == 2:  # blocks with hard edges and saturated colours
            p = ((xx // 5 + yy // 7 + k) % 3) * 127.5
        else:            # dim noisy gradient
            p = 20 + xx * 2 + yy + rng.normal(0, 8, (h, w))
        planes.append(p)
    return np.clip(np.round(np.stack(planes)), 0, 255).astype(np.uint8)


rgb32 = np.stack([image(3, 32, 32, k) for k in range(4)])
gray28 = np.stack([image(1, 28, 28, k) for k in range(4)])
rgb96 = np.stack([image(3, 96, 96, 0)])
inputs = [rgb32, gray28, rgb96]
in_offsets = {}
pos = 0
for name, arr in zip(("rgb32", "gray28", "rgb96"), inputs):
    in_offsets[name] = (pos, arr)
    pos += arr.nbytes

cases, expect = [], []
exp_pos = 0


def add(op, name, row, out, args):
    global exp_pos
    off, arr = in_offsets[name]
    _, c, h, w = arr.shape
    off += row * c * h * w
    out = out.numpy().astype(np.uint8)
    assert out.shape[0] == c
    cases.append(" ".join([op, str(off), str(c), str(h), str(w), str(out.shape[1]),
                           str(out.shape[2]), str(exp_pos)] + [repr(a) for a in args]))
    expect.append(out.tobytes())
    exp_pos += out.nbytes


def img(name, row):
    return torch.from_numpy(in_offsets[name][1][row].copy())


# resize: torchvision's resized_crop(antialias=True): up, down, odd boxes
resize_cases = [
    ("gray28", 0, (0, 0, 28, 28), (224, 224)),   # upscale, 32->224 style
    ("rgb32", 1, (3, 5, 19, 27), (64, 48)),      # odd box, upscale
    ("rgb96", 0, (0, 0, 96, 96), (32, 32)),      # antialiased downscale
    ("rgb96", 0, (5, 7, 77, 61), (32, 32)),      # odd box, downscale
    ("rgb96", 0, (0, 3, 90, 10), (32, 32)),      # down in one axis, up in the other
    ("rgb32", 0, (4, 4, 13, 17), (7, 5)),
    ("rgb32", 3, (1, 2, 10, 30), (32, 32)),
    ("gray28", 1, (2, 3, 9, 11), (28, 28)),
]
for name, row, (t, l, bh, bw), (oh, ow) in resize_cases:
    out = F.resized_crop(img(name, row), t, l, bh, bw, [oh, ow], antialias=True)
    add("resize", name, row, out, [t, l, bh, bw])

# colour ops on every 32x32 RGB image, brightness and contrast on grey too
for row in range(4):
    x = img("rgb32", row)
    for f in (0.2, float(rng.uniform(0.6, 1.4)), float(rng.uniform(0.2, 1.8)), 1.8):
        add("brightness", "rgb32", row, F.adjust_brightness(x, f), [f])
        add("contrast", "rgb32", row, F.adjust_contrast(x, f), [f])
        add("saturation", "rgb32", row, F.adjust_saturation(x, f), [f])
    for f in (-0.5, -0.2, float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.1, 0.1)), 0.2, 0.5):
        add("hue", "rgb32", row, F.adjust_hue(x, f), [f])
    add("gray", "rgb32", row, F.rgb_to_grayscale(x, num_output_channels=3), [])
    add("flip", "rgb32", row, F.hflip(x), [])
    for s in (0.1, float(rng.uniform(0.1, 2.0)), 2.0):
        add("blur", "rgb32", row, F.gaussian_blur(x, [23, 23], [s, s]), [23, s])
for row in range(4):
    x = img("gray28", row)
    for f in (float(rng.uniform(0.2, 1.8)), float(rng.uniform(0.2, 1.8))):
        add("brightness", "gray28", row, F.adjust_brightness(x, f), [f])
        add("contrast", "gray28", row, F.adjust_contrast(x, f), [f])
    s = float(rng.uniform(0.1, 2.0))
    add("blur", "gray28", row, F.gaussian_blur(x, [23, 23], [s, s]), [23, s])


def chain(x, size, box, flip, jit, order, fac, gray, blur, sigma, color):
    """The reference Compose with its random draws fixed."""
    t, l, bh, bw = box
    x = F.resized_crop(x, t, l, bh, bw, [size, size], antialias=True)
    if flip:
        x = F.hflip(x)
    if jit:
        fns = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for k in order:
            if color or k < 2:
                x = fns[k](x, fac[k])
    if gray and color:
        x = F.rgb_to_grayscale(x, num_output_channels=3)
    if blur:
        x = F.gaussian_blur(x, [23, 23], [sigma, sigma])
    return x


def chain_case(name, row, size, s, color, blur_on):
    x = img(name, row)
    _, h, w = x.shape
    box = T.RandomResizedCrop.get_params(x, (0.08, 1.0), (3 / 4, 4 / 3))
    flip = int(rng.random() < 0.5)
    jit = int(rng.random() < 0.8)
    order = [int(v) for v in rng.permutation(4)]
    fac = [float(rng.uniform(max(0, 1 - 0.8 * s), 1 + 0.8 * s)) for _ in range(3)]
    fac.append(float(rng.uniform(-0.2 * s, 0.2 * s)))
    gray = int(rng.random() < 0.2)
    blur = int(blur_on and rng.random() < 0.5)
    sigma = float(rng.uniform(0.1, 2.0))
    out = chain(x, size, box, flip, jit, order, fac, gray, blur, sigma, color)
    add("chain", name, row, out, [size, *box, flip, jit, *order, *fac, gray, blur, sigma, color])


for k in range(12):
    chain_case("rgb32", k % 4, 32, 0.5, 1, k >= 8)
for k in range(8):
    chain_case("gray28", k % 4, 28, 1.0, 0, k >= 6)
for k in range(3):
    chain_case("rgb96", 0, 64, 1.0, 1, k == 2)

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "inputs.u8"), "wb") as f:
    for arr in inputs:
        f.write(arr.tobytes())
with open(os.path.join(OUT, "expect.u8"), "wb") as f:
    f.write(b"".join(expect))
with open(os.path.join(OUT, "cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")

# RandomResizedCrop.get_params statistics, for the distribution tests: the
# empirical CDF of the area fraction and of log(w/h) at fixed thresholds.
AREA_T = [k / 10 for k in range(1, 10)]
LOGR_T = [k / 20 for k in range(-5, 6)]
lines = []
for h, w in ((32, 32), (28, 28), (96, 96), (32, 12)):
    dummy = torch.zeros(1, h, w)
    n = 200000
    area, logr, full = np.empty(n), np.empty(n), 0
    for k in range(n):
        i, j, bh, bw = T.RandomResizedCrop.get_params(dummy, (0.08, 1.0), (3 / 4, 4 / 3))
        area[k] = bh * bw / (h * w)
        logr[k] = math.log(bw / bh)
        full += (bh == h and bw == w)
    vals = [h, w, n, full / n, area.mean(), logr.mean()]
    vals += [float((area <= t).mean()) for t in AREA_T]
    vals += [float((logr <= t).mean()) for t in LOGR_T]
    lines.append(" ".join(repr(v) for v in vals))
with open(os.path.join(OUT, "crop_stats.txt"), "w") as f:
    f.write("# H W DRAWS P_FULL MEAN_AREA MEAN_LOGR, P(area <= 0.1 .. 0.9), "
            "P(log(w/h) <= -0.25 .. 0.25 step 0.05)\n")
    f.write("\n".join(lines) + "\n")
print(f"{len(cases)} cases, {exp_pos} expected bytes, {pos} input bytes")
