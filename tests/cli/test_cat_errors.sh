# cdt-cat: every bad .npy is refused with exit 65 and one line on stderr
# naming the file; a missing file is 66; binary output to a terminal is
# refused (64).
set -eu
. "$TOP/tests/cli/npy.sh"
cat=$BIN/cdt-cat
fail() { echo "FAIL: $*"; exit 1; }

# expect CODE WHAT FILE: --from-npy on FILE exits CODE with one stderr line.
expect() {
    set +e
    "$cat" --from-npy "a=$3" -o out.cdt 2>err
    rc=$?
    set -e
    [ $rc -eq "$1" ] || fail "$2: exit $rc, expected $1 ($(cat err))"
    [ "$(wc -l <err)" -eq 1 ] || fail "$2: stderr is not one line: $(cat err)"
    grep -q "^cdt-cat: .*$3" err || fail "$2: message does not name the file: $(cat err)"
    [ ! -e out.cdt ] || fail "$2: an output file was left behind"
}

mknpy '<f4' '6, 2' good.npy
size=$(wc -c <good.npy)
head -c $((size - 1)) good.npy >short.npy
expect 65 "data one byte short" short.npy
head -c 100 good.npy >hdr.npy
expect 65 "header cut" hdr.npy
{ cat good.npy; printf x; } >long.npy
expect 65 "a byte after the data" long.npy
: >empty.npy
expect 65 "empty file" empty.npy
{ printf 'PK\003\004'; head -c 200 good.npy; } >zip.npy
expect 65 "not a .npy (an .npz is a zip)" zip.npy
sed 's/False/True /' good.npy >fortran.npy
expect 65 "Fortran order" fortran.npy
grep -q "Fortran order" err || fail "Fortran message: $(cat err)"
sed "s/<f4/>f4/" good.npy >big.npy
expect 65 "big-endian" big.npy
sed "s/<f4/<c8/" good.npy >complex.npy
expect 65 "complex dtype" complex.npy
grep -q "unsupported dtype '<c8'" err || fail "dtype message: $(cat err)"
sed "s/'descr'/'descx'/" good.npy >key.npy
expect 65 "unknown key" key.npy
sed "s/(6, 2)/(6; 2)/" good.npy >syntax.npy
expect 65 "bad shape syntax" syntax.npy
grep -q "at byte" err || fail "syntax message lacks the byte offset: $(cat err)"
{ npy_header '<f4' '1, 1, 1, 1, 1, 1, 1, 1, 1'; printf 'abcd'; } >rank9.npy
expect 65 "rank 9" rank9.npy
{ npy_header '|u1' '1099511627777,'; } >huge.npy
expect 65 "over 2^40 bytes" huge.npy
expect 66 "missing file" nosuch.npy

# A tty on stdout: util-linux script gives the command a terminal.
if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    set +e
    script -qec "$cat --from-npy a=good.npy" /dev/null </dev/null >tty.out 2>&1
    rc=$?
    set -e
    [ $rc -eq 64 ] || fail "binary to a terminal: exit $rc"
    grep -q "refusing to write binary data to a terminal" tty.out || fail "tty message: $(cat tty.out)"
else
    echo "note: no working script(1); terminal refusal not checked"
fi
echo "bad .npy inputs refused"
