# cdt-ingest: exit codes and one-line messages for usage errors, missing
# datasets and broken files (made here with printf and gzip).
set -u
fail=0
# expect CODE PATTERN ARGS...: run cdt-ingest, check its status and that
# stderr holds PATTERN (a grep -F string) on one line.
expect() {
    code=$1 pat=$2
    shift 2
    "$BIN/cdt-ingest" "$@" >out.cdt 2>err.txt
    rc=$?
    if [ $rc -ne "$code" ]; then
        echo "FAIL: cdt-ingest $*: exit $rc, expected $code"; cat err.txt; fail=1
    elif [ -n "$pat" ] && ! grep -qF -- "$pat" err.txt; then
        echo "FAIL: cdt-ingest $*: stderr lacks '$pat'"; cat err.txt; fail=1
    fi
}

# A valid IDX set: 2 train and 1 test images of 2x2.
idx() { # DIR
    mkdir -p "$1"
    printf '\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002abcdefgh' | gzip >"$1/train-images-idx3-ubyte.gz"
    printf '\000\000\010\001\000\000\000\002\001\002' | gzip >"$1/train-labels-idx1-ubyte.gz"
    printf '\000\000\010\003\000\000\000\001\000\000\000\002\000\000\000\002ijkl' | gzip >"$1/t10k-images-idx3-ubyte.gz"
    printf '\000\000\010\001\000\000\000\001\011' | gzip >"$1/t10k-labels-idx1-ubyte.gz"
}

idx ok
expect 0 "" fashion-mnist ok --raw
[ "$(wc -c <out.cdt)" -gt 40 ] || { echo "FAIL: no output for a valid IDX set"; fail=1; }

expect 64 "usage" 
expect 64 "unknown dataset 'nope'" nope
expect 64 "--split" fashion-mnist ok --split bogus
expect 64 "--channels" fashion-mnist ok --channels 2
expect 64 "--rows" fashion-mnist ok --rows 0
expect 64 "--labels" cifar100 ok --labels medium
expect 64 "mnist needs a PATH" mnist
expect 64 "unlabeled" cifar10 ok --split unlabeled
expect 64 "fine labels" cifar10 ok --labels fine
expect 64 "no train/test split" folder ok --split train

expect 66 "apt-get install dataset-fashion-mnist" fashion-mnist "$TMPDIR/none"
expect 66 "data_batch_1.bin" cifar10 "$TMPDIR/none"
expect 66 "train.bin" cifar100 "$TMPDIR/none"
expect 66 "train_X.bin" stl10 "$TMPDIR/none"
expect 66 "one sub-folder per class" imagenet10 "$TMPDIR/none"
expect 66 "must be a folder of .jpg/.jpeg/.png files" folder "$TMPDIR/none"
idx part && rm part/t10k-labels-idx1-ubyte.gz
expect 66 "part/t10k-labels-idx1-ubyte" fashion-mnist part

# A gzip header followed by garbage, a gzip cut short, not gzip at all.
idx bad1 && printf '\037\213\010\000\000\000\000\000\000\003garbage, not deflate data' >bad1/train-images-idx3-ubyte.gz
expect 65 "corrupt gzip data" fashion-mnist bad1
expect 65 "bad1/train-images-idx3-ubyte.gz" fashion-mnist bad1
idx bad2 && head -c 20 ok/train-images-idx3-ubyte.gz >bad2/train-images-idx3-ubyte.gz
expect 65 "bad2/train-images-idx3-ubyte.gz" fashion-mnist bad2
idx bad3 && echo hello >bad3/t10k-images-idx3-ubyte.gz
expect 65 "not a gzip file (bad3/t10k-images-idx3-ubyte.gz)" fashion-mnist bad3
# Wrong sizes: one pixel missing; labels that disagree with the images.
idx bad4 && printf '\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002abcdefg' | gzip >bad4/train-images-idx3-ubyte.gz
expect 65 "wrong size" fashion-mnist bad4
expect 65 "bad4/train-images-idx3-ubyte.gz" fashion-mnist bad4
# ... also when --limit means the rows used are all there.
expect 65 "wrong size" fashion-mnist bad4 --limit 1
expect 65 "corrupt gzip data" fashion-mnist bad1 --limit 1 --shuffle
idx bad5 && printf '\000\000\010\001\000\000\000\003\001\002\003' | gzip >bad5/train-labels-idx1-ubyte.gz
expect 65 "3 labels for 2 images" fashion-mnist bad5
idx bad6 && printf '\000\000\010\001\000\000\000\002\001\014' | gzip >bad6/train-labels-idx1-ubyte.gz
expect 65 "label 12 out of range" fashion-mnist bad6
# The test split alone never reads the broken train files.
expect 0 "" fashion-mnist bad4 --split test

# CIFAR-10: a batch that is not a whole number of records.
mkdir -p c10
for b in 1 2 3 4 5; do head -c 3073 /dev/zero >c10/data_batch_$b.bin; done
head -c 3000 /dev/zero >c10/test_batch.bin
expect 65 "c10/test_batch.bin" cifar10 c10
expect 0 "" cifar10 c10 --split train
# An archive that is not gzip.
echo junk >cifar-10-binary.tar.gz
expect 65 "not a gzip file" cifar10 cifar-10-binary.tar.gz

# Folders: no images at all; bad options and lists.
mkdir -p empty
expect 65 "no .jpg/.jpeg/.png files in empty" folder empty
expect 64 "--fit" folder empty --fit squash
expect 64 "expected auto, folders or none" folder empty --labels fine
expect 64 "expected coarse or fine" cifar100 ok --labels none
expect 64 "--files goes with the folder" cifar10 ok --files list.txt
expect 66 "cannot open the file list" folder --files "$TMPDIR/nolist"

[ $fail -eq 0 ] || exit 1
echo "all error cases behave"
