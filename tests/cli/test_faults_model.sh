# Faults around model files: cdt-embed given a model file cut short at
# sampled points, or its zstd form with bits flipped, or a stream that is no
# model; cdt-train and cdt-embed given a truncated input stream; both
# writing to a full disk. Bad data is exit 65, a full disk 74, each with
# exactly one line on stderr.
set -u
cat=$BIN/cdt-cat
for t in cdt-cat cdt-augment cdt-train cdt-embed; do
    [ -x "$BIN/$t" ] || { echo "$t missing"; exit 77; }
done
. "$TOP/tests/cli/npy.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The smallest model there is (ResNet-18 of width 1 on 8x8 grey images),
# trained for two steps on 8 random images.
{ npy_header '|u1' '8, 1, 8, 8'; head -c 512 /dev/urandom; } >x.npy
{ npy_header '<i4' '8,'; head -c 32 /dev/zero; } >y.npy
"$cat" --from-npy x=x.npy y=y.npy --rows 4 --raw -o s.raw || { echo "FAIL: cdt-cat --from-npy"; exit 1; }
"$BIN/cdt-augment" --size 8 --raw s.raw -o a.raw || { echo "FAIL: cdt-augment"; exit 1; }
train="$BIN/cdt-train --arch resnet18 --width 1 --hidden-dim 4 --feature-num 2 -b 4 -t 1"
$train --raw a.raw -o m.raw && $train a.raw -o m.zst || { echo "FAIL: cdt-train"; exit 1; }
"$BIN/cdt-embed" -m m.zst -t 1 s.raw >want.cdt || { echo "FAIL: cdt-embed"; exit 1; }

# expect CODE WHAT TOOL ARGS...: exit CODE and one 'TOOL: ' line on stderr.
expect() {
    code=$1 what=$2 tool=$3
    shift 3
    timeout 120 "$BIN/$tool" "$@" >out 2>err
    rc=$?
    l1= l2= more=
    { read -r l1; if read -r l2 || [ -n "$l2" ]; then more=1; fi; } <err
    if [ $rc -ne "$code" ]; then
        bad "$what: exit $rc, expected $code: $(head -c 300 err)"
    elif [ -n "$more" ]; then
        bad "$what: stderr is more than one line: $(head -c 300 err)"
    else
        case $l1 in "$tool: "?*) ;; *) bad "$what: stderr is not one '$tool: ' line: $(head -c 300 err)" ;; esac
    fi
}

# Model files cut short: every 61st byte (every 151st under the sanitizers,
# where each start is slow), and each of the last 24 (the end record and
# the last tensor's tail).
every=61 stride=17
case ${OUT:-} in *san*) every=151 stride=41 ;; esac
size=$(wc -c <m.raw)
n=0
while [ $n -lt "$size" ]; do
    if [ $((n % every)) -eq 0 ] || [ $n -ge $((size - 24)) ]; then
        head -c $n m.raw >cut.cdt
        expect 65 "model cut to $n of $size bytes" cdt-embed -m cut.cdt -t 1 s.raw
        [ $fail -eq 0 ] || break
    fi
    n=$((n + 1))
done
expect 65 "a data stream as the model" cdt-embed -m s.raw -t 1 s.raw
expect 65 "a data stream as --init" cdt-train --init s.raw -b 4 -t 1 a.raw
echo "truncated models refused"

# Bit flips in the zstd model: refused, or (a flip zstd cannot see) the very
# same embeddings.
size=$(wc -c <m.zst)
awk -v size="$size" 'BEGIN { srand(9); for (i = 0; i < 40; i++) print int(rand() * size), int(rand() * 8) }' >flips
same=0
while read -r pos bit; do
    cp m.zst flip.cdt
    b=$(od -An -tu1 -j "$pos" -N1 m.zst | tr -d ' ')
    printf "\\$(printf %03o $((b ^ (1 << bit))))" | dd of=flip.cdt bs=1 seek="$pos" conv=notrunc 2>/dev/null
    if timeout 120 "$BIN/cdt-embed" -m flip.cdt -t 1 s.raw >out 2>/dev/null; then
        cmp -s out want.cdt || bad "bit $bit of model byte $pos flipped: exit 0 with other embeddings"
        same=$((same + 1))
    else
        expect 65 "bit $bit of model byte $pos flipped" cdt-embed -m flip.cdt -t 1 s.raw
    fi
    [ $fail -eq 0 ] || break
done <flips
echo "model bit flips: $((40 - same)) refused, $same harmless"

# Input streams cut short, for both consumers.
for pair in "cdt-train a.raw" "cdt-embed s.raw"; do
    set -- $pair
    size=$(wc -c <"$2")
    n=0
    while [ $n -lt "$size" ]; do
        head -c $n "$2" >cut.cdt
        if [ "$1" = cdt-train ]; then
            expect 65 "cdt-train on input cut to $n bytes" cdt-train -b 4 -t 1 --width 1 --arch resnet18 cut.cdt
        else
            expect 65 "cdt-embed on input cut to $n bytes" cdt-embed -m m.zst -t 1 cut.cdt
        fi
        [ $fail -eq 0 ] || break 2
        n=$((n + stride))
    done
done
echo "truncated inputs refused"

# A full disk: 74 and one line.
timeout 120 "$BIN/cdt-embed" -m m.zst -t 1 s.raw >/dev/full 2>err; rc=$?
[ $rc -eq 74 ] && [ "$(wc -l <err)" -eq 1 ] || bad "cdt-embed >/dev/full: exit $rc: $(cat err)"
timeout 120 $train --raw a.raw >/dev/full 2>err; rc=$?
[ $rc -eq 74 ] && [ "$(wc -l <err)" -eq 1 ] || bad "cdt-train >/dev/full: exit $rc: $(cat err)"

[ $fail -eq 0 ] || exit 1
echo "model faults handled"
