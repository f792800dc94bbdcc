#!/usr/bin/python3
"""Reference values for the evaluation tests, made by scikit-learn.

Run with Debian's python (numpy, scipy, scikit-learn):
    /usr/bin/python3 tests/gen/gen_eval_golden.py
It rewrites tests/golden/eval/metrics.txt and tests/golden/eval/kmeans.txt,
which are committed so that `make test` needs no Python.

metrics.txt: labelled cases, each
    case NAME / c ... / y ... / nmi X / ari X / acc X / ignored N / end
with NMI = normalized_mutual_info_score (arithmetic), ARI =
adjusted_rand_score, ACC = Hungarian matching by
scipy.optimize.linear_sum_assignment over the contingency table, divided by
the rows scored; rows with y == -1 are left out before scoring.

kmeans.txt: sklearn KMeans(n_clusters=K, n_init=10, random_state=0) inertia
on the data set of kmeans_data() below, and silhouette_score of its first 300
rows labelled i % K; tests/unit/test_kmeans.c builds the
same floats with the same formula (splitmix64, only +,*,- in double, then
rounded to float32, so both sides get identical bits).
"""
import os
import sys

import numpy as np
import sklearn
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import (adjusted_rand_score, normalized_mutual_info_score,
                             silhouette_score)

M64 = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def unif(x):
    return (splitmix64(x) >> 11) * (1.0 / 9007199254740992.0)


KM_N, KM_D, KM_K = 3000, 16, 8


def kmeans_data():
    """Eight overlapping blobs: centres uniform in [-1.5,1.5]^16, noise
    2*(u1+u2+u3-1.5) per coordinate (variance 1)."""
    cen = [[3.0 * unif(1000003 * c + j) - 1.5 for j in range(KM_D)]
           for c in range(KM_K)]
    x = np.empty((KM_N, KM_D), dtype=np.float32)
    base = 1 << 40
    for i in range(KM_N):
        c = i % KM_K
        for j in range(KM_D):
            s = base + 3 * (i * KM_D + j)
            noise = (unif(s) + unif(s + 1) + unif(s + 2) - 1.5) * 2.0
            x[i, j] = np.float32(cen[c][j] + noise)
    return x


def acc(c, y):
    cs, ci = np.unique(c, return_inverse=True)
    ys, yi = np.unique(y, return_inverse=True)
    t = np.zeros((len(cs), len(ys)), dtype=np.int64)
    np.add.at(t, (ci, yi), 1)
    r, k = linear_sum_assignment(-t)
    return t[r, k].sum() / len(c)


def cases():
    rng = np.random.default_rng(20240501)
    out = [
        ("perfect", [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]),
        ("permuted", [2, 2, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]),
        ("independent", [0, 0, 1, 1], [0, 1, 0, 1]),
        ("single_cluster", [3] * 9, [0, 1, 2, 0, 1, 2, 0, 0, 1]),
        ("single_both", [5] * 4, [1] * 4),
        ("all_distinct", list(range(10)), [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]),
        ("odd_values", [100, -5, 7, 7, 100, -5, -5], [9, 4, 4, 4, 9, 9, 4]),
        ("ignored", [0, 0, 1, 1, 2, 2, 0, 1], [0, 0, 1, -1, 1, 2, -1, -1]),
    ]
    for name, n, k, m in (("more_clusters", 200, 7, 3),
                          ("fewer_clusters", 300, 3, 8),
                          ("large", 5000, 12, 10)):
        y = rng.integers(0, m, n)
        c = np.where(rng.random(n) < 0.6, y % k, rng.integers(0, k, n))
        out.append((name, c.tolist(), y.tolist()))
    y = rng.integers(-1, 4, 400)
    c = np.where(rng.random(400) < 0.5, y + 1, rng.integers(0, 6, 400))
    out.append(("ignored_random", c.tolist(), y.tolist()))
    return out


def write_metrics(path):
    with open(path, "w") as f:
        f.write("# made by tests/gen/gen_eval_golden.py, scikit-learn %s\n"
                % sklearn.__version__)
        for name, c, y in cases():
            c, y = np.asarray(c), np.asarray(y)
            keep = y != -1
            ck, yk = c[keep], y[keep]
            f.write("case %s\n" % name)
            f.write("c %s\n" % " ".join(map(str, c)))
            f.write("y %s\n" % " ".join(map(str, y)))
            f.write("nmi %.17g\n" % normalized_mutual_info_score(yk, ck))
            f.write("ari %.17g\n" % adjusted_rand_score(yk, ck))
            f.write("acc %.17g\n" % acc(ck, yk))
            f.write("ignored %d\nend\n" % int((~keep).sum()))


def write_kmeans(path):
    x = kmeans_data()
    km = KMeans(n_clusters=KM_K, n_init=10, random_state=0).fit(x)
    with open(path, "w") as f:
        f.write("# made by tests/gen/gen_eval_golden.py, scikit-learn %s\n"
                % sklearn.__version__)
        f.write("n %d\nd %d\nk %d\n" % (KM_N, KM_D, KM_K))
        f.write("sum %.17g\n" % float(x.astype(np.float64).sum()))
        f.write("inertia %.17g\n" % float(km.inertia_))
        # Silhouette of the first 300 rows labelled by their blob (i % K).
        lab = np.arange(300) % KM_K
        f.write("silhouette300 %.17g\n" % float(silhouette_score(
            x[:300].astype(np.float64), lab, metric="euclidean")))


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out = os.path.join(top, "tests", "golden", "eval")
    os.makedirs(out, exist_ok=True)
    write_metrics(os.path.join(out, "metrics.txt"))
    write_kmeans(os.path.join(out, "kmeans.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
