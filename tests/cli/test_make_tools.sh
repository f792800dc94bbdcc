# Each tool links only the tools/ helpers it uses (they come from an
# archive, build/lib/libcdttools.a): cdt-score has none of the whole-stream
# table (rowset.c) or the feature-head sheet (heads.c), cdt-map has the
# table, cdt-heads the sheet; and every tool has cli_stdout.c, which
# nothing calls (its constructor checks stdout at exit).
set -u
command -v nm >/dev/null || { echo "no nm"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[ -e "$OUT/lib/libcdttools.a" ] || fail "no helper archive $OUT/lib/libcdttools.a"
has() { nm "$BIN/$1" 2>/dev/null | grep -q " [Tt] $2\$"; }
has cdt-score rowset_read && fail "cdt-score links rowset.c"
has cdt-score heads_compute && fail "cdt-score links heads.c"
has cdt-train table_csv && fail "cdt-train links table.c"
has cdt-map rowset_read || fail "cdt-map lacks rowset.c"
has cdt-heads heads_compute || fail "cdt-heads lacks heads.c"
has cdt-cat table_csv || fail "cdt-cat lacks table.c"
for t in "$BIN"/cdt-*; do
    case $t in *.py|*-import-pth) continue ;; esac
    has "$(basename "$t")" check_stdout || fail "$(basename "$t") lacks cli_stdout.c's check"
done
echo ok
