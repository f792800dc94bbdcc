#!/usr/bin/python3
"""The reference side of tests/bench/knn_bench.sh.

    knn_bench.py data OUT.npy N D      N rows of a D-wide embedding, float32:
                                       Fashion-MNIST images (train then test,
                                       pixels / 255) through a fixed random
                                       784 x D projection and a ReLU (an
                                       untrained network's features: positive,
                                       correlated, clustered as the images
                                       are; past 70,000 rows the images
                                       again with pixel noise); without the
                                       dataset, 100 Gaussian blobs
    knn_bench.py sklearn IN.npy K OUT  NearestNeighbors(algorithm="brute",
                                       metric="cosine", n_jobs=2).fit(X)
                                       .kneighbors() (every row against the
                                       others), timed; writes OUT.nn.npy and
                                       OUT.dist.npy, prints "wall_s"
    knn_bench.py agree A B X.npy       compares the neighbours of A and B
                                       (prefixes of .nn.npy / .dist.npy):
                                       prints "rows same tied differ worst"

Ties aside: a row whose lists differ counts as tied when every neighbour
found by one and not the other lies within TIE (2e-5, the rounding of
sklearn's float32 cosine) of the K-th distance (cosine in double): both
are then right up to float32. worst: the largest gap, in double, between the K-th distances of the
two lists.
"""
import gzip
import os
import sys
import time

import numpy as np

FMNIST = "/usr/share/datasets/fashion-mnist"
TIE = 2e-5  # sklearn's cosine is float32: 1 - a.b of 512 terms, rounded


def embedding(n, d):
    rng = np.random.default_rng(0)
    names = ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    if all(os.path.exists("%s/%s" % (FMNIST, f)) for f in names):
        parts = []
        for name in names:
            with gzip.open("%s/%s" % (FMNIST, name)) as f:
                parts.append(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784))
        x = np.concatenate(parts).astype(np.float32) / 255
        if n > len(x):  # more rows than images: the images again, with noise
            x = np.concatenate([x] + [x + 0.05 * rng.standard_normal(x.shape, np.float32)
                                      for _ in range((n - 1) // len(x))])
        x = x[:n]
        w = rng.standard_normal((784, d)).astype(np.float32) / 28
        return np.maximum(x @ w, 0).astype(np.float32)
    c = rng.standard_normal((100, d)).astype(np.float32)
    return (c[rng.integers(0, 100, n)] + 0.7 * rng.standard_normal((n, d))).astype(np.float32)


def cosine(x, i, js):
    a = x[i].astype(np.float64)
    b = x[js].astype(np.float64)
    a /= np.linalg.norm(a)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return 0.5 * ((b - a) ** 2).sum(axis=1)


def agree(pa, pb, xfile):
    x = np.load(xfile)
    na, nb = np.load(pa + ".nn.npy"), np.load(pb + ".nn.npy")
    same = tied = differ = 0
    worst = 0.0
    for i in range(len(na)):
        sa, sb = set(na[i].tolist()), set(nb[i].tolist())
        if sa == sb:
            same += 1
            continue
        ka, kb = cosine(x, i, na[i]).max(), cosine(x, i, nb[i]).max()
        odd = np.array(sorted(sa ^ sb))
        dodd = cosine(x, i, odd)
        kth = min(ka, kb)
        worst = max(worst, abs(ka - kb))
        if np.all(np.abs(dodd - kth) <= TIE):
            tied += 1
        else:
            differ += 1
    print("%d %d %d %d %.3g" % (len(na), same, tied, differ, worst))


def main():
    if sys.argv[1] == "data":
        np.save(sys.argv[2], embedding(int(sys.argv[3]), int(sys.argv[4])))
    elif sys.argv[1] == "sklearn":
        from sklearn.neighbors import NearestNeighbors
        x = np.load(sys.argv[2])
        k = int(sys.argv[3])
        t = time.time()
        nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine", n_jobs=2).fit(x)
        dist, idx = nn.kneighbors()
        wall = time.time() - t
        np.save(sys.argv[4] + ".nn.npy", idx.astype(np.int64))
        np.save(sys.argv[4] + ".dist.npy", dist.astype(np.float32))
        print("%.3f" % wall)
    elif sys.argv[1] == "agree":
        agree(sys.argv[2], sys.argv[3], sys.argv[4])


if __name__ == "__main__":
    main()
