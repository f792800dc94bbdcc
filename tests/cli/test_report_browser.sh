# cdt-report in a real browser: headless Chromium (Debian's chromium, a
# `scripts/deps.sh --optional` package) renders a report of 3000 rows to a
# PNG that is not blank, and its DOM (--dump-dom) holds every section and
# only <img>s whose src is a PNG data: URI that decodes. Skipped without
# chromium.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
. "$TOP/tests/cli/report_data.sh"
fail() { echo "FAIL: $*"; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "no chromium (scripts/deps.sh --optional installs it)"; exit 77; }
report_run 3000
"$BIN/cdt-report" --clusters cl.cdt --embed emb.cdt --map map.cdt --images img.cdt --log train.csv \
    -o report.html
# --no-sandbox: the sandbox needs user namespaces, which containers and
# root runs lack; the page is our own and makes no request.
run() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$TMPDIR/chromium" --window-size=1200,2400 "$@" "file://$PWD/report.html" 2>browser.err
}
run --screenshot="$PWD/shot.png" >/dev/null || fail "chromium --screenshot failed: $(tail -n 3 browser.err)"
[ -s shot.png ] || fail "no screenshot"
PNG_SIZE=400 png_ok shot.png || fail "the screenshot does not decode"
"$BIN/cdt-cat" -v pngs.cdt >stats
awk '/^stats x u8/ { for (i = 1; i <= NF; i++) { if ($i == "min") mn = $(i + 1) + 0
        if ($i == "mean") me = $(i + 1) + 0; if ($i == "distinct") d = $(i + 1) + 0 } }
     END { exit !(mn < 60 && me < 254 && d > 30) }' stats || fail "the screenshot looks blank: $(grep '^stats x' stats)"
run --dump-dom >dom.html || fail "chromium --dump-dom failed: $(tail -n 3 browser.err)"
for s in summary training k metrics map galleries heads; do
    grep -q "<section id=\"$s\">" dom.html || fail "no section $s in the DOM"
done
n=$(grep -o '<img ' dom.html | wc -l)
[ "$n" -gt 20 ] && [ "$n" = "$(grep -o '<img ' report.html | wc -l)" ] || fail "$n <img> in the DOM"
[ "$(grep -o '<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]*"' dom.html | wc -l)" = "$n" ] ||
    fail "an <img> without a PNG data: URI"
i=0
for u in $(grep -o 'src="data:image/png;base64,[^"]*"' dom.html | sed 's/^src="data:image\/png;base64,//; s/"$//'); do
    i=$((i + 1))
    printf '%s' "$u" | base64 -d >"p$i.png" || fail "picture $i is not base64"
done
png_ok p*.png || fail "a picture in the DOM does not decode"
echo "ok: $n pictures, $(stat -c %s report.html) bytes"
