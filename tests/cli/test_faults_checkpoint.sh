# kill -9 while cdt-train writes a checkpoint every step: whenever it dies,
# the checkpoint file is the previous complete one (readable, a valid
# checkpoint), never torn, and resuming from it finishes the run with the
# same bytes as a run that was never interrupted.
set -eu
. "$TOP/tests/cli/npy.sh"
fail() { echo "FAIL: $*"; exit 1; }
mknpy '|u1' '960, 1, 8, 8' x.npy
mknpy '<i8' '960,' id.npy
"$BIN/cdt-cat" --from-npy x=x.npy id=id.npy --rows 64 | "$BIN/cdt-augment" -t 1 -o aug.cdt
tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 -b 8 --seed 3"
"$BIN/cdt-train" $tiny aug.cdt -o ref.cdt

kills=0
# Later delays only matter on a slow machine that had no checkpoint yet.
for delay in 0.15 0.3 0.45 0.6 0.75 2 5; do
    [ -e ck.cdt ] && [ "${delay%.*}" -ge 1 ] 2>/dev/null && break
    "$BIN/cdt-train" $tiny --checkpoint ck.cdt --checkpoint-every 1 aug.cdt -o run.cdt 2>/dev/null &
    pid=$!
    sleep $delay
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
    wait $pid 2>/dev/null || true
    [ -e ck.cdt ] || continue
    "$BIN/cdt-cat" -c ck.cdt >/dev/null || fail "checkpoint torn after kill -9 at ${delay}s"
    "$BIN/cdt-cat" ck.cdt | grep -q 'adam.m f32' || fail "not a checkpoint after kill -9 at ${delay}s"
done
[ -e ck.cdt ] || fail "no checkpoint was ever written"
# Whatever step the last kill left, the rest of the run repeats the reference.
"$BIN/cdt-train" --resume ck.cdt aug.cdt -o resumed.cdt 2>/dev/null
cmp -s ref.cdt resumed.cdt || fail "resume after kill -9 differs from the uninterrupted run"
leftover=$(ls -A | grep -c '^\.ck\.cdt\.' || true)
echo "ok: $kills kill -9s; $leftover temp file(s) left by them (kill -9 cannot clean up; never named ck.cdt)"
