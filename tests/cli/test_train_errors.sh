# cdt-train's failure paths: SIGTERM mid-run writes a checkpoint and exits
# 143, and resuming from it gives the uninterrupted run's bytes; a loss
# that is not finite (--lr 1e30) stops with exit 65, one line, no model
# file, the last good checkpoint kept; bad options and bad input.
set -eu
. "$TOP/tests/cli/npy.sh"
train=$BIN/cdt-train
fail() { echo "FAIL: $*"; exit 1; }

# expect CODE PATTERN CMD...: exit status CODE and one stderr line matching
expect() {
    code=$1 pat=$2; shift 2
    set +e; "$@" 2>err.txt >/dev/null; rc=$?; set -e
    [ $rc -eq "$code" ] || fail "$* exited $rc, expected $code: $(cat err.txt)"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$* printed $(wc -l <err.txt) lines: $(cat err.txt)"
    grep -q -- "$pat" err.txt || fail "$*: '$(cat err.txt)' lacks '$pat'"
}

# 3840 random 8x8 images: 480 steps of batch 8, a few ms each.
mknpy '|u1' '3840, 1, 8, 8' x.npy
mknpy '<i8' '3840,' id.npy
"$BIN/cdt-cat" --from-npy x=x.npy id=id.npy --rows 100 | "$BIN/cdt-augment" -t 2 -o aug.cdt
tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 -b 8 --seed 1"
"$train" $tiny aug.cdt -o ref.cdt

# SIGTERM once a few steps are logged.
"$train" $tiny --log log.csv --checkpoint ck.cdt aug.cdt -o killed.cdt 2>term.txt &
pid=$!
n=0
while [ "$(cat log.csv 2>/dev/null | wc -l)" -lt 6 ] && [ $n -lt 400 ]; do
    sleep 0.02; n=$((n + 1))
done
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 143 ] || fail "SIGTERM: exit $rc, expected 143 ($(cat term.txt))"
grep -q 'stopped by signal 15 after step .*checkpoint written to ck.cdt' term.txt || fail "SIGTERM message: $(cat term.txt)"
[ -e killed.cdt ] && fail "a model file was written despite SIGTERM"
"$BIN/cdt-cat" ck.cdt | grep -q 'adam.m f32' || fail "no checkpoint after SIGTERM"
"$train" --resume ck.cdt aug.cdt -o resumed.cdt
cmp -s ref.cdt resumed.cdt || fail "resume after SIGTERM differs from the uninterrupted run"

# Divergence: exit 65, the checkpoint of the last good step stays.
expect 65 'loss is not finite at step .*the last good checkpoint is nan_ck.cdt' \
    "$train" $tiny --lr 1e30 --checkpoint nan_ck.cdt --checkpoint-every 1 aug.cdt -o nan.cdt
[ -e nan.cdt ] && fail "a model file was written after divergence"
bad=$(sed -n 's/.*not finite at step \([0-9]*\).*/\1/p' err.txt)
"$BIN/cdt-cat" nan_ck.cdt | grep -qx "meta step=$((bad - 1))" || fail "checkpoint is not at step $((bad - 1))"

# Options and input.
expect 64 'bad value for --arch' "$train" --arch vgg aug.cdt -o x.cdt
expect 64 'disagree with ref.cdt' "$train" --init ref.cdt --width 8 aug.cdt -o x.cdt
expect 65 'is a model file, not a checkpoint' "$train" --resume ref.cdt aug.cdt -o x.cdt
expect 66 'nope.cdt' "$train" --resume nope.cdt aug.cdt -o x.cdt
"$BIN/cdt-cat" aug.cdt | grep -q 'meta rows_total' ||
    expect 64 'needs --total-steps' "$train" $tiny --cosine aug.cdt -o x.cdt
"$BIN/cdt-cat" --from-npy x=x.npy --rows 100 -o noviews.cdt
expect 65 'expected x u8 \[N,2,C,S,S\]' "$train" $tiny noviews.cdt -o x.cdt
echo ok
