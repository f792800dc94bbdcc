# eval_data.sh: build .npy inputs for the cdt-score and cdt-cluster tests from
# the shell (awk only, no numpy), sourced after tests/cli/npy.sh.

# i32_escapes: whitespace-separated integers on stdin -> printf escapes of
# their little-endian i32 bytes.
i32_escapes() {
    awk '{ for (i = 1; i <= NF; i++) { v = $i + 0; if (v < 0) v += 4294967296
           for (b = 0; b < 4; b++) { printf "\\%03o", v % 256; v = int(v / 256) } } }'
}

# f32_escapes: numbers on stdin -> escapes of their float32 bytes (rounded
# to nearest; subnormals flush to zero, which test data never needs; the
# word nan gives a quiet NaN).
f32_escapes() {
    awk 'function bits(x,   s, e, m) {
             if (x == 0) return 0
             s = 0; if (x < 0) { s = 2147483648; x = -x }
             e = 0
             while (x >= 2) { x /= 2; e++ }
             while (x < 1) { x *= 2; e-- }
             m = int((x - 1) * 8388608 + 0.5)
             if (m == 8388608) { m = 0; e++ }
             return s + (e + 127) * 8388608 + m
         }
         { for (i = 1; i <= NF; i++) { v = $i == "nan" ? 2143289344 : bits($i + 0)
             for (b = 0; b < 4; b++) { printf "\\%03o", v % 256; v = int(v / 256) } } }'
}

# npy_i32 "V V V ..." FILE: a rank-1 <i4 .npy
npy_i32() {
    set -- "$1" "$2" "$(echo "$1" | wc -w)"
    { npy_header '<i4' "$3,"; printf "$(echo "$1" | i32_escapes)"; } >"$2"
}

# npy_f32 ROWS COLS FILE: a <f4 [ROWS,COLS] .npy of the numbers on stdin
npy_f32() {
    esc=$(f32_escapes)
    { npy_header '<f4' "$1, $2"; printf "$esc"; } >"$3"
}

# npy_i64_count N FILE: a rank-1 <i8 .npy holding 0..N-1
npy_i64_count() {
    esc=$(awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) { v = i
          for (b = 0; b < 8; b++) { printf "\\%03o", v % 256; v = int(v / 256) } } }')
    { npy_header '<i8' "$1,"; printf "$esc"; } >"$2"
}

# blobs N D K SEP SEED PREFIX: N rows of D floats in K blobs (row i in blob
# i % K, centre SEP on coordinate i % K mod D plus SEP/2 * blob on the last
# one), noise a sum of 4 uniforms (sd about 0.58) per coordinate.
# Writes PREFIX.h.npy (f32 [N,D]), PREFIX.y.npy (i32 [N]), PREFIX.id.npy.
blobs() {
    awk -v n="$1" -v d="$2" -v k="$3" -v sep="$4" -v seed="$5" 'BEGIN { srand(seed)
        for (i = 0; i < n; i++) { c = i % k
            for (j = 0; j < d; j++) {
                v = (j == c % d ? sep : 0) + (j == d - 1 ? sep / 2 * c : 0)
                printf "%.6f ", v + rand() + rand() + rand() + rand() - 2 }
            printf "\n" } }' | npy_f32 "$1" "$2" "$6.h.npy"
    npy_i32 "$(awk -v n="$1" -v k="$3" 'BEGIN { for (i = 0; i < n; i++) printf "%d ", i % k }')" "$6.y.npy"
    npy_i64_count "$1" "$6.id.npy"
}
