# cdt-augment: bad input and bad options give one line on stderr,
# "cdt-augment: ...", with exit 65 (bad data), 64 (usage) or 66 (missing
# file), and no output file is left behind.
set -eu
. "$TOP/tests/cli/npy.sh"
aug=$BIN/cdt-augment
cat=$BIN/cdt-cat
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$cat" ] || { echo "cdt-cat is not built"; exit 77; }

# expect CODE WHAT PATTERN ARGS...: cdt-augment ARGS -o out.cdt exits CODE
# with one stderr line matching PATTERN.
expect() {
    code=$1 what=$2 pat=$3
    shift 3
    set +e
    "$aug" "$@" -o out.cdt 2>err
    rc=$?
    set -e
    [ $rc -eq "$code" ] || fail "$what: exit $rc, expected $code ($(cat err))"
    [ "$(wc -l <err)" -eq 1 ] || fail "$what: stderr is not one line: $(cat err)"
    grep -q "^cdt-augment: .*$pat" err || fail "$what: message: $(cat err)"
    [ ! -e out.cdt ] || fail "$what: an output file was left behind"
}

mknpy '<f4' '4, 3, 8, 8' f.npy
"$cat" --from-npy x=f.npy -o f32.cdt
expect 65 "f32 images" "x is f32 of rank 4, expected u8" f32.cdt
mknpy '|u1' '4, 8, 8' r3.npy
"$cat" --from-npy x=r3.npy -o rank3.cdt
expect 65 "rank 3" "rank 3" rank3.cdt
mknpy '|u1' '4, 2, 3, 8, 8' r5.npy
"$cat" --from-npy x=r5.npy -o rank5.cdt
expect 65 "already augmented" "rank 5" rank5.cdt
mknpy '|u1' '4, 2, 8, 8' c2.npy
"$cat" --from-npy x=c2.npy -o c2.cdt
expect 65 "two channels" "2 channels" c2.cdt
{ npy_header '|u1' '4, 3, 0, 8'; } >z.npy
"$cat" --from-npy x=z.npy -o zero.cdt
expect 65 "zero-size images" "0x8 pixels" zero.cdt
mknpy '|u1' '4, 3, 8, 8' x.npy
"$cat" --from-npy y=x.npy -o nox.cdt
expect 65 "no x" "no tensor x" nox.cdt
mknpy '<i4' '4,' id32.npy
"$cat" --from-npy x=x.npy id=id32.npy -o id32.cdt
expect 65 "i32 ids" "id is not i64" id32.cdt
mknpy '<i8' '4,' ep64.npy
"$cat" --from-npy x=x.npy epoch=ep64.npy -o ep64.cdt
expect 65 "i64 epoch" "epoch is not i32" ep64.cdt
head -c 100 f32.cdt >trunc.cdt
expect 65 "truncated stream" "" trunc.cdt
expect 66 "missing file" "" no-such-file.cdt

"$cat" --from-npy x=x.npy -o ok.cdt
expect 64 "--views 65" "--views" --views 65 ok.cdt
expect 64 "--views 0" "--views" --views 0 ok.cdt
expect 64 "--size 0" "--size" --size 0 ok.cdt
expect 64 "--jitter -1" "--jitter" --jitter -1 ok.cdt
expect 64 "--crop-scale 0" "--crop-scale" --crop-scale 0 ok.cdt
expect 64 "--crop-scale 1.5" "--crop-scale" --crop-scale 1.5 ok.cdt
expect 64 "--crop-scale x" "--crop-scale" --crop-scale x ok.cdt
expect 64 "--threads 0" "--threads" --threads 0 ok.cdt
expect 64 "two inputs" "more than one input" ok.cdt ok.cdt
set +e
"$aug" --bogus ok.cdt >/dev/null 2>err
rc=$?
set -e
[ $rc -eq 64 ] || fail "unknown option: exit $rc"
"$aug" --help | grep -q '^usage: cdt-augment' || fail "--help"
"$aug" --version | grep -q '^cdt-augment (cdt) ' || fail "--version"
echo ok
