# cmp_f32.sh: sourced by the scripts that compare model files within a
# tolerance. build_cmp_f32 OUT TOP builds ./cmp_f32 (tests/cuda/cmp_f32.c)
# against OUT/lib/libcdt.a, instrumented as that library is when OUT is a
# sanitizer build (build-san).
build_cmp_f32() {
    san=
    [ "$(basename "$1")" = build-san ] && san=-fsanitize=address,undefined
    cc -std=c11 -O1 -D_DEFAULT_SOURCE $san -I"$2/libcdt/include" "$2/tests/cuda/cmp_f32.c" \
        "$1/lib/libcdt.a" $(pkg-config --libs openblas libzstd libpng) -ljpeg -lz -lm -fopenmp -o cmp_f32
}
