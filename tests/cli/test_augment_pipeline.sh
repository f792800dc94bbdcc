# cdt-ingest | cdt-augment on the real Fashion-MNIST: the stream's seed is
# the default, the epoch tensor gives each epoch new views of the same
# images, and the views do not depend on ingest's frame size.
set -eu
d=/usr/share/datasets/fashion-mnist
[ -e "$d/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST in $d (apt-get install dataset-fashion-mnist)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
ing=$BIN/cdt-ingest aug=$BIN/cdt-augment cat=$BIN/cdt-cat

"$ing" fashion-mnist --split test --limit 200 --epochs 2 --seed 3 --rows 64 \
    | "$aug" --threads 2 --preview fm.png -o a.cdt
"$cat" a.cdt >cat.txt
grep -qx "meta augment.seed=3" cat.txt || fail "the stream's seed was not the default: $(grep seed cat.txt)"
grep -qx "meta augment.size=28" cat.txt || fail "augment.size"
grep -qx "meta augment.color=0" cat.txt || fail "augment.color"
grep -q "x u8 \[64,2,1,28,28\], y i32 \[64\], id i64 \[64\], epoch i32 \[64\]" cat.txt || fail "frame layout"

# Epoch 1 repeats the images of epoch 0 (no shuffle), its views must not.
"$cat" --to-npy x a.cdt -o x.npy
size=$(wc -c <x.npy)
half=$((200 * 2 * 28 * 28))
hdr=$((size - 2 * half))
tail -c $((2 * half)) x.npy | head -c $half >e0
tail -c $half x.npy >e1
[ "$(wc -c <e1)" -eq $half ] || fail "x has the wrong size ($size bytes)"
cmp -s e0 e1 && fail "epoch 1 has the views of epoch 0"
[ $hdr -gt 0 ] || fail "no .npy header"

# Another frame size upstream, the same views.
"$ing" fashion-mnist --split test --limit 200 --epochs 2 --seed 3 --rows 17 \
    | "$aug" --threads 1 | "$cat" --to-npy x -o x17.npy
cmp -s x.npy x17.npy || fail "views depend on ingest's --rows"
[ "$(od -An -tx1 -N8 fm.png | tr -d ' ')" = 89504e470d0a1a0a ] || fail "--preview is not a PNG"
echo ok
