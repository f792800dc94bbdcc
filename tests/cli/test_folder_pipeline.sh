# A folder of images with awkward names (spaces, commas, quotes, UTF-8)
# through cdt-ingest folder | cdt-augment and | cdt-embed | cdt-cluster |
# cdt-cat --csv: the path column survives every tool, every file is in the
# CSV exactly once with its name intact; --link-into makes a folder per
# cluster, most central first, and a sheet named with the cluster's size;
# a stream without path still works.
set -eu
. "$TOP/tests/cli/npy.sh"
B=$BIN
fail() { echo "FAIL: $*"; exit 1; }

# Images: random 8x8 RGB pictures drawn by cdt-cat --grid (a 12x12 PNG
# with the grid's border), copied under awkward names, in sub-folders
# and not.
mkdir -p ph/'sub dir' ph/deep/er
names='a b.png|c,d.png|q"uote.png|é ü ñ.png|plain.png|semi;colon.png|x'"'"'y.png'
i=0
for sub in . 'sub dir' deep/er; do
    IFS='|'
    for nm in $names; do
        unset IFS
        mknpy '|u1' "1, 3, 8, 8" img.npy
        "$B/cdt-cat" --from-npy x=img.npy -o img.cdt
        "$B/cdt-cat" --grid "ph/$sub/$i $nm" --grid-n 1 img.cdt
        i=$((i + 1))
        IFS='|'
    done
    unset IFS
done
[ "$(find ph -type f | wc -l)" = 21 ] || fail "fixture: $(find ph -type f)"

# A tiny model, trained on the folder itself.
"$B/cdt-ingest" folder ph --size 8 --epochs 2 --shuffle -q |
    "$B/cdt-augment" --seed 1 | "$B/cdt-train" --width 4 --batch 8 -o m.cdt 2>train.err ||
    fail "training: $(cat train.err)"

# path through augment, embed, cluster and cat --head.
"$B/cdt-ingest" folder ph --size 8 -q -o in.cdt
"$B/cdt-augment" in.cdt -o aug.cdt
"$B/cdt-cat" --head 1 aug.cdt | grep -q "^frame 0 rows 21: x u8 \[21,2,3,8,8\], .*path u8 \[21," ||
    fail "augment lost path: $("$B/cdt-cat" aug.cdt)"
"$B/cdt-cat" --to-npy path in.cdt >p1.npy
"$B/cdt-cat" --to-npy path aug.cdt | cmp -s p1.npy - || fail "augment changed path"
"$B/cdt-embed" -m m.cdt in.cdt -o emb.cdt
"$B/cdt-cat" --to-npy path emb.cdt | cmp -s p1.npy - || fail "embed changed path"
"$B/cdt-cluster" -k 3 --seed 2 emb.cdt -o cl.cdt
"$B/cdt-cat" --to-npy path cl.cdt | cmp -s p1.npy - || fail "cluster changed path"
"$B/cdt-cat" --to-npy f cl.cdt >/dev/null || fail "cluster dropped f (not what it clusters)"
"$B/cdt-cat" cl.cdt | grep -q "^meta cluster.sizes=[0-9]*,[0-9]*,[0-9]*$" || fail "no cluster.sizes"

# The CSV: header, then one line per file; the path field quoted as RFC
# 4180 says (only when it holds a comma, a quote or a line break).
"$B/cdt-cat" --csv cl.cdt >all.csv
head -n 1 all.csv | grep -q '^path,c,dist,rank,' || fail "header: $(head -n 1 all.csv)"
[ "$(wc -l <all.csv)" = 22 ] || fail "not 21 rows: $(cat all.csv)"
"$B/cdt-cat" --csv --columns path cl.cdt | tail -n +2 | sort >got.txt
find ph -type f | sed 's/"/""/g; /[,"]/s/.*/"&"/' | sort >want.txt
cmp -s got.txt want.txt || fail "paths in the CSV differ: $(diff got.txt want.txt)"
"$B/cdt-cat" --csv --columns rank,c cl.cdt | head -n 1 | grep -qx 'rank,c' || fail "--columns order"
"$B/cdt-cat" --csv --columns nope cl.cdt >nope.csv 2>err.txt && fail "an unknown column passed"
[ ! -s nope.csv ] || fail "a header before the error: $(cat nope.csv)"
grep -q "no tensor 'nope'" err.txt || fail "unknown column message: $(cat err.txt)"
"$B/cdt-cat" --csv --head 1 cl.cdt | grep -q 'q""uote.png"' || fail "--csv --head lost a quoted path"
# rank: 0 is the nearest in each cluster, dist grows with rank.
"$B/cdt-cat" --csv --columns c,rank,dist cl.cdt | tail -n +2 | sort -t, -k1,1n -k2,2n |
    awk -F, '$1 != c { c = $1; if ($2 != 0) bad = 1; d = -1 } { if ($3 + 0 < d) bad = 1; d = $3 + 0 }
             END { exit bad }' || fail "rank is not the order of dist within clusters"

# A folder per cluster: links to the files, most central first; a sheet
# per cluster named with its size; sizes add up to every file.
"$B/cdt-cat" --link-into out --sheet-n 4 cl.cdt
total=0
for d in out/cluster-0[0-2]; do
    n=$(ls "$d" | wc -l)
    [ -s "$d-n$n.png" ] || fail "no sheet $d-n$n.png: $(ls out)"
    total=$((total + n))
    first=$(ls "$d" | head -n 1)
    case $first in 0000_*) ;; *) fail "first entry of $d is $first" ;; esac
    [ -L "$d/$first" ] || fail "$d/$first is not a link"
    c=${d#out/cluster-0}
    want=$("$B/cdt-cat" --csv --columns c,rank,path cl.cdt | awk -F, -v c="$c" '$1 == c && $2 == 0')
    tgt=$(readlink "$d/$first")
    num=${tgt##*/} num=${num%% *} # the files are numbered: "9 q"uote.png"
    case $want in *"/$num "*) ;; *) fail "$d/$first -> $tgt is not the rank-0 row $want" ;; esac
    cmp -s "$d/$first" "$(dirname "$tgt")/${tgt##*/}" || fail "link does not reach its file"
done
[ $total = 21 ] || fail "the cluster folders hold $total files, not 21"
[ -z "$(ls out | grep -v '^cluster-0[0-2]\(-n[0-9]*\.png\)\{0,1\}$')" ] || fail "stray files: $(ls out)"
"$B/cdt-cat" --link-into out cl.cdt 2>err.txt && fail "a full folder was reused"
grep -q "not empty" err.txt || fail "message: $(cat err.txt)"
"$B/cdt-cat" --link-into copies --copy --sheet-n 0 cl.cdt
[ "$(find copies -type f | wc -l)" = 21 ] && [ -z "$(find copies -type l)" ] &&
    [ -z "$(ls copies | grep png)" ] || fail "--copy: $(ls -R copies)"
"$B/cdt-cat" --link-into nopath emb.cdt 2>err.txt && fail "--link-into without c passed"
grep -q "needs c i32" err.txt || fail "message: $(cat err.txt)"

# Without a path column everything still works.
"$B/cdt-cat" --from-npy x=img.npy -o one.cdt
mknpy '|u1' "6, 3, 8, 8" six.npy
"$B/cdt-cat" --from-npy x=six.npy -o six.cdt
"$B/cdt-augment" six.cdt | "$B/cdt-cat" --check >/dev/null || fail "augment without path"
"$B/cdt-embed" -m m.cdt six.cdt | "$B/cdt-cluster" -k 2 | "$B/cdt-cat" --csv >np.csv
head -n 1 np.csv | grep -qx 'c,dist,rank' || fail "csv without path: $(cat np.csv)"
[ "$(wc -l <np.csv)" = 7 ] || fail "csv without path rows"
echo "folder pipeline ok"
