# cdt-map against scikit-learn's TSNE on the same 1797 x 64 points (its
# bundled digits; tests/gen/gen_tsne_golden.py wrote them and sklearn's
# figures): the fraction of every point's 10 nearest neighbours kept in 2-D
# and the KL divergence, each within 5% of sklearn's (the mean over the
# seeds it was run with), with the same settings (no PCA first: sklearn's
# TSNE does none).
set -eu
cat=$BIN/cdt-cat map=$BIN/cdt-map
g=$TOP/tests/golden/tsne
fail() { echo "FAIL: $*"; exit 1; }
[ -e "$g/sklearn.txt" ] || fail "no $g/sklearn.txt (tests/gen/gen_tsne_golden.py)"
"$cat" --from-npy h="$g/digits.npy" y="$g/digits_y.npy" -o d.cdt
"$map" --pca 0 --quality 10 -o m.cdt d.cdt
"$cat" m.cdt >list
kl=$(sed -n 's/^meta map.kl=//p' list)
kept=$(sed -n 's/^meta map.knn_kept=//p' list)
[ -n "$kl" ] && [ -n "$kept" ] || fail "no map.kl or map.knn_kept: $(cat list)"
read skl skept <<EOF2
$(awk '!/^#/ { kl += $2; kept += $3; n++ } END { printf "%.6f %.6f", kl / n, kept / n }' "$g/sklearn.txt")
EOF2
echo "cdt-map: KL $kl, 10-NN kept $kept; sklearn: KL $skl, 10-NN kept $skept"
awk -v a="$kl" -v b="$skl" 'BEGIN { exit !(a <= b * 1.05) }' || fail "KL $kl is more than 5% above sklearn's $skl"
awk -v a="$kept" -v b="$skept" 'BEGIN { exit !(a >= b * 0.95) }' || fail "10-NN kept $kept is more than 5% below sklearn's $skept"
