# cdt-train --time-limit: the run is cut to the steps that fit, the cosine
# schedule ends there, the model file is whole; bad durations are refused.
set -eu
. "$TOP/tests/cli/npy.sh"
B=$BIN
fail() { echo "FAIL: $*"; exit 1; }
# 32000 random 8x8 grey images, two views each: 2000 steps of 16, more
# than 3 seconds hold (resnet18 width 4 made about 40 steps/s on a busy
# 2-core machine; even 10 times that leaves the cut to the time limit).
mknpy '|u1' "32000, 1, 8, 8" x.npy
"$B/cdt-cat" --from-npy x=x.npy -o x.cdt
"$B/cdt-augment" --seed 1 x.cdt -o aug.cdt
"$B/cdt-train" --arch resnet18 --width 4 --batch 16 --cosine --time-limit 3s --log log.csv -v -o m.cdt aug.cdt 2>err.txt ||
    fail "training failed: $(cat err.txt)"
grep -q "steps fit in --time-limit 3s (the cosine schedule ends there)" err.txt || fail "no sizing line: $(cat err.txt)"
"$B/cdt-cat" -c m.cdt >/dev/null || fail "the model file is not whole"
total=$("$B/cdt-cat" m.cdt | sed -n 's/^meta train.total_steps=//p')
[ -n "$total" ] && [ "$total" -lt 2000 ] || fail "train.total_steps $total is not cut below 2000"
"$B/cdt-cat" m.cdt | grep -q "^meta train.time_limit_s=3$" || fail "no train.time_limit_s"
steps=$(($(wc -l <log.csv) - 1))
[ "$steps" -le "$total" ] && [ "$steps" -ge 10 ] || fail "$steps steps logged, schedule $total"
# The learning rate follows the cosine schedule of the cut length (how far
# down it got depends on how the speed held up after the sizing, which on
# a shared machine is not for a test to assert): the last step's is
# 3e-4 (1 + cos(pi (step - 1) / total)) / 2.
awk -F, -v total="$total" 'END { pi = atan2(0, -1); want = 3e-4 * (1 + cos(pi * ($1 - 1) / total)) / 2;
    d = $6 - want; if (d < 0) d = -d; exit !(d <= 1e-6 * 3e-4 && total > 0) }' log.csv ||
    fail "the last learning rate is not the cosine of $total steps: $(tail -n 1 log.csv)"
# The model embeds.
mknpy '|u1' "64, 1, 8, 8" few.npy
"$B/cdt-cat" --from-npy x=few.npy -o few.cdt
"$B/cdt-embed" -m m.cdt few.cdt | "$B/cdt-cat" -c >/dev/null || fail "the model does not embed"
# A stream whose length is not known (rows_total 0, as a --skip-bad
# ingest): the schedule comes from the time limit alone.
"$B/cdt-cat" --from-npy x=x.npy --meta rows_total=0 -o x2.cdt
"$B/cdt-augment" --seed 1 x2.cdt -o aug2.cdt
"$B/cdt-cat" aug2.cdt | grep -q "^meta rows_total=0$" || fail "fixture: $("$B/cdt-cat" aug2.cdt | grep rows_total)"
"$B/cdt-train" --width 4 --batch 16 --cosine -o m3.cdt aug2.cdt 2>err.txt && fail "--cosine without a length passed"
"$B/cdt-train" --arch resnet18 --width 4 --batch 16 --cosine --time-limit 3s -v -o m3.cdt aug2.cdt 2>err.txt ||
    fail "unknown length: $(cat err.txt)"
grep -q "steps fit in --time-limit 3s" err.txt || fail "unknown length, no sizing: $(cat err.txt)"
for bad in 0 -1m 10x m ''; do
    "$B/cdt-train" --time-limit "$bad" -o m2.cdt aug.cdt 2>err.txt && fail "--time-limit '$bad' accepted"
    grep -q "bad value for --time-limit" err.txt || fail "message for '$bad': $(cat err.txt)"
done
echo "time limit ok ($steps steps)"
