#!/usr/bin/python3
"""gen_tsne_golden.py: the reference figures cdt-map is held to
(tests/cli/test_map_sklearn.sh), from scikit-learn's TSNE on its bundled
digits (1797 images of 8x8 pixels, 0..16; no download).

Writes tests/golden/tsne/digits.npy (u8 [1797,64]), digits_y.npy (i32) and
sklearn.txt: the KL divergence sklearn reports and the fraction of every
row's 10 nearest neighbours (in the 64-D input) kept among its 10 nearest
in the map, for several seeds (sklearn's map depends on its seed through
nothing but ties, with init="pca", but its Barnes-Hut sums run in threads).

Run: /usr/bin/python3 tests/gen/gen_tsne_golden.py  (Debian's python3-sklearn 1.2)
"""
import os
import sys
import time

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "tsne")


def kept(x, y, k=10):
    a = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(y).kneighbors(y, return_distance=False)[:, 1:]
    return np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(x))])


def main():
    d = load_digits()
    x = d.data.astype(np.uint8)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "digits.npy"), x)
    np.save(os.path.join(out, "digits_y.npy"), d.target.astype(np.int32))
    xf = x.astype(np.float32)
    lines = ["# sklearn %s TSNE(perplexity=30, init='pca', learning_rate='auto', n_iter=1000,"
             " method='barnes_hut', angle=0.5) on digits (1797 x 64)" % sklearn.__version__,
             "# seed kl knn10_kept seconds"]
    for seed in range(3):
        t = time.time()
        ts = TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto", n_iter=1000,
                  method="barnes_hut", angle=0.5, random_state=seed, n_jobs=2)
        y = ts.fit_transform(xf)
        lines.append("%d %.6f %.6f %.1f" % (seed, ts.kl_divergence_, kept(xf, y), time.time() - t))
        print(lines[-1], file=sys.stderr)
    with open(os.path.join(out, "sklearn.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
