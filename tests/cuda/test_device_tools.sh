#!/bin/sh
# test_device_tools.sh OUT LIB: the tools' --device cuda path on the CUDA
# library LIB: the emulated one that emu-check.sh builds (no GPU needed),
# or the real one on a GPU (device-check.sh). The whole of cdt-train and
# cdt-embed runs through the backend table, the dlopen'ed library,
# uploads, downloads and the device's own kernels. The emulation runs the
# kernels' code, with cuBLAS as OpenBLAS (tf32/bf16 as rounded inputs), so
# these are also the numbers a GPU must meet:
#   fp32: losses 1e-5 relative, parameters 1e-4 (relative L2 per tensor)
#         after 5 steps; embeddings 1e-5
#   tf32: losses 2e-2, parameters 1e-2;  bf16: losses 5e-2, parameters 5e-2
#         (relative L2 over all parameters together)
# and checkpoints cross devices: written on cuda, resumed on the cpu, and
# the reverse, end within the fp32 bounds of the all-cpu run; the imagenet
# stem (max pooling) too, in fp32.
set -eu
out=$1 lib=$2
case $out in /*) ;; *) out=$PWD/$out ;; esac
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$out/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
. "$top/tests/cuda/cmp_f32.sh"
build_cmp_f32 "$out" "$top"
export CDT_CUDA_LIB=$lib

# images NAME N C S SEED: NAME.npy, N seeded random C x S x S u8 images, and
# NAME_id.npy, ids 0..N-1 (fixed data, so the margins below hold on every run)
images() {
    python3 - "$@" <<'PY'
import random, struct, sys
name, n, c, s, seed = sys.argv[1], *map(int, sys.argv[2:])
def npy(path, descr, shape, data):
    head = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + data)
r = random.Random(seed)
npy(name + ".npy", "|u1", "(%d, %d, %d, %d)" % (n, c, s, s), bytes(r.randrange(256) for _ in range(n * c * s * s)))
npy(name + "_id.npy", "<i8", "(%d,)" % n, b"".join(struct.pack("<q", i) for i in range(n)))
PY
}

# 40 random 8x8 grey images, two augmented views: 5 steps of batch 8
images x 40 1 8 7
"$BIN/cdt-cat" --from-npy x=x.npy id=x_id.npy -o x.cdt
"$BIN/cdt-augment" --seed 3 x.cdt -o aug.cdt
tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 -b 8 --seed 1"

# losses_close A.csv B.csv TOL: instance, feature, entropy, total of every step
losses_close() {
    paste -d, "$1" "$2" | awk -F, -v tol="$3" -v what="$1" '
        NR == 1 { k = NF / 2 } # the columns of one log
        NR > 1 { for (c = 2; c <= 5; c++) { a = $c; b = $(c + k); d = a - b; if (d < 0) d = -d;
                 s = b < 0 ? -b : b; e = d / (s > 1e-12 ? s : 1e-12); if (e > w) w = e } }
        END { printf "%s: worst loss relative error %.3g (tolerance %g)\n", what, w, tol; exit !(w <= tol) }'
}

"$BIN/cdt-train" $tiny --device cpu --log cpu.csv aug.cdt -o cpu.cdt
for p in fp32 tf32 bf16; do
    "$BIN/cdt-train" $tiny --device cuda --precision $p --log $p.csv aug.cdt -o $p.cdt -v 2>$p.err ||
        fail "cdt-train --device cuda --precision $p: $(cat $p.err)"
    grep -q "device cuda $p (" $p.err || fail "-v does not name the device: $(cat $p.err)"
done
[ "$(wc -l <fp32.csv)" -eq 6 ] || fail "expected 5 logged steps, got $(($(wc -l <fp32.csv) - 1))"
losses_close fp32.csv cpu.csv 1e-5 || fail "fp32 losses"
./cmp_f32 fp32.cdt cpu.cdt 1e-4 || fail "fp32 parameters"
losses_close tf32.csv cpu.csv 2e-2 || fail "tf32 losses"
./cmp_f32 --whole tf32.cdt cpu.cdt 1e-2 || fail "tf32 parameters"
losses_close bf16.csv cpu.csv 5e-2 || fail "bf16 losses"
./cmp_f32 --whole bf16.cdt cpu.cdt 5e-2 || fail "bf16 parameters"
cmp -s fp32.cdt cpu.cdt && fail "the cuda run gave the cpu's bytes: did it run on the device?"

# checkpoints across devices: step 3 written on one, steps 4-5 on the other
for pair in "cuda cpu" "cpu cuda"; do
    set -- $pair
    "$BIN/cdt-train" $tiny --device $1 --checkpoint ck_$1.cdt --checkpoint-every 3 aug.cdt -o /dev/null
    "$BIN/cdt-train" --resume ck_$1.cdt --device $2 aug.cdt -o resumed_$2.cdt
    ./cmp_f32 resumed_$2.cdt cpu.cdt 1e-4 || fail "checkpoint from $1 resumed on $2"
done
# the same file whichever device wrote it: names, shapes, meta
"$BIN/cdt-cat" ck_cuda.cdt >info_cuda.txt && "$BIN/cdt-cat" ck_cpu.cdt >info_cpu.txt
cmp -s info_cuda.txt info_cpu.txt || fail "checkpoints from cuda and cpu differ in layout: $(diff info_cuda.txt info_cpu.txt)"
./cmp_f32 ck_cuda.cdt ck_cpu.cdt 1e-4 || fail "checkpoints at step 3"

# the imagenet stem (7x7/2 conv and max pooling) on 32x32 colour images
images x3 16 3 32 8
"$BIN/cdt-cat" --from-npy x=x3.npy id=x3_id.npy -o x3.cdt
"$BIN/cdt-augment" --seed 3 x3.cdt -o aug3.cdt
stem="--arch resnet18 --stem imagenet --width 4 --hidden-dim 16 --feature-num 8 -b 8 --seed 2"
"$BIN/cdt-train" $stem --device cpu --log stem_cpu.csv aug3.cdt -o stem_cpu.cdt
"$BIN/cdt-train" $stem --device cuda --log stem_cuda.csv aug3.cdt -o stem_cuda.cdt
losses_close stem_cuda.csv stem_cpu.csv 1e-5 || fail "imagenet stem losses"
# (the whole model: a BatchNorm bias of the heads, near 0, sits at 6e-5
# per tensor, too close to a per-tensor bound to hold on every machine)
./cmp_f32 --whole stem_cuda.cdt stem_cpu.cdt 1e-4 || fail "imagenet stem parameters"

# cdt-embed
"$BIN/cdt-embed" -m cpu.cdt --device cpu x.cdt -o e_cpu.cdt
"$BIN/cdt-embed" -m cpu.cdt --device cuda -b 16 x.cdt -o e_cuda.cdt
./cmp_f32 e_cuda.cdt e_cpu.cdt 1e-5 || fail "cdt-embed --device cuda"
echo "device path on the emulated library: all checks passed"
