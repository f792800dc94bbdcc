# Data-parallel cdt-train under mpirun (2 ranks on this machine, one thread
# each): the library checks (test_dp: 2 ranks x batch 4 against one process
# x batch 8, step-1 losses and gradients, parameters after 5 steps, the
# negative controls), then the tool: W = 1 under mpirun is the plain run
# byte for byte; W = 2 x 4 is the one-process run of batch 8 to 1e-4 and
# repeats byte for byte; --bn local is not; checkpoint + resume on 2 ranks
# is the uninterrupted run; ranks reading different streams, a resume with
# other ranks, a build without MPI are one-line errors; --shard (each rank
# augments only its rows) gives the same bytes; a rank killed
# mid-run ends the job within seconds with the last checkpoint whole; a
# SIGTERM to one rank ends every rank with a checkpoint that resumes to the
# uninterrupted run's bytes.
set -eu
fail() { echo "FAIL: $*"; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun not found (make deps installs openmpi-bin)"; exit 77; }
[ -e "$OUT/lib/libcdt_mpi.so" ] || { echo "no $OUT/lib/libcdt_mpi.so (built when mpicc is found)"; exit 77; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Open MPI's own allocations live until exit: not ours to report
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi() { mpirun --allow-run-as-root --oversubscribe "$@"; }
train=$BIN/cdt-train

mpi -np 2 "$OUT/tests/test_dp" >dp2.txt 2>&1 || { cat dp2.txt; fail "test_dp on 2 ranks"; }
grep -q "rank 1 of 2" dp2.txt || fail "test_dp did not run on 2 ranks: $(cat dp2.txt)"
mpi -np 1 "$OUT/tests/test_dp" >dp1.txt 2>&1 || { cat dp1.txt; fail "test_dp on 1 rank"; }
cat dp2.txt

. "$TOP/tests/cuda/cmp_f32.sh"
build_cmp_f32 "$OUT" "$TOP"

# stream N SEED OUT: N augmented 16x16 images in frames of 20 rows
stream() {
    if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
        "$BIN/cdt-ingest" fashion-mnist --limit "$1" --size 16 --rows 20 -q
    else
        . "$TOP/tests/cli/npy.sh"
        mknpy '|u1' "$1, 1, 16, 16" x.npy
        "$BIN/cdt-cat" --from-npy x=x.npy --rows 20
    fi | "$BIN/cdt-augment" -t 2 --seed "$2" -o "$3"
}
stream 160 0 full.cdt   # 20 steps of 8
stream 60 0 part.cdt    # its first 60 rows: 7 steps, 4 rows over
stream 160 5 other.cdt  # other views of the same images
tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 --seed 3"
sched="--cosine --total-steps 20 --clip 0.5 --lr 1e-3 --weight-decay 1e-4"

"$train" $tiny $sched -b 8 full.cdt -o one.cdt
mpi -np 1 "$train" $tiny $sched -b 8 full.cdt -o w1.cdt
cmp -s one.cdt w1.cdt || fail "one rank under mpirun differs from the plain run"

mpi -np 2 "$train" $tiny $sched -b 4 full.cdt -o two.cdt -v --check-ranks 2>two.err ||
    { cat two.err; fail "2 ranks"; }
grep -q "2 ranks through mpi" two.err || fail "-v: $(cat two.err)"
grep -q "20 steps of 8 images" two.err || fail "-v steps: $(cat two.err)"
# (20 steps at lr 1e-3 grow the 1e-7 rounding differences of step 1 to
# ~2e-5; test_dp holds 5 steps to 1e-5)
./cmp_f32 --whole two.cdt one.cdt 1e-4 || fail "2 ranks x 4 differ from one process x 8"
"$BIN/cdt-cat" two.cdt | grep -qx "meta train.ranks=2" || fail "no train.ranks in the model"
mpi -np 2 "$train" $tiny $sched -b 4 full.cdt -o again.cdt
cmp -s two.cdt again.cdt || fail "2 ranks twice: different bytes"
mpi -np 2 "$train" $tiny $sched -b 4 --bn local full.cdt -o local.cdt
./cmp_f32 --whole local.cdt one.cdt 1e-3 && fail "--bn local gives the one-process model"

# checkpoint at step 5 of a run cut at step 7, resumed on 2 ranks
mpi -np 2 "$train" $tiny $sched -b 4 --checkpoint ck.cdt --checkpoint-every 5 part.cdt -o part.model
"$BIN/cdt-cat" ck.cdt | grep -qx "meta step=5" || fail "checkpoint not at step 5"
mpi -np 2 "$train" --resume ck.cdt full.cdt -o resumed.cdt
cmp -s two.cdt resumed.cdt || fail "resumed on 2 ranks differs from the uninterrupted run"

# --shard: each rank augments only its own rows of every batch of 8, and
# trains on that: the bytes of the run on the whole stream; the schedule
# from the shard's rows_total; checkpoint + resume on the shards.
ingest() { # N OUT: the un-augmented images of stream()
    if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
        "$BIN/cdt-ingest" fashion-mnist --limit "$1" --size 16 --rows 20 -q -o "$2"
    else
        "$BIN/cdt-cat" --from-npy x=x.npy --rows 20 | "$BIN/cdt-cat" --head "$1" -o "$2"
    fi
}
ingest 160 in.cdt
ingest 60 in_part.cdt
shard() { # INPUT, then cdt-train's options
    in=$1; shift
    mpi -np 2 sh -c 'a=$1 t=$2 in=$3; shift 3; "$a" -t 1 --shard auto --shard-batch 4 "$in" | "$t" "$@"' \
        sh "$BIN/cdt-augment" "$train" "$in" "$@"
}
shard in.cdt $tiny $sched -b 4 -o shard.cdt
cmp -s two.cdt shard.cdt || fail "--shard: not the bytes of the whole stream"
mpi -np 2 "$train" $tiny --cosine --lr 1e-3 -b 4 full.cdt -o cos.cdt
shard in.cdt $tiny --cosine --lr 1e-3 -b 4 -o cos_shard.cdt
cmp -s cos.cdt cos_shard.cdt || fail "--shard: the schedule from rows_total differs"
shard in_part.cdt $tiny $sched -b 4 --checkpoint sck.cdt --checkpoint-every 5 -o spart.model
shard in.cdt --resume sck.cdt -o sresumed.cdt
cmp -s two.cdt sresumed.cdt || fail "--shard: resumed differs from the uninterrupted run"
"$BIN/cdt-augment" --shard 1/2 --shard-batch 4 in.cdt -o s1.cdt
"$BIN/cdt-cat" s1.cdt | grep -qx "meta rows_total=80" || fail "--shard: rows_total of the shard"
set +e
mpi -np 2 "$train" $tiny -b 4 s1.cdt -o x.cdt >err.txt 2>&1; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "rank 0 of 2: the stream holds rank 1 of 2's rows" err.txt || fail "wrong shard: $(cat err.txt)"
set +e
mpi -np 2 "$train" $tiny -b 8 s1.cdt -o x.cdt >err.txt 2>&1; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "sharded for --batch 4, not 8" err.txt || fail "shard batch: $(cat err.txt)"

# one-line errors
set +e
"$train" --resume ck.cdt full.cdt -o x.cdt 2>err.txt; rc=$?
set -e
[ $rc -eq 64 ] && grep -q "written by 2 ranks; resume it with as many" err.txt ||
    fail "resume on 1 rank: exit $rc: $(cat err.txt)"
set +e
mpi -np 2 sh -c 'f=full.cdt; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && f=other.cdt; exec "$0" $1 -b 4 "$f" -o x.cdt' \
    "$train" "$tiny" >err.txt 2>&1; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "the ranks read different rows for step 1" err.txt ||
    fail "different streams: exit $rc: $(cat err.txt)"
set +e
mpi -np 2 "$train" $tiny -b 4 full.cdt >err.txt 2>&1; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "with 2 ranks, give the model file with -o FILE" err.txt || fail "no -o: $(cat err.txt)"
mkdir -p alone/bin && cp "$train" alone/bin/
set +e
OMPI_COMM_WORLD_SIZE=2 LD_LIBRARY_PATH= alone/bin/cdt-train $tiny -b 4 full.cdt -o x.cdt 2>err.txt; rc=$?
set -e
[ $rc -eq 69 ] && grep -q "started as one of several ranks (mpirun), but libcdt_mpi.so not found.*built without MPI" err.txt ||
    fail "without libcdt_mpi.so: exit $rc: $(cat err.txt)"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "without libcdt_mpi.so: not one line: $(cat err.txt)"
"$train" --version -v | grep -q "^MPI: available: .*libcdt_mpi.so" || fail "--version -v: $("$train" --version -v)"
alone/bin/cdt-train --version -v | grep -q "^MPI: not available: .*built without MPI" ||
    fail "--version -v without libcdt_mpi.so: $(alone/bin/cdt-train --version -v)"

# A longer run (3200 rows: 400 steps of 8) to interrupt, long enough that
# the signal lands mid-run on a machine several times faster than this one.
stream 3200 0 long.cdt
long="$tiny --width 8 -b 4 --total-steps 400 --cosine"
mpi -np 2 "$train" $long long.cdt -o long_ref.cdt
# started RUN: each rank's pid in pid.RANK, rank 0's log in log.csv
start() {
    rm -f pid.0 pid.1 log.csv
    mpi -np 2 sh -c 'echo $$ >pid.$OMPI_COMM_WORLD_RANK; exec "$@"' sh "$train" $long long.cdt \
        --log log.csv "$@" >run.err 2>&1 &
    mp=$!
    for i in $(seq 200); do # until some steps are logged
        [ -s log.csv ] && [ "$(wc -l <log.csv)" -gt 12 ] && [ -s pid.1 ] && return 0
        sleep 0.1
    done
    fail "the run did not start: $(cat run.err)"
}
# waits for mpirun; its exit status in rc, the seconds it took in secs
finish() {
    t0=$(date +%s)
    set +e; wait $mp; rc=$?; set -e
    secs=$(($(date +%s) - t0))
}

# SIGTERM to rank 1 alone: every rank stops after the same step, rank 0
# writes the checkpoint, and resuming it gives the uninterrupted bytes.
start --checkpoint sig.cdt -o sig.model
kill -TERM "$(cat pid.1)"
finish
[ $rc -ne 0 ] || fail "SIGTERM to one rank: mpirun exit 0"
[ $secs -le 20 ] || fail "SIGTERM to one rank: $secs s to end"
grep -q "stopped by signal 15 after step [0-9]*, checkpoint written to sig.cdt" run.err ||
    fail "SIGTERM: $(cat run.err)"
step=$("$BIN/cdt-cat" sig.cdt | sed -n 's/^meta step=//p')
[ "$step" -gt 0 ] && [ "$step" -lt 400 ] || fail "checkpoint at step '$step'"
sig_step=$step
mpi -np 2 "$train" --resume sig.cdt long.cdt -o sig_resumed.cdt
cmp -s long_ref.cdt sig_resumed.cdt || fail "resumed after SIGTERM at step $step differs from the uninterrupted run"

# A rank killed: the job ends within seconds, the last checkpoint is whole.
start --checkpoint kill.cdt --checkpoint-every 3 -o kill.model
kill -KILL "$(cat pid.1)"
finish
[ $rc -ne 0 ] || fail "rank 1 killed: mpirun exit 0"
[ $secs -le 20 ] || fail "rank 1 killed: $secs s to end"
[ ! -e kill.model ] || fail "rank 1 killed: a model file was written"
"$BIN/cdt-cat" kill.cdt >kill.txt || fail "the last checkpoint does not read"
step=$(sed -n 's/^meta step=//p' kill.txt)
[ $((step % 3)) -eq 0 ] && [ "$step" -gt 0 ] || fail "checkpoint at step '$step'"
echo "SIGTERM to rank 1: checkpoint at step $sig_step, resumed to the same bytes; rank 1 killed: ended in $secs s, checkpoint at step $step"
