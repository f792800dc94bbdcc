#!/bin/sh
# report.sh TITLE TRAIN_TIME EMBED_TIME TRAIN_LOG SCORE_H.json SCORE_F.json OUT.json [BASELINE.json]
# Print the results table (markdown) of one pipeline run and write the same
# numbers as JSON to OUT.json. The TIME files are the pipeline's
# clock (common.mk); TRAIN_LOG is cdt-train's CSV (its mean images/s is reported);
# BASELINE.json, when given, is cdt-score's JSON of k-means on raw pixels.
set -eu
title=$1 ttime=$2 etime=$3 log=$4 sh=$5 sf=$6 json=$7 base=${8:-}
num() { sed -n "s/^ *\"$1\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$2" | head -n 1; }
# A TIME file: "START END" (seconds), then the lines of bash's `times`.
wall() { awk 'NR == 1 { printf "%.1f", $2 - $1 }' "$1"; }
cpu() { awk 'NR == 3 { gsub(/[ms]/, " "); printf "%.1f", $1 * 60 + $2 + $3 * 60 + $4 }' "$1"; }
twall=$(wall "$ttime") tcpu=$(cpu "$ttime")
ewall=$(wall "$etime") ecpu=$(cpu "$etime")
# images/s of the whole run: rows trained (steps x batch) over the wall time.
read steps ips <<EOF2
$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "images_per_s") c = i; next }
           c { s = $1; t += $c; n++ } END { printf "%d %.1f", s, n ? t / n : 0 }' "$log")
EOF2
for o in h f; do
    f=$sh; [ $o = f ] && f=$sf
    eval "nmi_$o=\$(num nmi \"$f\") ari_$o=\$(num ari \"$f\") acc_$o=\$(num acc \"$f\") rows_$o=\$(num rows \"$f\")"
done
echo "## $title"
echo
echo "| output | NMI | ARI | ACC |"
echo "|---|---|---|---|"
printf '| h (backbone) | %.4f | %.4f | %.4f |\n' "$nmi_h" "$ari_h" "$acc_h"
printf '| f (feature heads) | %.4f | %.4f | %.4f |\n' "$nmi_f" "$ari_f" "$acc_f"
bjson=
if [ -n "$base" ]; then
    nmi_b=$(num nmi "$base") ari_b=$(num ari "$base") acc_b=$(num acc "$base")
    printf '| raw pixels, k-means (baseline) | %.4f | %.4f | %.4f |\n' "$nmi_b" "$ari_b" "$acc_b"
    bjson=", \"pixels\": {\"nmi\": $nmi_b, \"ari\": $ari_b, \"acc\": $acc_b}"
fi
echo
echo "scored rows: $rows_h; training: $steps steps, wall ${twall} s, CPU ${tcpu} s, mean $ips images/s (each image two views); embedding: wall ${ewall} s, CPU ${ecpu} s"
cat > "$json" <<JSON
{"title": "$title", "rows": $rows_h, "train_steps": $steps, "train_wall_s": $twall, "train_cpu_s": $tcpu,
 "train_images_per_s": $ips, "embed_wall_s": $ewall, "embed_cpu_s": $ecpu,
 "h": {"nmi": $nmi_h, "ari": $ari_h, "acc": $acc_h},
 "f": {"nmi": $nmi_f, "ari": $ari_f, "acc": $acc_f}$bjson}
JSON
