# --device and --precision on cdt-train and cdt-embed where no GPU is
# usable (every machine `make check` runs on; the GPU itself is
# tests/cuda/device-check.sh's, the emulated one tests/cuda/test_device_tools.sh's):
# --device auto runs on the CPU and gives --device cpu's bytes; --device
# cuda without a library, with a library that is not cdt's, of another
# ABI or other layers: one line saying which, exit 69; tf32/bf16 on the CPU and unknown
# values: exit 64; --version -v says whether CUDA is available and why not.
set -eu
. "$TOP/tests/cli/npy.sh"
fail() { echo "FAIL: $*"; exit 1; }

# expect CODE PATTERN CMD...: exit status CODE and one stderr line matching
expect() {
    code=$1 pat=$2; shift 2
    set +e; "$@" 2>err.txt >/dev/null; rc=$?; set -e
    [ $rc -eq "$code" ] || fail "$* exited $rc, expected $code: $(cat err.txt)"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$* printed $(wc -l <err.txt) lines: $(cat err.txt)"
    grep -q -- "$pat" err.txt || fail "$*: '$(cat err.txt)' lacks '$pat'"
}

mknpy '|u1' '64, 1, 8, 8' x.npy
mknpy '<i8' '64,' id.npy
"$BIN/cdt-cat" --from-npy x=x.npy id=id.npy | "$BIN/cdt-augment" -o aug.cdt
tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 -b 8 --seed 1"
"$BIN/cdt-train" $tiny aug.cdt -o cpu.cdt
"$BIN/cdt-cat" --from-npy x=x.npy id=id.npy -o x.cdt

for tool in train embed; do
    if [ $tool = train ]; then run() { "$BIN/cdt-train" $tiny "$@" aug.cdt -o out.cdt; }
    else run() { "$BIN/cdt-embed" -m cpu.cdt "$@" x.cdt -o out.cdt; }; fi
    [ $tool = embed ] && "$BIN/cdt-embed" -m cpu.cdt x.cdt -o cpu_embed.cdt
    ref=cpu.cdt; [ $tool = embed ] && ref=cpu_embed.cdt

    # no library at the path given: auto falls back, says why with -v
    export CDT_CUDA_LIB=$TMPDIR/nowhere/libcdt_cuda.so
    expect 69 "cdt-$tool: --device cuda: CDT_CUDA_LIB=.*does not load" run --device cuda
    set +e; run --device auto -v 2>auto.txt; rc=$?; set -e
    [ $rc -eq 0 ] || fail "cdt-$tool --device auto without a GPU: exit $rc: $(cat auto.txt)"
    grep -q -- "--device auto: on the CPU (CDT_CUDA_LIB=" auto.txt || fail "auto -v: $(cat auto.txt)"
    cmp -s out.cdt $ref || fail "cdt-$tool --device auto on the CPU differs from --device cpu"
    run --device auto 2>auto.txt
    [ ! -s auto.txt ] || fail "cdt-$tool --device auto without -v printed: $(cat auto.txt)"
    "$BIN/cdt-$tool" --version -v >ver.txt
    grep -q "^CUDA: not available: CDT_CUDA_LIB=.*does not load" ver.txt || fail "--version -v: $(cat ver.txt)"

    # a library that is not cdt's
    zlib=$(ls /usr/lib/*/libz.so.1 /lib/*/libz.so.1 2>/dev/null | head -n 1)
    if [ -n "$zlib" ]; then
        export CDT_CUDA_LIB=$zlib
        expect 69 "has no cdt_cuda_backend: not a cdt CUDA library" run --device cuda
    fi
    unset CDT_CUDA_LIB

    expect 64 "precision bf16 needs a GPU" run --device cpu --precision bf16
    expect 64 "bad value for --device: 'gpu'" run --device gpu
    expect 64 "bad value for --precision: 'fp16'" run --precision fp16
done

# A library of another backend ABI answers with its own message; one
# whose table says another ABI, or another list of layers, is refused by
# the loader.
if command -v cc >/dev/null; then
    cat >abi.c <<'C'
#include <stdio.h>
#include <stddef.h>
struct table { int abi; };
static const struct table t = {999};
int cdt_cuda_backend(int abi, int device, int math, const struct table **table, void **ctx,
                     char *err, size_t errlen)
{
    (void)abi; (void)device; (void)math; (void)err; (void)errlen;
    *table = &t;
    *ctx = NULL;
    return 0;
}
C
    cc -shared -fPIC abi.c -o libabi.so
    CDT_CUDA_LIB=$PWD/libabi.so expect 69 "answered with a table of another ABI" \
        "$BIN/cdt-train" $tiny --device cuda aug.cdt -o out.cdt
    # this ABI, but built from another list of layers
    cat >layers.c <<'C'
#include "nn/backend.h"
static void destroy(void *ctx) { (void)ctx; }
static const cdt_backend_i t = {.abi = CDT_BACKEND_ABI, .name = "cuda", .destroy = destroy,
                                .layer_names = "conv2d batchnorm "};
int cdt_cuda_backend(int abi, int device, int math, const cdt_backend_i **table, void **ctx,
                     char *err, size_t errlen)
{
    (void)abi; (void)device; (void)math; (void)err; (void)errlen;
    *table = &t;
    *ctx = NULL;
    return 0;
}
C
    cc -shared -fPIC -I"$TOP/libcdt/include" -I"$TOP/libcdt" layers.c -o liblayers.so
    CDT_CUDA_LIB=$PWD/liblayers.so expect 69 "was built with other layers than this program" \
        "$BIN/cdt-train" $tiny --device cuda aug.cdt -o out.cdt
fi

# The library the build made (build/lib, beside bin/) on this GPU-less
# machine: exit 69 with the CUDA runtime's own words, or, on a machine
# with a GPU, a run.
if [ -e "$BIN/../lib/libcdt_cuda.so" ]; then
    set +e; "$BIN/cdt-train" $tiny --device cuda aug.cdt -o out.cdt 2>err.txt; rc=$?; set -e
    case $rc in
    0) echo "a GPU is usable here: the 69 path is not checked" ;;
    69) [ "$(wc -l <err.txt)" -eq 1 ] || fail "69 with more than one line: $(cat err.txt)"
        grep -q "cdt-train: --device cuda: " err.txt || fail "69 message: $(cat err.txt)" ;;
    *) fail "--device cuda with the built library: exit $rc: $(cat err.txt)" ;;
    esac
fi
echo ok
