# Output faults: a full disk on stdout (/dev/full) is exit 74 with one line
# from every tool; a tool killed with -9 while writing -o FILE leaves FILE
# as it was (absent, or the previous complete file), never a torn one.
# (Never -o /dev/full here: the crash-safe writer would put a temp file in
# /dev and, run as root, rename it over the device.)
set -u
cat=$BIN/cdt-cat
[ -x "$cat" ] || { echo "cdt-cat missing: no way to make a stream"; exit 77; }
. "$TOP/tests/cli/npy.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
have() { [ -x "$BIN/$1" ] || { echo "note: $1 missing, its part not checked"; return 1; }; }

# 3000 rows: x u8 [.,1,28,28], y, h f32 [.,2] (2.4 MB raw; many frames).
{ npy_header '|u1' '3000, 1, 28, 28'; head -c 2352000 /dev/urandom; } >x.npy
{ npy_header '<i4' '3000,'; head -c 12000 /dev/zero; } >y.npy
{ npy_header '<f4' '3000, 2'; i=0; while [ $i -lt 1000 ]; do printf '\0\0\200\077\0\0\0\100\0\0\100\100'; i=$((i + 1)); done; head -c 12000 /dev/zero; } >h.npy
"$cat" --from-npy x=x.npy y=y.npy h=h.npy --rows 64 --raw -o big.raw || { echo "FAIL: cdt-cat --from-npy"; exit 1; }
mkdir idx
{ printf '\0\0\10\3\0\0\0\12\0\0\0\34\0\0\0\34'; head -c 7840 /dev/urandom; } | gzip -1 >idx/train-images-idx3-ubyte.gz
{ printf '\0\0\10\1\0\0\0\12'; head -c 10 /dev/zero; } | gzip -1 >idx/train-labels-idx1-ubyte.gz
cp idx/train-images-idx3-ubyte.gz idx/t10k-images-idx3-ubyte.gz
cp idx/train-labels-idx1-ubyte.gz idx/t10k-labels-idx1-ubyte.gz

# ---- /dev/full ----
# full WHAT CMD...: CMD >/dev/full exits 74 with one 'cdt-TOOL: ' line.
full() {
    what=$1
    shift
    timeout 120 "$@" >/dev/full 2>err
    rc=$?
    tool=$(basename "$1")
    if [ $rc -ne 74 ]; then
        bad "$what >/dev/full: exit $rc, expected 74: $(head -c 300 err)"
    elif [ "$(wc -l <err)" -ne 1 ] || ! grep -q "^$tool: " err; then
        bad "$what >/dev/full: stderr is not one '$tool: ' line: $(head -c 300 err)"
    fi
}
full "cdt-cat --from-npy" "$cat" --from-npy x=x.npy y=y.npy
full "cdt-cat --from-npy --raw" "$cat" --from-npy x=x.npy --raw
full "cdt-cat (listing)" "$cat" big.raw
full "cdt-cat -v" "$cat" -v big.raw
full "cdt-cat -c" "$cat" -c big.raw
full "cdt-cat --to-npy" "$cat" --to-npy x big.raw
have cdt-augment && full "cdt-augment" "$BIN/cdt-augment" --size 8 big.raw
have cdt-cluster && full "cdt-cluster" "$BIN/cdt-cluster" -k 2 big.raw
if have cdt-score; then
    "$cat" --from-npy c=y.npy y=y.npy -o cy.cdt
    full "cdt-score" "$BIN/cdt-score" cy.cdt
    full "cdt-score --json" "$BIN/cdt-score" --json cy.cdt
fi
have cdt-ingest && full "cdt-ingest" "$BIN/cdt-ingest" fashion-mnist idx
echo "full disk: done"

# ---- kill -9 while writing -o FILE ----
# crash TICKS FEED TOOL ARGS...: run TOOL ARGS -o out.cdt, where the FIFO
# `in` is fed half of the file FEED (or nothing: FEED -) and then held
# open, so the tool is stuck mid-run; its stdin is `in` unless ARGS name
# `in` themselves. kill -9 as soon as its temp file holds data, or after
# TICKS x 50 ms (tools that write only at the end never get there).
crash() {
    ticks=$1 feed=$2 tool=$3
    shift 3
    rm -f in
    mkfifo in
    { [ "$feed" = - ] || head -c $(( $(wc -c <"$feed") / 2 )) "$feed"; exec sleep 60; } >in &
    feeder=$!
    case " $* " in
    *=in\ *) "$BIN/$tool" "$@" -o out.cdt </dev/null 2>/dev/null & ;;
    *) "$BIN/$tool" "$@" -o out.cdt <in 2>/dev/null & ;;
    esac
    prod=$!
    i=0
    while [ $i -lt "$ticks" ] && ! [ -s "$(ls -A | grep '^\.out\.cdt' | head -n 1)" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    wrote=$(ls -A | grep '^\.out\.cdt' | while read -r f; do wc -c <"$f"; done | sort -n | tail -n 1)
    kill -9 $prod 2>/dev/null || bad "$tool $* had ended before the kill"
    kill $feeder 2>/dev/null
    wait 2>/dev/null
}
# crash_safe WHAT TICKS FEED TOOL ARGS...: killed with no out.cdt, none
# appears; killed with a complete out.cdt there, it is left as it was.
crash_safe() {
    what=$1
    shift
    rm -f out.cdt .out.cdt*
    crash "$@"
    [ ! -e out.cdt ] || bad "$what: killed before the end, yet out.cdt exists"
    cp small.cdt out.cdt
    crash "$@"
    cmp -s out.cdt small.cdt || bad "$what: killed while writing, out.cdt is not the previous file"
    left=$(ls -A | grep -c '^\.out\.cdt')
    echo "$what: killed after writing ${wrote:-no} bytes to its temp file; out.cdt intact; $left hidden temp file(s) left, as kill -9 allows"
}
"$cat" --from-npy y=y.npy -o small.cdt
have cdt-augment && crash_safe "cdt-augment -o" 200 big.raw cdt-augment --size 8
have cdt-cluster && crash_safe "cdt-cluster -o" 10 big.raw cdt-cluster -k 2
crash_safe "cdt-cat --from-npy -o" 10 x.npy cdt-cat --from-npy x=in
if have cdt-ingest; then
    fm=/usr/share/datasets/fashion-mnist
    if [ -e "$fm/train-images-idx3-ubyte.gz" ]; then
        crash_safe "cdt-ingest -o" 200 - cdt-ingest fashion-mnist --epochs 100 --quiet
    else
        echo "note: no Fashion-MNIST in $fm, cdt-ingest -o not checked"
    fi
fi

[ $fail -eq 0 ] || exit 1
echo "output faults handled"
