# cdt-cat: .npy -> stream -> .npy gives the same bytes for every dtype numpy
# shares with the stream format and ranks 1..8 (plus rank 0 with --free);
# --head, -v statistics on known values, -c, and raw streams.
set -eu
. "$TOP/tests/cli/npy.sh"
cat=$BIN/cdt-cat
[ -x "$cat" ] || { echo "cdt-cat not built"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }

# Every dtype and rank; 300 rows in frames of 128 crosses frame boundaries.
dims="300 2 1 3 1 1 2 1"
for d in '|u1' '|i1' '<i4' '<i8' '<f2' '<f4' '<f8'; do
    shape=""
    for r in 1 2 3 4 5 6 7 8; do
        dim=$(echo "$dims" | cut -d' ' -f"$r")
        if [ $r -eq 1 ]; then shape="$dim,"; elif [ $r -eq 2 ]; then shape="${shape%,}, $dim"; else shape="$shape, $dim"; fi
        mknpy "$d" "$shape" in.npy
        "$cat" --from-npy a=in.npy --rows 128 -o s.cdt
        "$cat" --to-npy a -o out.npy s.cdt
        cmp in.npy out.npy || fail "round trip $d ($shape) via a file"
        "$cat" --to-npy a <s.cdt | cmp in.npy - || fail "round trip $d ($shape) via a pipe"
    done
done
"$cat" s.cdt | grep -q "^frame 2 rows 44: a f64 \[44,2,1,3,1,1,2,1\]$" || fail "frame listing"
"$cat" s.cdt | grep -q "^total: 3 frames, 300 rows, zstd, " || fail "totals"

# Rank 0 and unequal first dimensions go in one free-form frame.
mknpy '<f8' '' scalar.npy
mknpy '<i4' '7, 2' m.npy
"$cat" --from-npy s=scalar.npy m=m.npy --free -o free.cdt
"$cat" free.cdt | grep -q "^frame 0 rows 0: s f64 \[\], m i32 \[7,2\]$" || fail "free frame listing"
"$cat" --to-npy s free.cdt | cmp scalar.npy - || fail "rank 0 round trip"
"$cat" --to-npy m free.cdt | cmp m.npy - || fail "free tensor round trip"
"$cat" --from-npy s=scalar.npy -o x.cdt 2>err && fail "rank 0 without --free accepted"
grep -q "use --free" err || fail "rank 0 message"

# Several tensors, meta, raw output, frame sizes.
mknpy '|u1' '10, 1, 4, 4' x.npy
mknpy '<i4' '10,' y.npy
mknpy '<i4' '9,' y9.npy
"$cat" --from-npy x=x.npy y=y.npy --rows 4 --raw --meta dataset=toy --meta classes=10 -o raw.cdt
[ "$(head -c 4 raw.cdt)" = CDTS ] || fail "--raw did not write a raw stream"
"$cat" raw.cdt >list
grep -q "^meta dataset=toy$" list && grep -q "^meta classes=10$" list && grep -q "^meta rows_total=10$" list ||
    fail "meta missing: $(cat list)"
grep -q "^frame 2 rows 2: x u8 \[2,1,4,4\], y i32 \[2\]$" list || fail "frames of --rows 4"
grep -q "^total: 3 frames, 10 rows, raw, " list || fail "raw totals"
"$cat" --to-npy y raw.cdt | cmp y.npy - || fail "second tensor"
"$cat" --from-npy x=x.npy y=y9.npy -o bad.cdt 2>err && fail "unequal rows accepted"
[ $(wc -l <err) -eq 1 ] && grep -q "must share dim\[0\]" err || fail "unequal rows message: $(cat err)"
"$cat" --from-npy x=x.npy --meta Bad=1 -o bad.cdt 2>/dev/null && fail "bad meta key accepted"
"$cat" --to-npy nosuch raw.cdt >/dev/null 2>err && fail "missing tensor accepted"
grep -q "no tensor 'nosuch'" err || fail "missing tensor message"

# --head: only N frames, and a stream cut before its end record is fine then.
"$cat" --head 2 raw.cdt >list
[ $(grep -c "^frame" list) -eq 2 ] && grep -q "stopped by --head" list || fail "--head 2: $(cat list)"
size=$(wc -c <raw.cdt)
head -c $((size - 20)) raw.cdt >cut.cdt
"$cat" --head 1 cut.cdt >/dev/null || fail "--head 1 on a stream without its end record"
set +e
"$cat" -c cut.cdt >/dev/null 2>err; rc=$?
set -e
[ $rc -eq 65 ] || fail "-c on a cut stream: exit $rc"
"$cat" -c raw.cdt | grep -q "^ok: 3 frames, 10 rows, 0.0 MB$" || fail "-c summary"
"$cat" -c --progress raw.cdt 2>&1 >/dev/null | grep -q "MB/s" || fail "--progress speed line"

# -v on known values (worked out by hand from the bytes below).
{ npy_header '<i4' '4,'; printf '\373\377\377\377\007\000\000\000\003\000\000\000\003\000\000\000'; } >k.npy
{ npy_header '<f4' '4,'; printf '\000\000\300\077\000\000\020\300\000\000\000\077\000\000\300\177'; } >kf.npy
"$cat" --from-npy k=k.npy kf=kf.npy -o known.cdt
"$cat" -v known.cdt >list
grep -q "^stats k i32: 4 values, min -5, max 7, mean 2, distinct 3$" list || fail "-v i32: $(cat list)"
grep -q "^stats kf f32: 3 values, min -2.25, max 1.5, mean -0.0833333333, nan 1$" list || fail "-v f32: $(cat list)"

# A bf16 tensor (made by hand: the format allows it, numpy does not).
{ printf 'CDTS\001\000\000\000\000\000\000\000'
  printf 'FRAM\001\000\000\000\000\000\000\000\001\000\000\000'
  printf '\001b\006\001\001\000\000\000\000\000\000\000\200\077'
  printf 'CEND\001\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000'; } >bf.cdt
"$cat" -v bf.cdt | grep -q "^stats b bf16: 1 values, min 1, max 1, mean 1$" || fail "bf16 stats"
set +e
"$cat" --to-npy b bf.cdt >/dev/null 2>err; rc=$?
set -e
[ $rc -eq 65 ] && grep -q "bf16, which numpy has no dtype" err || fail "bf16 --to-npy: exit $rc"

# Usage errors.
set +e
"$cat" -c --to-npy x raw.cdt >/dev/null 2>&1; rc1=$?
"$cat" --rows 0 --from-npy x=x.npy >/dev/null 2>&1; rc2=$?
"$cat" --bogus >/dev/null 2>&1; rc3=$?
set -e
[ $rc1 -eq 64 ] && [ $rc2 -eq 64 ] && [ $rc3 -eq 64 ] || fail "usage exits $rc1 $rc2 $rc3"
echo "cdt-cat round trips ok"
