# Damaged streams at the tool level: every truncation point of a small
# stream, raw and zstd, and random bit flips of the zstd form, fed to every
# consumer there is, must end in exit 65 with exactly one line on stderr,
# "cdt-TOOL: ...", never a crash, a hang or a silent success.
set -u
cat=$BIN/cdt-cat
[ -x "$cat" ] || { echo "cdt-cat missing: no way to make a stream"; exit 77; }
. "$TOP/tests/cli/npy.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# A stream every consumer accepts: x u8 [8,1,4,4], y, id, h f32 [8,2], c;
# three frames. Labels and clusters agree so that cdt-score has work.
{ npy_header '|u1' '8, 1, 4, 4'; head -c 128 /dev/urandom; } >x.npy
{ npy_header '<i4' '8,'; printf '\0\0\0\0\1\0\0\0\2\0\0\0\0\0\0\0\1\0\0\0\2\0\0\0\0\0\0\0\1\0\0\0'; } >y.npy
{ npy_header '<i8' '8,'; head -c 64 /dev/zero; } >id.npy
{ npy_header '<f4' '8, 2'; for i in 1 2 3 4 5 6 7 8; do printf '\0\0\200\077\0\0\0\100'; done; } >h.npy
npys="x=x.npy y=y.npy id=id.npy h=h.npy c=y.npy"
"$cat" --from-npy $npys --rows 3 --raw -o s.raw || { echo "FAIL: cdt-cat --from-npy"; exit 1; }
CDT_COMPRESS=1 "$cat" --from-npy $npys --rows 3 -o s.zst || { echo "FAIL: cdt-cat --from-npy (zstd)"; exit 1; }
"$cat" -c s.raw >/dev/null && "$cat" -c s.zst >/dev/null || { echo "FAIL: the test streams do not check"; exit 1; }

# Consumers and the arguments that make each read the whole stream.
consumers="cat:-c"
for t in augment:--size=4 cluster:-k2 score:; do
    if [ -x "$BIN/cdt-${t%%:*}" ]; then consumers="$consumers $t"; else echo "note: cdt-${t%%:*} missing, not checked"; fi
done
for t in $consumers; do # each must take the intact stream
    "$BIN/cdt-${t%%:*}" ${t#*:} <s.zst >/dev/null 2>err || bad "cdt-${t%%:*} ${t#*:} rejects the intact stream: $(cat err)"
done

# damaged TOOL ARGS WHAT FILE: the tool exits 65 with one stderr line.
# (Shell built-ins only for the checks: this runs some 1,500 times.)
damaged() {
    timeout 120 "$BIN/cdt-$1" $2 <"$4" >/dev/null 2>err
    rc=$?
    l1= l2= more=
    { read -r l1; if read -r l2 || [ -n "$l2" ]; then more=1; fi; } <err
    if [ $rc -ne 65 ]; then
        bad "cdt-$1 $2 on $3: exit $rc, expected 65 ($(head -c 300 err))"
    elif [ -n "$more" ]; then
        bad "cdt-$1 $2 on $3: stderr is more than one line: $(head -c 300 err)"
    else
        case $l1 in "cdt-$1: "?*) ;; *) bad "cdt-$1 $2 on $3: stderr is not one 'cdt-$1: ' line: $(head -c 300 err)" ;; esac
    fi
}

# Every truncation point: cdt-cat at every byte, the other consumers at
# every 23rd byte and the last few (each reads the same library's reader;
# this checks that they report its errors as they should). Under the
# sanitizers every process start costs tens of milliseconds, so there
# cdt-cat takes every 4th byte and the others every 31st.
step=1 ostep=23 nflips=60
case ${OUT:-} in *san*) step=4 ostep=31 nflips=40; echo "sanitizer build: sampling every ${step}th cut" ;; esac
for s in s.raw s.zst; do
    size=$(wc -c <"$s")
    n=0
    while [ $n -lt "$size" ]; do
        head -c $n "$s" >cut
        if [ $((n % step)) -eq 0 ] || [ $n -ge $((size - 3)) ]; then
            damaged cat -c "$s cut to $n bytes" cut
        fi
        if [ $((n % ostep)) -eq 0 ] || [ $n -ge $((size - 3)) ]; then
            for t in $consumers; do
                [ "${t%%:*}" = cat ] || damaged "${t%%:*}" "${t#*:}" "$s cut to $n bytes" cut
            done
        fi
        [ $fail -eq 0 ] || break 2
        n=$((n + 1))
    done
done
echo "truncations checked"

# Random bit flips of the zstd form (a fixed seed, so failures repeat). A
# flip zstd cannot see (one in a frame header field that does not change
# the content, say) must then give the very same content; anything else is
# 65 with one line.
"$cat" -v s.zst | grep -v '^total:' >want.txt
size=$(wc -c <s.zst)
awk -v n=$nflips -v size="$size" 'BEGIN { srand(6); for (i = 0; i < n; i++) print int(rand() * size), int(rand() * 8) }' >flips
same=0 caught=0
while read -r pos bit; do
    cp s.zst flip
    b=$(od -An -tu1 -j "$pos" -N1 s.zst | tr -d ' ')
    printf "\\$(printf %03o $((b ^ (1 << bit))))" | dd of=flip bs=1 seek="$pos" conv=notrunc 2>/dev/null
    timeout 120 "$cat" -v flip >got.txt 2>err
    rc=$?
    if [ $rc -eq 0 ]; then
        grep -v '^total:' got.txt | cmp -s - want.txt || bad "bit $bit of byte $pos flipped: exit 0 with other content"
        same=$((same + 1))
    else
        damaged cat -v "bit $bit of byte $pos flipped" flip
        caught=$((caught + 1))
    fi
    [ $fail -eq 0 ] || break
done <flips
echo "bit flips: $caught refused, $same harmless (same content)"
[ $((caught * 10)) -ge $((nflips * 9)) ] || bad "only $caught of $nflips bit flips were noticed"

[ $fail -eq 0 ] || exit 1
echo "damaged streams refused"
