# Every tool's man page lists exactly the long options its --help lists.
# Options are what grep -o '--[a-z][a-z0-9-]*' finds, in the man page after
# roff's '\-' is turned into '-'. A tool without a man page is a failure,
# and so is a --help that does not exit 0.
set -u
fail=0 missing="" n=0
opts() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
for tool in "$BIN"/cdt-*; do
    [ -x "$tool" ] || continue
    name=$(basename "$tool")
    page=$TOP/man/$name.1
    if [ ! -e "$page" ]; then
        missing="$missing $name"
        continue
    fi
    n=$((n + 1))
    "$tool" --help 2>&1 | opts >help.opts
    sed 's/\\-/-/g' "$page" | opts >man.opts
    if ! cmp -s help.opts man.opts; then
        fail=1
        echo "FAIL: $name: --help and man/$name.1 differ in long options"
        comm -23 help.opts man.opts | sed 's/^/  only in --help: /'
        comm -13 help.opts man.opts | sed 's/^/  only in the man page: /'
    fi
    if ! "$tool" --help >/dev/null 2>&1; then
        fail=1
        echo "FAIL: $name --help does not exit 0"
    fi
done
[ $fail -eq 0 ] || exit 1
[ -z "$missing" ] || { echo "FAIL: no man page for:$missing"; exit 1; }
[ $n -gt 0 ] || { echo "FAIL: no tools built in $BIN"; exit 1; }
echo "$n tools agree with their man pages"
