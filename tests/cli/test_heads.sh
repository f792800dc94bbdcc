# cdt-heads: the sheet's size follows the heads, K and --lowest; images from
# --images or x in the stream; bad input refused.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
. "$TOP/tests/cli/report_data.sh"
heads=$BIN/cdt-heads
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$heads" ] || fail "cdt-heads not built"
report_run 90
dims() { od -An -j 16 -N 8 -t u1 "$1" | awk '{ printf "%dx%d", $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'; }

# 6 heads, 8 images each side of 32 px (+2 a cell): 130 + 8*34 + 24 + 8*34 + 10 wide,
# 30 + 6*38 + 6 high.
"$heads" --images img.cdt --lowest -o h.png emb.cdt
[ "$(dims h.png)" = 708x264 ] || fail "sheet is $(dims h.png), expected 708x264"
"$heads" --images img.cdt -k 4 --heads 2 --box 16 -o h2.png emb.cdt
[ "$(dims h2.png)" = 212x80 ] || fail "sheet is $(dims h2.png), expected 212x80"
"$heads" --images img.cdt --lowest -o h3.png emb.cdt
cmp h.png h3.png || fail "two runs differ"
png_ok h.png h2.png || fail "the sheets do not decode"
# x in the same stream instead of --images
"$BIN/cdt-cat" --from-npy x=r.x.npy f=r.f.npy -o xf.cdt
"$heads" -o h4.png xf.cdt
[ "$(dims h4.png)" = 412x264 ] || fail "sheet is $(dims h4.png), expected 412x264"

set +e
"$heads" emb.cdt 2>err; rc=$?
[ $rc = 64 ] || fail "no -o: exit $rc"
"$heads" -o x.png emb.cdt 2>err; rc=$?
[ $rc = 65 ] && grep -q "neither x nor path" err || fail "no images: exit $rc, $(cat err)"
"$heads" --images img.cdt -o x.png img.cdt 2>err; rc=$?
[ $rc = 65 ] && grep -q "no tensor 'f'" err || fail "no f: exit $rc, $(cat err)"
blobs 30 6 3 25 11 s
"$BIN/cdt-cat" --from-npy f=s.h.npy -o s.cdt
"$heads" --images img.cdt -o x.png s.cdt 2>err; rc=$?
[ $rc = 65 ] || fail "row counts that differ: exit $rc"
set -e
[ ! -e x.png ] || fail "a failed run left x.png"
echo ok
