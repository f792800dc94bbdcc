# cdt-ingest on the real Fashion-MNIST (Debian's dataset-fashion-mnist):
# shapes, meta, epochs, and a reader that goes away early.
set -u
d=/usr/share/datasets/fashion-mnist
[ -e "$d/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST in $d (apt-get install dataset-fashion-mnist)"; exit 77; }
fail=0
check() { # PATTERN: a line of cat.txt must equal it
    grep -qxF -- "$1" cat.txt || { echo "FAIL: cdt-cat output lacks '$1'"; fail=1; }
}
"$BIN/cdt-ingest" fashion-mnist --split test --limit 100 --rows 64 -o fm.cdt || { echo "FAIL: ingest"; exit 1; }
"$BIN/cdt-cat" fm.cdt >cat.txt || { echo "FAIL: cdt-cat"; exit 1; }
check "meta dataset=fashion-mnist"
check "meta split=test"
check "meta classes=10"
check "meta class_names=T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
check "meta rows_total=100"
check "meta producer=cdt-ingest"
check "frame 0 rows 64: x u8 [64,1,28,28], y i32 [64], id i64 [64]"
check "frame 1 rows 36: x u8 [36,1,28,28], y i32 [36], id i64 [36]"

"$BIN/cdt-ingest" fashion-mnist --limit 10 --epochs 2 --shuffle --seed 3 --channels 3 --size 32 \
    | "$BIN/cdt-cat" >cat.txt || { echo "FAIL: ingest | cdt-cat"; exit 1; }
check "meta rows_total=20"
check "meta epochs=2"
check "frame 0 rows 10: x u8 [10,3,32,32], y i32 [10], id i64 [10], epoch i32 [10]"
check "frame 1 rows 10: x u8 [10,3,32,32], y i32 [10], id i64 [10], epoch i32 [10]"

# The first labels of the test split, as published: 9 2 1 1 6.
"$BIN/cdt-ingest" fashion-mnist --split test --limit 5 --raw -o five.cdt
"$BIN/cdt-cat" --to-npy y -o y.npy five.cdt || { echo "FAIL: cdt-cat --to-npy"; exit 1; }
ys=$(tail -c 20 y.npy | od -An -tu4 | tr -s ' \n' ' ')
[ "$ys" = " 9 2 1 1 6 " ] || { echo "FAIL: first test labels are '$ys', expected 9 2 1 1 6"; fail=1; }

# A reader that stops early ends the tool quietly: status 0 or 141.
{ "$BIN/cdt-ingest" fashion-mnist --raw 2>err.txt; echo $? >rc.txt; } | head -c 1000 >/dev/null
rc=$(cat rc.txt)
{ [ "$rc" -eq 0 ] || [ "$rc" -eq 141 ]; } || { echo "FAIL: closed pipe gave status $rc"; cat err.txt; fail=1; }
[ ! -s err.txt ] || { echo "FAIL: closed pipe printed:"; cat err.txt; fail=1; }

[ $fail -eq 0 ] || exit 1
echo "Fashion-MNIST ingests as expected"
