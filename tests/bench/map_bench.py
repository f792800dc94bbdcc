#!/usr/bin/python3
"""The reference side of tests/bench/map_bench.sh.

    map_bench.py data OUT.npy N D    the first N Fashion-MNIST images (train
                                     then test), pixels / 255, projected on
                                     their first D principal axes, float32
    map_bench.py sklearn IN.npy      PCA to 50 then sklearn's TSNE (Barnes-Hut,
                                     perplexity 30, init pca, learning rate
                                     auto, 1000 iterations, n_jobs=2), timed;
                                     prints "wall_s kl knn10_kept"
    map_bench.py kept IN.npy XY.npy  the 10-NN kept by a map (for cdt's side)

The neighbours kept: of every row's 10 nearest neighbours in IN (exact), the
fraction among its 10 nearest in the map, averaged over rows.
"""
import gzip
import sys
import time

import numpy as np

FMNIST = "/usr/share/datasets/fashion-mnist"


def images(n):
    out = []
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        with gzip.open("%s/%s" % (FMNIST, name)) as f:
            b = f.read()
        out.append(np.frombuffer(b, np.uint8, offset=16).reshape(-1, 784))
    return np.concatenate(out)[:n]


def kept(x, y, k=10):
    from sklearn.neighbors import NearestNeighbors
    a = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(y).kneighbors(y, return_distance=False)[:, 1:]
    return float(np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(x))]))


def main():
    if sys.argv[1] == "data":
        from sklearn.decomposition import PCA
        n, d = int(sys.argv[3]), int(sys.argv[4])
        x = images(n).astype(np.float32) / 255
        np.save(sys.argv[2], PCA(d, random_state=0).fit_transform(x).astype(np.float32))
    elif sys.argv[1] == "sklearn":
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
        x = np.load(sys.argv[2])
        t = time.time()
        x50 = PCA(50, random_state=0).fit_transform(x) if x.shape[1] > 50 else x
        ts = TSNE(2, perplexity=30, init="pca", learning_rate="auto", n_iter=1000,
                  method="barnes_hut", angle=0.5, random_state=0, n_jobs=2)
        y = ts.fit_transform(x50)
        print("%.3f %.6f %.6f" % (time.time() - t, ts.kl_divergence_, kept(x, y)))
    elif sys.argv[1] == "kept":
        print("%.6f" % kept(np.load(sys.argv[2]), np.load(sys.argv[3])))


if __name__ == "__main__":
    main()
