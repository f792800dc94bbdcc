# cdt-embed: a model converted from a PyTorch state_dict
# (tests/golden/embed, from tests/gen/gen_embed_golden.py) gives PyTorch's
# eval-mode h and f within 1e-5, the bound tests/unit/test_modelfile.c's
# direct cdt_model_forward check uses, for two --batch and frame sizes (not
# bit-identical: OpenBLAS rounds a gemm of 3 rows and one of 10 differently);
# y and id pass through; --outputs; resizing; errors.
set -eu
. "$TOP/tests/cli/npy.sh"
embed=$BIN/cdt-embed
cat=$BIN/cdt-cat
g=$TOP/tests/golden/embed
fail() { echo "FAIL: $*"; exit 1; }
expect() {
    code=$1 pat=$2; shift 2
    set +e; "$@" 2>err.txt >/dev/null; rc=$?; set -e
    [ $rc -eq "$code" ] || fail "$* exited $rc, expected $code: $(cat err.txt)"
    grep -q -- "$pat" err.txt || fail "$*: '$(cat err.txt)' lacks '$pat'"
}

mknpy '<i4' '10,' y.npy
mknpy '<i8' '10,' id.npy
"$cat" --from-npy x=$g/x.npy y=y.npy id=id.npy --rows 4 -o in4.cdt
"$cat" --from-npy x=$g/x.npy y=y.npy id=id.npy --rows 10 -o in10.cdt
"$embed" -m $g/model.cdt -b 3 in4.cdt -o e1.cdt
"$embed" -m $g/model.cdt in10.cdt -o e2.cdt
"$cat" e1.cdt | grep -q 'frame 0 rows 4: h f32 \[4,16\], f f32 \[4,8\], y i32 \[4\], id i64 \[4\]' ||
    fail "output layout: $("$cat" e1.cdt | grep frame | head -1)"
for t in h f; do
    "$cat" --to-npy $t e1.cdt -o $t.1.npy
    "$cat" --to-npy $t e2.cdt -o $t.2.npy
done
for t in y id; do
    "$cat" --to-npy $t e1.cdt -o back.npy
    cmp -s $t.npy back.npy || fail "$t did not pass through"
done

py=/usr/bin/python3
if [ -x $py ] && $py -c 'import numpy' 2>/dev/null; then
    $py - "$g" <<'EOF' || fail "h or f differ from PyTorch's"
import sys
import numpy as np
for t in "hf":
    for run in "12":
        a, b = np.load(t + "." + run + ".npy"), np.load(sys.argv[1] + "/" + t + ".npy")
        err = np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b)
        print("%s (run %s): relative error %.2e against PyTorch" % (t, run, err))
        assert a.shape == b.shape and err < 1e-5
EOF
else
    echo "note: $py lacks numpy, PyTorch comparison skipped"
fi

# --outputs, and inputs of another size resized to the model's 12x12.
"$embed" -m $g/model.cdt --outputs f in4.cdt | "$cat" | grep -q 'rows 4: f f32 \[4,8\], y' || fail "--outputs f"
mknpy '|u1' '5, 3, 16, 16' x16.npy
"$cat" --from-npy x=x16.npy | "$embed" -m $g/model.cdt | "$cat" | grep -q 'rows 5: h f32 \[5,16\], f f32 \[5,8\]' ||
    fail "16x16 inputs were not embedded"

# Errors.
expect 66 'nope.cdt' "$embed" -m nope.cdt in4.cdt
expect 64 'no model' "$embed" in4.cdt
expect 64 'bad value for --outputs' "$embed" -m $g/model.cdt --outputs z in4.cdt
mknpy '|u1' '5, 1, 12, 12' grey.npy
"$cat" --from-npy x=grey.npy -o grey.cdt
expect 65 'expected x u8 \[N,3,H,W\]' "$embed" -m $g/model.cdt grey.cdt -o x.cdt
expect 65 'not a model file' "$embed" -m in4.cdt in4.cdt -o x.cdt
echo ok
