# Pipelines whose other end fails: a producer killed mid-stream makes the
# consumer exit 65 with one line (never hang or pass a short stream off as
# whole); a consumer that stops reading early ends every producer quietly,
# with status 0 or 141 and nothing on stderr (the tools' convention, cdt(7)).
set -u
cat=$BIN/cdt-cat
[ -x "$cat" ] || { echo "cdt-cat missing: no way to make a stream"; exit 77; }
. "$TOP/tests/cli/npy.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Inputs well over a pipe's 64 KiB, so that writers really block and see
# the pipe close: 3000 images of 1x28x28 (2.3 MB), as .npy, as a stream,
# and as an IDX data set for cdt-ingest.
{ npy_header '|u1' '3000, 1, 28, 28'; head -c 2352000 /dev/urandom; } >x.npy
{ npy_header '<i4' '3000,'; head -c 12000 /dev/zero; } >y.npy
"$cat" --from-npy x=x.npy y=y.npy --rows 64 --raw -o big.raw || { echo "FAIL: cdt-cat --from-npy"; exit 1; }
mkdir idx
{ printf '\0\0\10\3\0\0\13\270\0\0\0\34\0\0\0\34'; head -c 2352000 /dev/urandom; } | gzip -1 >idx/train-images-idx3-ubyte.gz
{ printf '\0\0\10\1\0\0\13\270'; head -c 3000 /dev/zero; } | gzip -1 >idx/train-labels-idx1-ubyte.gz
cp idx/train-images-idx3-ubyte.gz idx/t10k-images-idx3-ubyte.gz
cp idx/train-labels-idx1-ubyte.gz idx/t10k-labels-idx1-ubyte.gz

have() { [ -x "$BIN/$1" ] || { echo "note: $1 missing, its part not checked"; return 1; }; }

# ---- a consumer that stops early ----
# early WHAT CMD...: CMD's stdout goes to `head -c 100`; CMD must end with
# 0 or 141 and print nothing.
early() {
    what=$1
    shift
    { timeout 120 "$@" 2>err; echo $? >rc; } | head -c 100 >/dev/null
    rc=$(cat rc)
    { [ "$rc" -eq 0 ] || [ "$rc" -eq 141 ]; } || bad "$what | head: status $rc: $(head -c 300 err)"
    [ ! -s err ] || bad "$what | head: printed: $(head -c 300 err)"
    echo "$what | head: status $rc"
}
early "cdt-cat --from-npy (zstd)" "$cat" --from-npy x=x.npy y=y.npy
early "cdt-cat --from-npy --raw" "$cat" --from-npy x=x.npy y=y.npy --raw
early "cdt-cat --to-npy" "$cat" --to-npy x big.raw
early "cdt-cat -v" "$cat" -v big.raw
if have cdt-augment; then
    early "cdt-augment" "$BIN/cdt-augment" --size 8 big.raw
    early "cdt-augment --raw" "$BIN/cdt-augment" --size 8 --raw big.raw
fi
if have cdt-ingest; then
    early "cdt-ingest" "$BIN/cdt-ingest" fashion-mnist idx
    early "cdt-ingest --raw" "$BIN/cdt-ingest" fashion-mnist idx --raw
fi
if [ -x "$BIN/cdt-ingest" ] && [ -x "$BIN/cdt-augment" ]; then
    # Two stages: the middle one sees the pipe close, then the first one.
    { "$BIN/cdt-ingest" fashion-mnist idx 2>err1; echo $? >rc1; } |
        { "$BIN/cdt-augment" --size 8 2>err2; echo $? >rc2; } | head -c 100 >/dev/null
    for i in 1 2; do
        rc=$(cat rc$i)
        { [ "$rc" -eq 0 ] || [ "$rc" -eq 141 ]; } || bad "stage $i of ingest | augment | head: status $rc: $(head -c 300 err$i)"
        [ ! -s err$i ] || bad "stage $i of ingest | augment | head printed: $(head -c 300 err$i)"
        echo "stage $i of ingest | augment | head: status $rc"
    done
fi
echo "early readers: done"

# ---- a producer killed mid-stream ----
# A tool that reads a stream reads it from a FIFO fed only half of its
# input and then held open, so it is stopped for sure after writing some
# frames, and kill -9 cuts it off with no race. cdt-ingest (whose input is
# files) runs many epochs of Fashion-MNIST and is killed as soon as output
# shows, most likely inside a zstd frame.
# killed FEED TOOL ARGS...: TOOL ARGS <in | tee part | cdt-cat -c; FEED 1
# feeds in with half of big.raw, 0 leaves it empty and open.
killed() {
    feed=$1 tool=$2
    shift 2
    rm -f in mid part rc
    mkfifo in mid
    { [ "$feed" -eq 0 ] || head -c $(( $(wc -c <big.raw) / 2 )) big.raw; exec sleep 60; } >in &
    feeder=$!
    "$BIN/$tool" "$@" <in >mid 2>/dev/null &
    prod=$!
    { tee part <mid | timeout 120 "$cat" -c >/dev/null 2>err; echo $? >rc; } &
    cons=$!
    i=0
    while [ ! -s part ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    [ -s part ] || bad "$tool $* wrote nothing in 10 s"
    [ "$feed" -eq 0 ] || sleep 0.2
    kill -9 $prod
    wait $cons
    kill $feeder
    wait 2>/dev/null
    rc=$(cat rc)
    if [ "$rc" -ne 65 ]; then
        bad "cdt-cat -c after $tool $* was killed: exit $rc, expected 65: $(head -c 300 err)"
    elif [ "$(wc -l <err)" -ne 1 ] || ! grep -q '^cdt-cat: ' err; then
        bad "cdt-cat -c after $tool $* was killed: stderr is not one line: $(head -c 300 err)"
    fi
    echo "killed $tool $* after $(wc -c <part) bytes: $(cat err)"
}
if have cdt-augment; then
    killed 1 cdt-augment --size 8
    killed 1 cdt-augment --size 8 --raw
fi
fm=/usr/share/datasets/fashion-mnist
if [ ! -e "$fm/train-images-idx3-ubyte.gz" ]; then
    echo "note: no Fashion-MNIST in $fm, a killed cdt-ingest not checked"
elif have cdt-ingest; then
    killed 0 cdt-ingest fashion-mnist --epochs 100
fi

[ $fail -eq 0 ] || exit 1
echo "broken pipes handled"
