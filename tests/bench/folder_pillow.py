"""The Pillow side of folder_bench.sh.
    folder_pillow.py make DIR N   write N synthetic 4000x3000 JPEGs
    folder_pillow.py run DIR S    decode + fit every DIR/*.jpg to SxS as a
                                  torchvision-style loader with Pillow does;
                                  prints "images/s-wall images/s-cpu" """
import os, shutil, sys, time
import numpy as np
from PIL import Image

def make(d, n):
    """8 distinct photo-like images (smooth shapes, edges, a little noise,
    so that JPEG has work), each saved as n/8 files: every file is decoded
    whole by both sides, and 8 encodes keep the setup short."""
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:3000, 0:4000].astype(np.float32)
    for i in range(min(n, 8)):
        a, b, c = rng.uniform(100, 900, 3)
        img = np.stack([128 + 100 * np.sin(xx / a + i) * np.cos(yy / b),
                        128 + 100 * np.cos((xx + yy) / c),
                        np.where(((xx // 300 + yy // 300 + i) % 2) == 0, 200.0, 40.0)], -1)
        img += rng.normal(0, 6, img.shape[:2] + (1,)).astype(np.float32)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            '%s/%03d.jpg' % (d, i), quality=90)
    for i in range(8, n):
        shutil.copyfile('%s/%03d.jpg' % (d, i % 8), '%s/%03d.jpg' % (d, i))

def run(d, s):
    files = sorted(f for f in os.listdir(d) if f.endswith('.jpg'))
    w0, c0 = time.perf_counter(), time.process_time()
    for f in files:
        im = Image.open(os.path.join(d, f))
        im.draft('RGB', (2 * s, 2 * s))
        im = im.convert('RGB')
        w, h = im.size
        k = s / min(w, h)
        im = im.resize((max(s, round(w * k)), max(s, round(h * k))), Image.BILINEAR,
                       reducing_gap=None)
        w, h = im.size
        l, t = (w - s) // 2, (h - s) // 2
        x = np.asarray(im.crop((l, t, l + s, t + s)), dtype=np.uint8)
        assert x.shape == (s, s, 3)
    w1, c1 = time.perf_counter(), time.process_time()
    print('%.1f %.1f' % (len(files) / (w1 - w0), len(files) / (c1 - c0)))

if sys.argv[1] == 'make':
    make(sys.argv[2], int(sys.argv[3]))
else:
    run(sys.argv[2], int(sys.argv[3]))
