# Inputs the fuzzers found, each once a crash, a two-line message or a huge
# allocation: every one must now be one line on stderr and exit 65.
set -u
fail=0
one_line() { # WHAT EXPECTED-STATUS COMMAND...
    what=$1 want=$2; shift 2
    "$@" >out 2>err
    rc=$?
    lines=$(wc -l <err)
    if [ "$rc" -ne "$want" ] || [ "$lines" -ne 1 ]; then
        echo "FAIL: $what: exit $rc (want $want), $lines stderr lines:"; cat err; fail=1
    fi
}
hex() { printf '%s' "$1" | xxd -r -p; }
sanitized=0
case $OUT in *san*) sanitized=1 ;; esac

# A tensor name holding a newline used to be quoted into a two-line message.
hex 434454530100000000000000 >nl.cdt
hex 4652414d0100000000000000010000000361 >>nl.cdt
printf '\n' >>nl.cdt
hex 6209010100000000000000 >>nl.cdt
hex 78 >>nl.cdt
one_line "newline in a tensor name" 65 "$BIN/cdt-cat" -c nl.cdt

# A .npy header claiming 32 GiB in a 131-byte file used to allocate the
# claim before reading (out of memory, exit 70).
npy() { # DICT -> a .npy v1 file with the header padded to 64 bytes
    d=$1 n=$((${#1} + 11)); pad=$(( (64 - n % 64) % 64 ))
    printf '\223NUMPY\001\000' >"$2"
    printf "\\$(printf %o $(( (${#1} + pad + 1) % 256 )))\\$(printf %o $(( (${#1} + pad + 1) / 256 )))" >>"$2"
    printf '%s%*s\n' "$d" "$pad" "" >>"$2"
}
npy "{'descr': '|u1', 'fortran_order': False, 'shape': (34359738368,), }" big.npy
printf 'abc' >>big.npy
if [ $sanitized -eq 0 ]; then
    ( ulimit -v 1000000; one_line "32 GiB .npy claim" 65 "$BIN/cdt-cat" --from-npy x=big.npy -o o.cdt
      exit $fail ) || fail=1
else
    one_line "32 GiB .npy claim" 65 "$BIN/cdt-cat" --from-npy x=big.npy -o o.cdt
fi
[ ! -e o.cdt ] || { echo "FAIL: output left behind"; fail=1; }

# A dtype holding a newline used to be quoted into a two-line message.
npy "{'descr': '<f8
', 'fortran_order': False, 'shape': (1,), }" nl.npy
one_line "newline in a .npy dtype" 65 "$BIN/cdt-cat" --from-npy x=nl.npy -o o.cdt

# A gzip trailer claiming 4 GiB used to size the first allocation: valid
# images, and a 29-byte labels file whose trailer lies.
mkdir fm
for s in train t10k; do
    { hex 0000080300000001000000020000000200; hex 010203; } | gzip -c >fm/$s-images-idx3-ubyte.gz
    hex 1f8b08000000000000036360e060646060606404 >fm/$s-labels-idx1-ubyte.gz
    hex 00bb88a670ffffffff >>fm/$s-labels-idx1-ubyte.gz
done
if [ $sanitized -eq 0 ]; then
    ( ulimit -v 1000000; one_line "gzip size trailer of 4 GiB" 65 "$BIN/cdt-ingest" fashion-mnist fm -o o.cdt
      exit $fail ) || fail=1
else
    one_line "gzip size trailer of 4 GiB" 65 "$BIN/cdt-ingest" fashion-mnist fm -o o.cdt
fi
exit $fail
