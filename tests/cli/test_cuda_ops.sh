# The CUDA twins (libcdt_cuda.so) against the CPU layers. Needs a GPU:
# elsewhere the test binary exits 77 and says so; where the CUDA build is
# off (no nvcc, CUDA=0, SAN/FUZZ builds) there is nothing to run.
t=${OUT:-$TOP/build}/cuda/test_cuda_ops
if [ ! -x "$t" ]; then
    echo "CUDA tests not built (no nvcc, or CUDA=0)"
    exit 77
fi
exec "$t"
