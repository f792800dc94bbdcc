# The tools that use BLAS never run OpenBLAS below the CPU's ISA. This
# machine's OpenBLAS may know its CPU, so CDT_BLAS_DETECTED stands in for a
# weak detection (Prescott, as Debian 12's OpenBLAS gives on a 2023 Xeon);
# OPENBLAS_CORETYPE is not touched here: when the machine sets it, the
# tools must leave it, and that is what is checked then.
set -u
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
fail() { echo "FAIL: $*"; exit 1; }
"$BIN/cdt-train" --version -v >v.out 2>&1 || fail "--version -v exited $?"
grep -q '^OpenBLAS core [A-Za-z0-9_]* (' v.out || fail "no core line: $(cat v.out)"
"$BIN/cdt-train" --version >plain.out 2>&1
[ "$(wc -l <plain.out)" -eq 1 ] || fail "--version alone printed more than one line"

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
want=
case $flags in *avx512f*avx512dq*) case $flags in *avx512bw*avx512vl*) want=SkylakeX ;; esac ;; esac
[ -z "$want" ] && case $flags in *avx2*) case $flags in *fma*) want=Haswell ;; esac ;; esac

if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    CDT_BLAS_DETECTED=Prescott "$BIN/cdt-train" --version -v >env.out 2>&1
    grep -q "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE in the environment" env.out ||
        fail "the machine's OPENBLAS_CORETYPE was not left as it is: $(cat env.out)"
    echo "OPENBLAS_CORETYPE is set here: checked that it stands"
    exit 0
fi
[ -n "$want" ] || { echo "no AVX2 on this CPU: nothing to raise"; exit 77; }
CDT_BLAS_DETECTED=Prescott "$BIN/cdt-train" --version -v >re.out 2>&1
grep -q "^OpenBLAS core $want (OpenBLAS detected Prescott, below this CPU's" re.out ||
    fail "expected core $want after the re-exec: $(cat re.out)"

# the second run gets the same arguments and the same stdin
x="0 0  0 1  1 0  10 10  10 11  11 10"
echo "$x" | npy_f32 6 2 h.npy
npy_i32 "0 0 0 1 1 1" y.npy
"$BIN/cdt-cat" --from-npy h=h.npy y=y.npy -o in.cdts || fail "cdt-cat"
"$BIN/cdt-cluster" -k 2 --seed 3 -o plain.cdts <in.cdts || fail "cluster"
CDT_BLAS_DETECTED=Prescott "$BIN/cdt-cluster" -k 2 --seed 3 -o re.cdts <in.cdts || fail "cluster after re-exec"
"$BIN/cdt-cat" --to-npy c -o c1.npy plain.cdts && "$BIN/cdt-cat" --to-npy c -o c2.npy re.cdts || fail "cdt-cat"
cmp -s c1.npy c2.npy || fail "cdt-cluster gave other clusters after the re-exec"
echo ok
