#!/bin/sh
# make folder-demo: the Fashion-MNIST test images (10,000) exported as PNG
# files into one flat folder, named NNNNN_cK.png (the class K only as a
# hidden check: nothing reads it but the scoring at the end), clustered by
# pipelines/folder.mk as any folder of photos would be; then the NMI of
# clusters.csv joined back to the classes by file name, next to cdt-score's
# NMI on the same clusters (they must agree).
#   pipelines/folder-demo.sh BIN WORK [make variables for folder.mk ...]
set -eu
bin=$1 work=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
imgs=$work/images
mkdir -p "$work"
if [ ! -e "$imgs/.done" ]; then
    rm -rf "$imgs"
    mkdir -p "$imgs"
    "$bin/cdt-ingest" fashion-mnist --split test -q -o "$work/test.cdts"
    "$bin/cdt-cat" --to-npy x -o "$work/x.npy" "$work/test.cdts"
    "$bin/cdt-cat" --to-npy y -o "$work/y.npy" "$work/test.cdts"
    "$py" "$top/pipelines/npy_to_png.py" "$work/x.npy" "$work/y.npy" "$imgs"
    rm -f "$work/test.cdts" "$work/x.npy" "$work/y.npy"
    touch "$imgs/.done"
fi
make -f "$top/pipelines/folder.mk" BIN="$bin" DATA="$imgs" WORK="$work/run" "$@"
csv=$work/run/clusters.csv
# The join: the class from each path's name, the cluster from its row.
"$py" - "$csv" "$work/run" <<'PY'
import csv, math, re, sys
from collections import Counter
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
c = [int(r['c']) for r in rows]
y = [int(re.search(r'_c(\d+)\.png$', r['path']).group(1)) for r in rows]
assert len(set(r['path'] for r in rows)) == len(rows) == 10000, len(rows)
n = len(rows)
def H(v):
    return -sum(k / n * math.log(k / n) for k in Counter(v).values())
mi = sum(k / n * math.log(k * n / (Counter(c)[a] * Counter(y)[b]))
         for (a, b), k in Counter(zip(c, y)).items())
nmi = mi / max((H(c) + H(y)) / 2, 1e-300)
open(sys.argv[2] + '/joined.nmi', 'w').write('%.6f\n' % nmi)
import numpy as np
np.save(sys.argv[2] + '/c.npy', np.array(c, dtype=np.int32))
np.save(sys.argv[2] + '/y.npy', np.array(y, dtype=np.int32))
PY
"$bin/cdt-cat" --from-npy c="$work/run/c.npy" y="$work/run/y.npy" -o "$work/run/joined.cdts"
"$bin/cdt-score" --json "$work/run/joined.cdts" > "$work/run/score.json"
joined=$(cat "$work/run/joined.nmi")
scored=$(sed -n 's/^  "nmi": \([0-9.]*\),$/\1/p' "$work/run/score.json")
k=$(tail -n +2 "$csv" | cut -d, -f2 | sort -u | wc -l)
echo "folder-demo: $k clusters of 10,000 Fashion-MNIST test images found as files"
echo "folder-demo: NMI from clusters.csv joined to the file names: $joined"
echo "folder-demo: NMI from cdt-score on the same clusters:       $scored"
"$py" -c "import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1e-4)" "$joined" "$scored" ||
    { echo "folder-demo: the two NMIs disagree" >&2; exit 1; }
