# pipelines/fashion-mnist.mk end to end on a tiny configuration (64 images
# of 8x8, width 4, one epoch): the results table (markdown and JSON) carries
# the numbers cdt-score wrote; a second make does nothing; a stage that fails
# (a bogus architecture, a missing dataset) fails make and leaves no target.
set -eu
data=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }
[ -e "$data/train-images-idx3-ubyte.gz" ] || { echo "Fashion-MNIST not installed in $data"; exit 77; }
command -v make >/dev/null || { echo "no make"; exit 77; }
# Not a sub-make of `make test`: no jobserver, no SAN=1 from the caller.
unset MAKEFLAGS MAKELEVEL MFLAGS
work=$TMPDIR/work
tiny="BIN=$BIN WORK=$work LIMIT=64 EVAL_LIMIT=64 EVAL_SPLIT=test WIDTH=4 SIZE=8 EPOCHS=1 BATCH=16 LR=1e-3 COSINE=1 THREADS=2 CKPT_EVERY=2"
pipe() { make -f "$TOP/pipelines/fashion-mnist.mk" $tiny "$@"; }

pipe >run1.txt 2>&1 || { cat run1.txt; fail "the tiny pipeline failed"; }
# Quiet by default: a line per step naming its output, no commands, and
# the tools' own progress (cdt-train's steps) still there; V=1 (and -n)
# shows the commands, kept here for the checks of the options passed.
grep -q '^  cdt-ingest | cdt-augment | cdt-train -> .*/model-.*\.cdt$' run1.txt || fail "no train step line: $(cat run1.txt)"
grep -q '^  cdt-score -> .*/score-h-.*\.json$' run1.txt || fail "no score step line: $(cat run1.txt)"
grep -q -- '--arch\|--restarts\|--json' run1.txt && fail "a quiet run printed its commands: $(cat run1.txt)"
grep -q '^step 1/4 ' run1.txt || fail "cdt-train's progress is hidden: $(cat run1.txt)"
pipe -n -B >cmds.txt 2>&1 || fail "make -n -B failed: $(cat cmds.txt)"
set -- "$work"/results-*.md; [ $# -eq 1 ] && [ -e "$1" ] || fail "not one results .md: $*"
md=$1 json=${1%.md}.json
[ -s "$json" ] || fail "no results JSON next to $md"
grep -q 'px8' "$md" || fail "the settings are not in the results' name or title"
# The table printed at the end is the .md, and it has the numbers of the scores.
tail -n "$(wc -l <"$md")" run1.txt | cmp -s - "$md" || fail "make did not end by printing the table"
num() { sed -n "s/^ *\"$1\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$2" | head -n 1; }
for o in h f; do
    s=$(ls "$work"/score-$o-*.json)
    [ "$(num rows "$s")" = 64 ] || fail "score $o did not score 64 rows"
    for m in nmi ari acc; do
        v=$(num $m "$s")
        [ -n "$v" ] || fail "no $m in $s"
        row=$(grep "^| $o (" "$md") || fail "no $o row in the table"
        printf '%s' "$row" | grep -q "| $(printf '%.4f' "$v") |" || fail "$o $m $v not in: $row"
        tr -d ' \n' <"$json" | grep -q "\"$o\":{[^}]*\"$m\":$v" || fail "$o $m $v not in $json"
    done
done
grep -q '"train_steps": 4,' "$json" || fail "64 images in batches of 16 are not 4 steps: $(cat "$json")"
for k in train_wall_s train_cpu_s train_images_per_s embed_wall_s embed_cpu_s; do
    grep -q "\"$k\": [0-9][0-9.]*[,}]" "$json" || fail "$k missing in $json"
done
# The cosine schedule reached the stream's end: the last lr is below the first.
awk -F, 'NR == 2 { a = $6 } END { exit !($6 < a) }' "$work"/train-*.csv || fail "no cosine decay in the log"
# TI and TF reach cdt-train and name the model; unset, they do neither.
pipe -n TI=0.3 TF=0.7 >temps.txt 2>&1 || fail "make -n with TI and TF failed: $(cat temps.txt)"
grep -q 'cdt-train .*--t-instance 0.3 --t-feature 0.7 .*-o [^ ]*model-[^ ]*-ti0.3-tf0.7-all64.cdt' temps.txt ||
    fail "TI and TF not passed or not in the model's name: $(cat temps.txt)"
grep -q -- '--t-instance\|--t-feature' cmds.txt && fail "temperatures passed though TI and TF are unset"
ls "$work" | grep -q -- '-ti\|-tf' && fail "unset temperatures in a name: $(ls "$work")"
# FEATURES (the feature heads) likewise.
pipe -n FEATURES=16 >heads.txt 2>&1 || fail "make -n with FEATURES failed: $(cat heads.txt)"
grep -q 'cdt-train .*--feature-num 16 .*-o [^ ]*model-[^ ]*-F16-all64.cdt' heads.txt ||
    fail "FEATURES not passed or not in the model's name: $(cat heads.txt)"
grep -q -- '--feature-num' cmds.txt && fail "--feature-num passed though FEATURES is unset"
# The demo's views: cropped from the 28x28 originals (no --size at the
# training ingest), at least half the image, jittered at strength 2,
# resized to SIZE by cdt-augment.
grep -q 'cdt-ingest fashion-mnist .*--split all .*--epochs 1 .*| [^|]*cdt-augment [^|]*--size 8 .*--jitter 2.0 .*--crop-scale 0.5 ' cmds.txt ||
    fail "the training pipe does not crop from the originals at jitter 2: $(grep cdt-augment cmds.txt)"
grep 'cdt-augment' cmds.txt | grep -q 'cdt-ingest [^|]*--size' && fail "the training ingest resized: $(grep cdt-augment run1.txt)"
ls "$work" | grep -q -- '-px8-fromnative-j2.0-cr0.5-' || fail "CROP_FROM, JITTER and CROP not in the names: $(ls "$work")"
pipe -n CROP_FROM=20 CROP=0.3 >crop.txt 2>&1 || fail "make -n with CROP_FROM and CROP failed: $(cat crop.txt)"
grep -q 'cdt-ingest fashion-mnist .*--size 20 .*| [^|]*cdt-augment [^|]*--size 8 .*--crop-scale 0.3 .*-o [^ ]*-px8-from20-j2.0-cr0.3-' crop.txt ||
    fail "CROP_FROM=20 CROP=0.3 not passed: $(grep cdt-augment crop.txt)"
pipe -n CROP_FROM= CROP= >crop0.txt 2>&1 || fail "make -n without CROP_FROM and CROP failed"
grep -q 'cdt-ingest fashion-mnist .*--size 8 .*--epochs' crop0.txt && ! grep -q 'crop-scale' crop0.txt ||
    fail "without CROP_FROM the training ingest should resize and no crop scale be passed: $(grep cdt-augment crop0.txt)"

# Resumable: nothing is redone, no file changes.
ls -l --full-time "$work" >before.txt
pipe >run2.txt 2>&1 || fail "second run failed"
ls -l --full-time "$work" >after.txt
cmp -s before.txt after.txt || fail "the second run changed files: $(diff before.txt after.txt)"
grep -q 'cdt-' run2.txt && fail "the second run ran tools: $(cat run2.txt)"
# A lost intermediate is rebuilt from what is left, not from scratch.
rm "$work"/score-f-*.json "$md"
pipe V=1 >run3.txt 2>&1 || fail "third run failed"
grep -q cdt-train run3.txt && fail "the model was retrained for a lost score"
grep -q 'cdt-score --json ' run3.txt || fail "the lost score was not remade (or V=1 did not show its command)"
[ -s "$md" ] || fail "the results were not remade"

# A failing stage fails make and leaves no target behind.
n=$(ls "$work" | wc -l)
pipe ARCH=bogus >bad.txt 2>&1 && fail "a bogus --arch did not fail make"
grep -q 'cdt-train: ' bad.txt || fail "no cdt-train error line: $(cat bad.txt)"
ls "$work" | grep -q bogus.*cdt && fail "a partial model is left: $(ls "$work")"
pipe DATA="$TMPDIR/none" LIMIT=32 >bad2.txt 2>&1 && fail "a missing dataset did not fail make"
ls "$work" | grep -q 'model-.*all32' && fail "a model is left from a failed ingest: $(ls "$work")"
ls "$work" | grep -q 'embed-.*all32' && fail "an embedding is left from a failed ingest"
# (cdt-train opens its log before it reads: one log per failed setting at most.)
[ "$(ls "$work" | wc -l)" -le $((n + 2)) ] || fail "failed runs left files: $(ls "$work")"
# An ingest that writes its whole stream and then fails: cdt-train makes a
# complete model from it, yet pipefail fails the target and make deletes it.
mkdir fbin
for t in "$BIN"/cdt-*; do ln -s "$t" fbin/; done
rm fbin/cdt-ingest
printf '#!/bin/sh\n"%s/cdt-ingest" "$@"; exit 3\n' "$BIN" >fbin/cdt-ingest
chmod +x fbin/cdt-ingest
pipe V=1 BIN="$PWD/fbin" LIMIT=48 >bad3.txt 2>&1 && fail "a failing first stage did not fail make"
grep -q 'fbin/cdt-train' bad3.txt || fail "the late-failing pipe did not run: $(cat bad3.txt)"
ls "$work" | grep -q 'model-.*all48.cdt$' && fail "the model of a failed pipe is left: $(ls "$work")"
# cdt-train may stop reading before the end (its last full batch): a stage
# before it that then ends by SIGPIPE (141) is no failure.
mkdir pbin
for t in "$BIN"/cdt-*; do ln -s "$t" pbin/; done
rm pbin/cdt-ingest
# (only in the training pipe: cdt-embed reads to the end, so there 141 is an error)
printf '#!/bin/sh\n"%s/cdt-ingest" "$@" || exit\ncase "$*" in *--epochs*) exit 141;; esac\n' "$BIN" >pbin/cdt-ingest
chmod +x pbin/cdt-ingest
pipe BIN="$PWD/pbin" LIMIT=40 WORK="$TMPDIR/work3" >pipe.txt 2>&1 || { cat pipe.txt; fail "an upstream 141 failed make"; }
ls "$TMPDIR"/work3/model-*all40.cdt >/dev/null || fail "no model after an upstream 141"
# Its checkpoint (CKPT_EVERY=2: step 2 of 3) is left, and the next make
# resumes from it and ends with the bytes of an uninterrupted run.
ls "$work" | grep -q 'model-.*all48.cdt.ckpt$' || fail "no checkpoint left: $(ls "$work")"
pipe LIMIT=48 >res.txt 2>&1 || { cat res.txt; fail "the resumed run failed"; }
grep -q 'resuming' res.txt || fail "the run did not resume: $(cat res.txt)"
pipe LIMIT=48 WORK="$TMPDIR/work2" >fresh.txt 2>&1 || fail "the uninterrupted run failed"
cmp -s "$work"/model-*all48.cdt "$TMPDIR"/work2/model-*all48.cdt || fail "the resumed model differs"
ls "$work" "$TMPDIR/work2" | grep -q ckpt && fail "a checkpoint is left after success"

# The raw-pixel k-means baseline, when numpy is there.
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    pipe BASELINE=1 >base.txt 2>&1 || { cat base.txt; fail "the baseline failed"; }
    b=$(ls "$work"/baseline-*.json)
    [ "$(num rows "$b")" = 64 ] || fail "the baseline did not score 64 rows"
    [ "$(ls "$work" | grep -c baseline)" = 1 ] || fail "the baseline left files: $(ls "$work")"
    grep -q "^| raw pixels, k-means (baseline) | $(printf '%.4f' "$(num nmi "$b")") |" "$md" ||
        fail "no baseline row in the table: $(cat "$md")"
    grep -q '"pixels": {"nmi": ' "$json" || fail "no baseline in $json"
fi
echo ok
