#!/usr/bin/python3
"""The sklearn side of tests/bench/kmeans_bench.sh.

    kmeans_bench.py data OUT.npy N D K SEED [SPREAD]   write a bench data set
    kmeans_bench.py sklearn IN.npy K          time KMeans(n_init=10) on it

The data: K centres drawn from N(0, SPREAD^2 I) in D dimensions, each row a
centre (row i gets centre i % K) plus N(0, I) noise, float32. SPREAD 0.25
(the default): blobs that overlap, as embeddings of similar classes do, so
Lloyd needs many iterations (some restarts 50 and more). SPREAD 1: blobs
far apart, found in a few iterations (the easy case). sklearn prints, for fit() alone
(the data already in memory), with the threads OMP_NUM_THREADS allows:
"wall_seconds cpu_seconds inertia iterations", the inertia recomputed in
float64 from sklearn's labels and centres.
"""
import sys
import time

import numpy as np


def make(out, n, d, k, seed, spread):
    rng = np.random.default_rng(seed)
    cen = rng.normal(0, spread, (k, d))
    x = cen[np.arange(n) % k] + rng.normal(0, 1, (n, d))
    np.save(out, x.astype(np.float32))


def run_sklearn(path, k):
    from sklearn.cluster import KMeans
    x = np.load(path)
    t, c = time.perf_counter(), time.process_time()
    km = KMeans(n_clusters=k, n_init=10, random_state=0, algorithm="lloyd").fit(x)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    # sklearn sums its inertia in float32; recompute it in float64 from its
    # labels and centres, as cdt-cluster reports it, so the two compare.
    x64 = x.astype(np.float64)
    exact = float(((x64 - km.cluster_centers_.astype(np.float64)[km.labels_]) ** 2).sum())
    print("%.3f %.3f %.6f %d" % (dt, dc, exact, km.n_iter_))


def main(argv):
    if argv[1] == "data":
        make(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]),
             float(argv[7]) if len(argv) > 7 else 0.25)
    elif argv[1] == "sklearn":
        run_sklearn(argv[2], int(argv[3]))
    else:
        sys.exit("usage: kmeans_bench.py data|sklearn ...")


if __name__ == "__main__":
    main(sys.argv)
