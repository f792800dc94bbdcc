# npy.sh: make .npy files from the shell, sourced by the cdt-cat tests, so
# they need no numpy. The layout is numpy's own (>= 1.23), which
# tests/unit/test_npy.c pins against bytes numpy wrote:
#   "\x93NUMPY" 1 0, u16 header length, the dict, spaces so that a first
#   dimension of up to 21 digits would fit, spaces to a multiple of 64, '\n'.

# npy_header DESCR "D0, D1" (numpy's tuple text: "5," for rank 1, "" for rank 0)
npy_header() {
    dict="{'descr': '$1', 'fortran_order': False, 'shape': ($2), }"
    d0=${2%%,*}
    growth=0
    [ -n "$2" ] && growth=$((21 - ${#d0}))
    len=$((10 + ${#dict} + growth + 1))
    pad=$((64 - len % 64))
    hl=$((${#dict} + growth + pad + 1))
    printf '\223NUMPY\001\000'
    printf "\\$(printf %03o $((hl % 256)))\\$(printf %03o $((hl / 256)))"
    printf "%-$((hl - 1))s\n" "$dict"
}

# mknpy DESCR "SHAPE" FILE: header plus prod(shape) * itemsize bytes of
# /dev/urandom (any bit pattern will do for byte-exact round trips).
mknpy() {
    n=$(echo "$2" | tr ',' ' ' | awk '{p = 1; for (i = 1; i <= NF; i++) p *= $i; print p}')
    case $1 in *1) size=1 ;; *2) size=2 ;; *4) size=4 ;; *8) size=8 ;; esac
    { npy_header "$1" "$2"; head -c $((n * size)) /dev/urandom; } >"$3"
}
