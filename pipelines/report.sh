#!/bin/sh
# report.sh TITLE TRAIN_TIME TRAIN_LOG SCORE_H.json SCORE_F.json OUT.json
# Print the results table (markdown) of one pipeline run and write the same
# numbers as JSON to OUT.json. TRAIN_TIME holds "start end" in seconds;
# TRAIN_LOG is cdt-train's CSV (its last row's images/s is reported).
set -eu
title=$1 timefile=$2 log=$3 sh=$4 sf=$5 json=$6
num() { sed -n "s/^ *\"$1\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$2" | head -n 1; }
wall=$(awk '{printf "%.1f", $2 - $1}' "$timefile")
ips=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "images_per_s") c = i; next }
               c { v = $c } END { printf "%.1f", v + 0 }' "$log")
for o in h f; do
    f=$sh; [ $o = f ] && f=$sf
    eval "nmi_$o=\$(num nmi \"$f\") ari_$o=\$(num ari \"$f\") acc_$o=\$(num acc \"$f\")"
done
echo "## $title"
echo
echo "| output | NMI | ARI | ACC |"
echo "|---|---|---|---|"
printf '| h (backbone) | %.4f | %.4f | %.4f |\n' "$nmi_h" "$ari_h" "$acc_h"
printf '| f (feature heads) | %.4f | %.4f | %.4f |\n' "$nmi_f" "$ari_f" "$acc_f"
echo
echo "training wall time: ${wall} s; training images/s (each image two views): $ips"
cat > "$json" <<JSON
{"title": "$title", "train_wall_s": $wall, "train_images_per_s": $ips,
 "h": {"nmi": $nmi_h, "ari": $ari_h, "acc": $acc_h},
 "f": {"nmi": $nmi_f, "ari": $ari_f, "acc": $acc_f}}
JSON
