# cdt-train on a tiny ResNet18 (cifar stem, width 4, 16x16 grey images,
# batch 8, 8 feature heads): bit-identical model files for any thread
# count (the two views one after the other or side by side); checkpoint +
# resume gives the bytes of an uninterrupted run; the
# loss falls over a short run. Uses the real Fashion-MNIST when present,
# else random images.
set -eu
. "$TOP/tests/cli/npy.sh"
train=$BIN/cdt-train
fail() { echo "FAIL: $*"; exit 1; }

# stream N SIZE ROWS OUT: N augmented images of SIZE x SIZE in frames of ROWS
stream() {
    if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
        "$BIN/cdt-ingest" fashion-mnist --limit "$1" --size "$2" --rows "$3" -q
    else
        mknpy '|u1' "$1, 1, $2, $2" x.npy
        "$BIN/cdt-cat" --from-npy x=x.npy --rows "$3"
    fi | "$BIN/cdt-augment" -t 2 -o "$4"
}
stream 96 16 20 full.cdt     # 12 steps of 8, frames of 20 rows
stream 60 16 20 part.cdt     # the same first 60 rows: 7 steps and 4 rows over

tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 -b 8 --seed 3"

# The same model whatever the thread count.
OMP_NUM_THREADS=1 "$train" $tiny full.cdt -o t1.cdt
OMP_NUM_THREADS=2 "$train" $tiny full.cdt -o t2.cdt
cmp -s t1.cdt t2.cdt || fail "1 and 2 threads give different model files"
"$train" $tiny --threads 2 full.cdt -o t3.cdt
cmp -s t1.cdt t3.cdt || fail "--threads 2 differs from 1 thread"
# three threads: the views side by side with 2 + 1 (nested teams), and
# one view after the other with 3 (no nesting)
OMP_NUM_THREADS=3 OMP_MAX_ACTIVE_LEVELS=2 "$train" $tiny full.cdt -o t4.cdt
cmp -s t1.cdt t4.cdt || fail "3 threads (nested) differ from 1 thread"
OMP_NUM_THREADS=3 OMP_MAX_ACTIVE_LEVELS=1 "$train" $tiny full.cdt -o t5.cdt
cmp -s t1.cdt t5.cdt || fail "3 threads (not nested) differ from 1 thread"
"$BIN/cdt-cat" t1.cdt >print.txt
for k in arch=resnet18 stem=cifar width=4 in_channels=1 image_size=16 hidden_dim=16 \
         feature_num=8 step=12 seed=3 train.batch=8; do
    grep -qx "meta $k" print.txt || fail "model meta $k missing"
done
grep -q 'resnet.conv1.weight f32 \[4,1,3,3\]' print.txt || fail "model tensors: $(grep frame print.txt | cut -c1-80)"

# Checkpoint at step 5 of a run that stops at step 7, then resume on the
# whole stream (hyperparameters come from the checkpoint): the final model
# has the bytes of the uninterrupted run, cosine schedule and clipping included.
sched="--cosine --total-steps 12 --clip 0.5 --lr 1e-3 --weight-decay 1e-4"
"$train" $tiny $sched full.cdt -o ref.cdt
"$train" $tiny $sched --checkpoint ck.cdt --checkpoint-every 5 part.cdt -o part_model.cdt
"$BIN/cdt-cat" ck.cdt | grep -q 'train.position i64 \[4\]' || fail "checkpoint has no position"
grep -qx 'meta step=5' <<EOF || fail "checkpoint is not at step 5"
$("$BIN/cdt-cat" ck.cdt)
EOF
"$train" --resume ck.cdt full.cdt -o resumed.cdt
cmp -s ref.cdt resumed.cdt || fail "resumed run differs from the uninterrupted one"
cmp -s ref.cdt t1.cdt && fail "the schedule options changed nothing"

# A short run lowers the loss: the mean total loss of the last 5 of 36
# steps is below that of the first 5.
"$train" $tiny --lr 2e-3 --log log.csv full.cdt -o l1.cdt
"$train" --init l1.cdt -b 8 --lr 2e-3 --log log2.csv full.cdt -o l2.cdt
"$train" --init l2.cdt -b 8 --lr 2e-3 --log log3.csv full.cdt -o l3.cdt
head -1 log.csv | grep -qx 'step,instance,feature,entropy,total,lr,images_per_s,cpu_s' || fail "log header"
{ tail -n +2 log.csv; tail -n +2 log2.csv; tail -n +2 log3.csv; } >all.csv
[ "$(wc -l <all.csv)" -eq 36 ] || fail "expected 36 logged steps, got $(wc -l <all.csv)"
awk -F, 'NR <= 5 { a += $5 } NR > 31 { b += $5 }
         END { printf "loss: first 5 steps %.4f, last 5 %.4f\n", a / 5, b / 5; exit !(b < a) }' all.csv ||
    fail "the loss did not fall"
echo ok
