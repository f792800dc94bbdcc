# --help and --version of every tool in BIN when stdout cannot be written:
# a full device (/dev/full) or a closed stdout is exit 74 with exactly one
# 'TOOL: ' line on stderr, like every other output path; to a file, both
# print and exit 0, and every tool names the same version, the C tools'
# and the Python one's alike.
set -u
fail=0 n=0
bad() { echo "FAIL: $*"; fail=1; }
for tool in "$BIN"/cdt-*; do
    [ -x "$tool" ] || continue
    name=$(basename "$tool")
    n=$((n + 1))
    for opt in --help --version; do
        "$tool" $opt >out 2>err
        rc=$?
        [ $rc -eq 0 ] && [ -s out ] && [ ! -s err ] || bad "$name $opt to a file: exit $rc, $(wc -c <out) bytes, stderr '$(head -c 200 err)'"
        [ $opt = --version ] && head -n 1 out | sed "s/^$name //" >>versions
        for to in /dev/full closed; do
            if [ $to = closed ]; then "$tool" $opt >&- 2>err; else "$tool" $opt >$to 2>err; fi
            rc=$?
            if [ $rc -ne 74 ]; then
                bad "$name $opt to $to: exit $rc, expected 74: $(head -c 200 err)"
            elif [ "$(wc -l <err)" -ne 1 ] || ! grep -q "^$name: ." err; then
                bad "$name $opt to $to: stderr is not one '$name: ' line: $(head -c 300 err)"
            fi
        done
    done
done
[ $n -gt 0 ] || { echo "FAIL: no tools built in $BIN"; exit 1; }
[ "$(sort -u versions | wc -l)" -eq 1 ] || bad "the tools name different versions: $(sort -u versions | tr '\n' ' ')"
[ $fail -eq 0 ] || exit 1
echo "$n tools: --help and --version exit 74 with one line on a full or closed stdout"
