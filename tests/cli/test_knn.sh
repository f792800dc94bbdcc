# cdt-knn: nn and nn_dist of every row against a brute-force reference in
# double (awk), cosine and l2; the same bytes for 1 and 2 threads; every
# other tensor passed through; --query; --dups groups with cdt-cat --csv
# printing them beside the paths; bad input (k >= N, N = 0, NaN, another D
# in --query): one line, exit 65.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
cat=$BIN/cdt-cat knn=$BIN/cdt-knn
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$knn" ] || fail "cdt-knn not built"

# npy_rows FILE COLS [TYPE]: the values of a .npy, COLS per line
npy_rows() {
    hl=$(od -An -j 8 -N 2 -t u2 "$1" | tr -d ' ')
    tail -c +$((hl + 11)) "$1" | od -An -v -t "${3:-f4}" |
        awk -v c="$2" '{ for (i = 1; i <= NF; i++) { printf "%s%s", $i, (++n % c ? " " : "\n") } }'
}

# 300 rows in 6 blobs of 5-D, 3 frames; the reference ranks every pair in
# double, ties by the lower row.
blobs 300 5 6 3 4 b
"$cat" --from-npy h=b.h.npy y=b.y.npy id=b.id.npy --rows 128 -o b.cdt
npy_rows b.h.npy 5 >rows.txt
for metric in cosine l2; do
    OMP_NUM_THREADS=1 "$knn" -k 4 --metric $metric -o k1.cdt b.cdt
    "$knn" -k 4 --metric $metric --threads 2 -o k2.cdt b.cdt
    cmp k1.cdt k2.cdt || fail "$metric: 1 and 2 threads differ"
    "$cat" --to-npy nn k1.cdt >nn.npy
    npy_rows nn.npy 4 d8 >got.txt
    awk -v m=$metric 'BEGIN { n = 0 } { for (j = 1; j <= NF; j++) x[n, j] = $j; n++; d = NF }
        END { for (i = 0; i < n; i++) { line = ""
            for (j = 0; j < n; j++) { s = 0; na = 0; nb = 0
                for (t = 1; t <= d; t++) { s += (x[i, t] - x[j, t]) ^ 2; na += x[i, t] ^ 2; nb += x[j, t] ^ 2 }
                if (m == "cosine") { s = 0
                    for (t = 1; t <= d; t++) s += (x[i, t] / sqrt(na) - x[j, t] / sqrt(nb)) ^ 2 }
                dist[j] = s }
            for (r = 0; r < 4; r++) { best = -1
                for (j = 0; j < n; j++) if (j != i && !(j in used) && (best < 0 || dist[j] < dist[best])) best = j
                used[best] = 1; line = line (r ? " " : "") best }
            delete used; print line } }' rows.txt >want.txt
    diff want.txt got.txt >/dev/null || fail "$metric: not the brute-force neighbours: $(diff want.txt got.txt | head -4)"
done
"$cat" k1.cdt >list
grep -q "^frame 0 rows 300: nn i64 \[300,4\], nn_dist f32 \[300,4\], h f32 \[300,5\], y i32 \[300\], id i64 \[300\]$" list ||
    fail "frames: $(grep frame list)"
grep -q "^meta knn.k=4$" list && grep -q "^meta knn.metric=l2$" list || fail "meta: $(grep knn list)"
"$cat" --to-npy id k1.cdt | cmp b.id.npy - || fail "id not passed through"

# --query: 20 rows of other noise against the 300, brute force again.
blobs 20 5 6 3 9 q
"$cat" --from-npy h=q.h.npy -o q.cdt
"$knn" -k 3 --metric l2 --query q.cdt -o kq.cdt b.cdt
"$cat" kq.cdt | grep -q "^frame 0 rows 20: nn i64 \[20,3\], nn_dist f32 \[20,3\], h f32 \[20,5\]$" ||
    fail "--query frames: $("$cat" kq.cdt)"
"$cat" --to-npy nn kq.cdt >qn.npy
npy_rows qn.npy 3 d8 >got.txt
npy_rows q.h.npy 5 >qrows.txt
awk 'BEGIN { n = 0; m = 0 } FILENAME == ARGV[1] { for (j = 1; j <= NF; j++) x[n, j] = $j; n++; next }
     { line = ""; for (j = 0; j < n; j++) { s = 0; for (t = 1; t <= NF; t++) s += ($t - x[j, t]) ^ 2; dist[j] = s }
       for (r = 0; r < 3; r++) { best = -1
           for (j = 0; j < n; j++) if (!(j in used) && (best < 0 || dist[j] < dist[best])) best = j
           used[best] = 1; line = line (r ? " " : "") best }
       delete used; print line }' rows.txt qrows.txt >want.txt
diff want.txt got.txt >/dev/null || fail "--query: $(diff want.txt got.txt | head -4)"

# --dups: rows 0, 2, 5 copies (one nudged), 3-4 a pair; with the paths in
# the CSV (path u8 [7,8], NUL-padded).
printf '1 0 0\n5 5 0\n1 0 0\n0 0 7\n0 0.0001 7\n1 0.00001 0\n-3 2 2\n' | npy_f32 7 3 d.npy
{ npy_header '|u1' "7, 8"; for i in 0 1 2 3 4 5 6; do printf 'f%d.png\0\0' $i; done; } >p.npy
"$cat" --from-npy h=d.npy path=p.npy -o d.cdt
"$knn" -k 2 --dups 0.001 -o dd.cdt d.cdt
"$cat" --csv --columns path,dup_group dd.cdt >dd.csv
[ "$(tr '\n' ' ' <dd.csv)" = "path,dup_group f0.png,0 f1.png,-1 f2.png,0 f3.png,1 f4.png,1 f5.png,0 f6.png,-1 " ] ||
    fail "groups: $(cat dd.csv)"
"$cat" --csv dd.cdt | head -n 1 | grep -q '^path,dup_group,dup_dist$' || fail "csv: $("$cat" --csv dd.cdt)"
"$cat" dd.cdt | grep -q "^meta knn.dup_groups=2$" || fail "dup meta: $("$cat" dd.cdt | grep knn)"

# Bad input: one line, exit 65.
bad() {
    set +e
    "$knn" "$@" >/dev/null 2>err
    rc=$?
    set -e
    [ $rc = 65 ] || fail "$* exited $rc, expected 65: $(cat err)"
    [ "$(wc -l <err)" = 1 ] && grep -q "^cdt-knn: " err || fail "$*: not one line: $(cat err)"
}
bad -k 7 d.cdt
grep -q "more than 7 rows" err || fail "k >= N: $(cat err)"
printf '' | npy_f32 0 3 e.npy
"$cat" --from-npy h=e.npy -o e.cdt
bad e.cdt
grep -q "no rows" err || fail "N = 0: $(cat err)"
printf '1 2 nan\n1 2 3\n3 3 3\n' | npy_f32 3 3 n.npy
"$cat" --from-npy h=n.npy -o n.cdt
bad -k 1 n.cdt
grep -q "not finite at row 0" err || fail "NaN: $(cat err)"
bad -k 1 --query d.cdt b.cdt
grep -q "D 3" err || fail "D mismatch: $(cat err)"
echo "cdt-knn ok"
