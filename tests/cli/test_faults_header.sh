# Each malformed-header case of the stream spec (formats/cdt-stream.md:
# "Limits a reader enforces"), written byte by byte with printf, raw and
# zstd-wrapped, fed to cdt-cat: exit 65 with one line on stderr naming the
# byte offset where the bad field (or its record) starts. The offsets below
# are counted by hand from the spec's layout, not taken from the reader.
set -u
cat=$BIN/cdt-cat
[ -x "$cat" ] || { echo "cdt-cat missing"; exit 77; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Little-endian integers as bytes (dash arithmetic is 64-bit signed: values
# up to 2^63 - 1).
le() { # BYTES VALUE
    i=0
    while [ $i -lt "$1" ]; do
        printf "\\$(printf %03o $(( ($2 >> (8 * i)) & 255 )))"
        i=$((i + 1))
    done
}
u16() { le 2 "$1"; }
u32() { le 4 "$1"; }
u64() { le 8 "$1"; }
# The 22-byte header with meta "dataset=t\n"; the first frame starts at 22,
# its first tensor at 38 (name_len), name at 39, dtype at 40, rank at 41,
# dims at 42. A one-letter tensor of rank 2 takes 20 bytes before its data.
header() { printf 'CDTS'; u16 1; u16 0; u32 10; printf 'dataset=t\n'; }
# tensor NAME DTYPE DIM...: a tensor header of rank #DIM (data follows)
tensor() {
    printf "\\$(printf %03o ${#1})%s" "$1"
    printf "\\$(printf %03o "$2")\\$(printf %03o $(($# - 2)))"
    shift 2
    for d in "$@"; do u64 "$d"; done
}
frame() { printf 'FRAM'; u64 "$1"; u32 "$2"; } # ROWS COUNT
end() { printf 'CEND'; u64 "$1"; u64 "$2"; }   # FRAMES ROWS

# check WHAT OFFSET FILE: cdt-cat -c exits 65, one line naming "byte OFFSET".
check() {
    for form in raw zstd; do
        f=$3
        if [ $form = zstd ]; then
            [ -n "$zstd" ] || continue
            zstd -q -c "$3" >"$3.zst" && f=$3.zst
        fi
        timeout 120 "$cat" -c "$f" >/dev/null 2>err
        rc=$?
        if [ $rc -ne 65 ]; then
            bad "$1 ($form): exit $rc, expected 65: $(head -c 300 err)"
        elif [ "$(wc -l <err)" -ne 1 ] || ! grep -q '^cdt-cat: ' err; then
            bad "$1 ($form): stderr is not one 'cdt-cat: ' line: $(head -c 300 err)"
        elif ! grep -Eq "byte $2([^0-9]|\$)" err; then
            bad "$1 ($form): message does not name byte $2: $(cat err)"
        fi
    done
}
zstd=$(command -v zstd) || echo "note: no zstd(1), the zstd-wrapped forms are not checked"

# The well-formed stream the cases below break one field of.
{ header; frame 1 1; tensor x 1 1 2; printf 'ab'; end 1 1; } >good.cdt
"$cat" -c good.cdt >out 2>err || { echo "FAIL: the hand-made stream does not check: $(cat err)"; exit 1; }

{ printf 'CDTX'; u16 1; u16 0; u32 0; end 0 0; } >magic.cdt
check "bad magic" 0 magic.cdt
{ printf 'CDTS'; u16 2; u16 0; u32 0; end 0 0; } >version.cdt
check "version 2" 4 version.cdt
{ printf 'CDTS'; u16 1; u16 4; u32 0; end 0 0; } >flags.cdt
check "unknown flags" 6 flags.cdt
{ printf 'CDTS'; u16 1; u16 0; u32 $((1048576 + 1)); head -c 64 /dev/zero; } >meta.cdt
check "meta over 1 MiB" 8 meta.cdt
{ printf 'CDTS'; u16 1; u16 0; u32 4294967295; } >meta2.cdt
check "meta length 2^32-1" 8 meta2.cdt
{ printf 'CDTS'; u16 1; u16 0; u32 10; printf 'Dataset=t\n'; end 0 0; } >key.cdt
check "meta key with a capital" 12 key.cdt
{ header; frame 1 4097; tensor x 1 1 2; printf 'ab'; end 1 1; } >count.cdt
check "4097 tensors in a frame" 22 count.cdt
{ header; frame 1 4294967295; end 1 1; } >count2.cdt
check "2^32-1 tensors in a frame" 22 count2.cdt
{ header; frame 1 1; printf '\000'; printf '\001\001'; u64 1; printf 'a'; end 1 1; } >noname.cdt
check "zero-length name" 38 noname.cdt
{ header; frame 1 1; printf '\002\377\376\001\001'; u64 1; printf 'a'; end 1 1; } >utf8.cdt
check "name not UTF-8" 38 utf8.cdt
{ header; frame 1 1; tensor x 1 1 1 1 1 1 1 1 1 1; printf 'a'; end 1 1; } >rank9.cdt
check "rank 9" 41 rank9.cdt
{ header; frame 1 1; tensor x 9 1 2; printf 'ab'; end 1 1; } >dtype.cdt
check "dtype 9" 40 dtype.cdt
{ header; frame 1 1; tensor x 1 1 $((1 << 40 | 1)); printf 'ab'; end 1 1; } >huge.cdt
check "a tensor of 2^40 + 1 bytes" 38 huge.cdt
{ header; frame 1 1; tensor x 7 1 $((1 << 62)) 4; printf 'ab'; end 1 1; } >overflow.cdt
check "dims whose byte count overflows 64 bits" 38 overflow.cdt
{ header; frame 2 1; tensor x 1 1 2; printf 'ab'; end 1 2; } >rows.cdt
check "dim[0] unlike the frame's rows" 38 rows.cdt
{ header; frame 1 2; tensor x 1 1 1; printf 'a'; tensor x 1 1 1; printf 'b'; end 1 1; } >dup.cdt
check "a name twice in a frame" $((38 + 20 + 1)) dup.cdt
{ header; frame 1 1; tensor x 1 1 2; printf 'ab'; end 2 1; } >endcount.cdt
check "end record counting 2 frames" $((38 + 20 + 2)) endcount.cdt
{ header; frame 1 1; tensor x 1 1 2; printf 'ab'; end 1 1; printf 'FRAM'; } >trail.cdt
check "bytes after the end record" $((38 + 20 + 2 + 20)) trail.cdt
{ header; printf 'JUNK'; end 0 0; } >tag.cdt
check "an unknown record tag" 22 tag.cdt

[ $fail -eq 0 ] || exit 1
echo "malformed headers refused at the right byte"
