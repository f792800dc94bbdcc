# cdt-augment: shapes and meta of the output, tensors passed through byte
# for byte, and x identical for any --threads and any input frame size;
# epoch, id, view and seed each change the views.
set -eu
. "$TOP/tests/cli/npy.sh"
aug=$BIN/cdt-augment
cat=$BIN/cdt-cat
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$cat" ] || { echo "cdt-cat is not built"; exit 77; }

# x_of STREAM OUT.npy: tensor x of a stream as .npy
x_of() { "$cat" --to-npy x "$1" -o "$2"; }

mknpy '|u1' '40, 3, 32, 32' x.npy
mknpy '<i4' '40,' y.npy
mknpy '<i8' '40,' id.npy
mknpy '<i4' '40,' epoch.npy
"$cat" --from-npy x=x.npy y=y.npy id=id.npy epoch=epoch.npy --rows 7 -o in7.cdt
"$cat" --from-npy x=x.npy y=y.npy id=id.npy epoch=epoch.npy --rows 40 -o in40.cdt

# Bytes identical for --threads 1, 2, 7 and frames of 7 or 40 rows.
"$aug" -t 1 in7.cdt -o ref.cdt
x_of ref.cdt ref.npy
for t in 1 2 7; do
    for f in in7 in40; do
        "$aug" --threads $t "$f.cdt" >out.cdt
        x_of out.cdt out.npy
        cmp -s ref.npy out.npy || fail "x differs with --threads $t on $f"
    done
done

# Shapes, pass-through and meta.
"$cat" ref.cdt >print.txt
grep -q 'x u8 \[7,2,3,32,32\], y i32 \[7\], id i64 \[7\], epoch i32 \[7\]' print.txt ||
    fail "frame layout: $(grep frame print.txt | head -1)"
for k in augment.views=2 augment.size=32 augment.jitter=0.5 augment.crop_scale=0.08 augment.blur=0 augment.color=1 \
         augment.seed=0 seed=0 producer=cdt-cat; do
    grep -qx "meta $k" print.txt || fail "meta $k missing: $(grep meta print.txt | tr '\n' ' ')"
done
for t in y id epoch; do
    "$cat" --to-npy $t ref.cdt -o back.npy
    cmp -s $t.npy back.npy || fail "$t did not pass through unchanged"
done

# --views, --size, --blur, --jitter and their meta.
"$aug" -t 2 --views 3 --size 24 --blur --jitter 1 in40.cdt -o v3.cdt
"$cat" v3.cdt >print.txt
grep -q 'x u8 \[40,3,3,24,24\]' print.txt || fail "--views 3 --size 24 shape"
grep -qx 'meta augment.blur=1' print.txt || fail "augment.blur"
grep -qx 'meta augment.jitter=1' print.txt || fail "augment.jitter"
# --crop-scale: in the meta, and other views than the 0.08 default's (the
# boxes themselves are checked in tests/unit/test_augment_stats.c).
"$aug" -t 2 --crop-scale 0.5 in40.cdt -o c5.cdt
"$cat" c5.cdt | grep -qx 'meta augment.crop_scale=0.5' || fail "augment.crop_scale"
"$aug" -t 2 in40.cdt -o c08.cdt
"$cat" --to-npy x c5.cdt -o c5.npy
"$cat" --to-npy x c08.cdt -o c08.npy
cmp -s c5.npy c08.npy && fail "--crop-scale 0.5 gave the default's views"

# Views differ from each other, and a different seed gives different views.
x_of v3.cdt v3.npy
[ "$(od -An -tx1 -v -j 128 -N 1728 v3.npy | md5sum)" != \
  "$(od -An -tx1 -v -j $((128 + 1728)) -N 1728 v3.npy | md5sum)" ] || fail "views 0 and 1 are equal"
"$aug" --seed 1 in40.cdt | "$cat" --to-npy x -o s1.npy
cmp -s ref.npy s1.npy && fail "--seed 1 gave the same views as seed 0"
"$aug" --seed 0 in40.cdt | "$cat" --to-npy x -o s0.npy
cmp -s ref.npy s0.npy || fail "--seed 0 is not the default"

# epoch: a missing epoch tensor is epoch 0; another epoch changes the views.
{ npy_header '<i4' '40,'; head -c 160 /dev/zero; } >e0.npy
{ npy_header '<i4' '40,'; for i in $(seq 40); do printf '\001\000\000\000'; done; } >e1.npy
"$cat" --from-npy x=x.npy id=id.npy epoch=e0.npy -o ine0.cdt
"$cat" --from-npy x=x.npy id=id.npy -o innone.cdt
"$cat" --from-npy x=x.npy id=id.npy epoch=e1.npy -o ine1.cdt
for f in ine0 innone ine1; do "$aug" $f.cdt | "$cat" --to-npy x -o $f.npy; done
cmp -s ine0.npy innone.npy || fail "no epoch tensor is not epoch 0"
cmp -s ine0.npy ine1.npy && fail "epoch 1 gave the views of epoch 0"

# One-channel 28x28 images: size 28, jitter 1, no colour ops.
mknpy '|u1' '9, 1, 28, 28' g.npy
"$cat" --from-npy x=g.npy -o g.cdt
"$aug" g.cdt --preview g.png >gout.cdt
"$cat" gout.cdt >print.txt
grep -q 'x u8 \[9,2,1,28,28\]' print.txt || fail "gray shape: $(grep frame print.txt)"
grep -qx 'meta augment.jitter=1' print.txt || fail "gray jitter default"
grep -qx 'meta augment.color=0' print.txt || fail "gray color"
[ "$(od -An -tx1 -N8 g.png | tr -d ' ')" = 89504e470d0a1a0a ] || fail "--preview is not a PNG"

# -o on a device writes to it rather than replacing it.
"$aug" in40.cdt -o /dev/null || fail "-o /dev/null"
[ -c /dev/null ] || fail "/dev/null is no longer a device"

# A closed pipe downstream ends the tool quietly.
mknpy '|u1' '3000, 3, 32, 32' big.npy
"$cat" --from-npy x=big.npy -o big.cdt
set +e
"$aug" big.cdt 2>err | head -c 100 >/dev/null
set -e
[ ! -s err ] || fail "closed pipe printed: $(cat err)"
echo ok
