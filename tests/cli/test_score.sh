# cdt-score: the scores of every case in tests/golden/eval/metrics.txt (made
# by scikit-learn, see tests/gen/gen_eval_golden.py) agree to 1e-9 in --json;
# the text report, --png, ignored rows and bad input.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
cat=$BIN/cdt-cat score=$BIN/cdt-score
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$cat" ] || fail "cdt-cat not built"

# One directory per golden case: c, y, and "nmi ari acc ignored".
awk '$1 == "case" { name = $2; system("mkdir -p " name) }
     $1 == "c" { $1 = ""; print > (name "/c") }
     $1 == "y" { $1 = ""; print > (name "/y") }
     $1 == "nmi" || $1 == "ari" || $1 == "acc" || $1 == "ignored" { print > (name "/" $1) }' \
    "$TOP/tests/golden/eval/metrics.txt"
n=0
for d in */; do
    d=${d%/}
    npy_i32 "$(cat "$d/c")" "$d/c.npy"
    npy_i32 "$(cat "$d/y")" "$d/y.npy"
    "$cat" --from-npy c="$d/c.npy" y="$d/y.npy" --rows 100 -o "$d/s.cdt"
    "$score" --json "$d/s.cdt" >"$d/out.json" || fail "$d: cdt-score failed"
    for key in nmi ari acc; do
        got=$(sed -n "s/^  \"$key\": \\(.*\\),\$/\\1/p" "$d/out.json")
        want=$(cut -d' ' -f2 "$d/$key")
        awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= 1e-9) }' ||
            fail "$d: $key = '$got', sklearn says $want"
    done
    grep -q "^  \"ignored\": $(cut -d' ' -f2 "$d/ignored"),\$" "$d/out.json" || fail "$d: ignored count"
    n=$((n + 1))
done
[ $n -ge 12 ] || fail "only $n golden cases"

# Text report of a table worked by hand: clusters {0,0,1,1,2} against classes
# {5,5,6,-1,6}: four rows scored, one ignored; matching 0->5, 1->6 or 2->6.
npy_i32 "0 0 1 1 2" c.npy
npy_i32 "5 5 6 -1 6" y.npy
"$cat" --from-npy c=c.npy y=y.npy -o s.cdt
"$score" s.cdt >out.txt
grep -q "^rows      4 scored, 1 ignored" out.txt || fail "rows line: $(cat out.txt)"
grep -q "^ACC       0.750000 (3 of 4 matched)" out.txt || fail "ACC line: $(cat out.txt)"
grep -q "^clusters  3$" out.txt && grep -q "^classes   2$" out.txt || fail "counts: $(cat out.txt)"
grep -q "^       0       2\\*       0 $" out.txt || fail "confusion row: $(cat out.txt)"

# --png writes a PNG with room for the numbers, axis names and colour scale
# around the cells (IHDR: width and height, big-endian, at bytes 16 and 20).
"$score" --png cm.png s.cdt >/dev/null
[ "$(head -c 8 cm.png | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ] || fail "--png did not write a PNG"
w=$(od -An -j 16 -N 4 -t u1 cm.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
h=$(od -An -j 20 -N 4 -t u1 cm.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
[ "$w" -ge 400 ] && [ "$h" -ge 300 ] || fail "--png is ${w}x$h, too small for the labels"

# Bad input: no y, a label below -1, nothing left after ignoring.
"$cat" --from-npy c=c.npy -o noy.cdt
"$score" noy.cdt 2>err && fail "a stream without y accepted"
grep -q "^cdt-score: no tensor 'y' in frame 0" err || fail "missing y message: $(cat err)"
npy_i32 "0 1 2 3 4" c2.npy
npy_i32 "1 -3 0 0 0" bad.npy
"$cat" --from-npy c=c2.npy y=bad.npy -o bad.cdt
set +e
"$score" bad.cdt 2>err; rc=$?
set -e
[ $rc -eq 65 ] && grep -q "below -1" err || fail "label -3: exit $rc, $(cat err)"
npy_i32 "-1 -1 -1 -1 -1" none.npy
"$cat" --from-npy c=c2.npy y=none.npy -o none.cdt
set +e
"$score" none.cdt 2>err; rc=$?
set -e
[ $rc -eq 65 ] && grep -q "no rows to score" err || fail "all ignored: exit $rc, $(cat err)"
"$score" --bogus 2>/dev/null && fail "unknown option accepted"
"$score" --help | grep -q "^usage: cdt-score" || fail "--help"
exit 0
