# `make`, `make test` and `make install` on a machine without the -dev
# packages: one line naming the missing Debian packages and how to get
# them, a non-zero exit, and no compiler run. A pkg-config stand-in answers
# "not installed" for OpenBLAS and zstd (and hands the rest to the real
# one); a compiler stand-in records every call. Then a machine without a
# compiler or pkg-config at all, and `make deps all`, where the packages
# arrive with the deps step and the check must come after it.
set -u
command -v pkg-config >/dev/null || { echo "no pkg-config"; exit 77; }
real=$(command -v pkg-config)
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p fake
cat >fake/pkg-config <<EOF
#!/bin/sh
if [ ! -e "$TMPDIR/installed" ]; then
    for a in "\$@"; do case \$a in openblas|libzstd) exit 1 ;; esac; done
fi
exec "$real" "\$@"
EOF
cat >fake/cc <<EOF
#!/bin/sh
echo "\$*" >>"$TMPDIR/cc.calls"
exit 1
EOF
chmod +x fake/pkg-config fake/cc
unset MAKEFLAGS MFLAGS MAKELEVEL
out=$TMPDIR/b
want="cdt: missing libopenblas-dev libzstd-dev (run 'make deps' as root, or: sudo apt-get install libopenblas-dev libzstd-dev)"
for goal in all test install; do
    make -C "$TOP" --no-print-directory -j2 OUT="$out" CUDA=0 MPI=0 CC="$TMPDIR/fake/cc" \
        PKG_CONFIG="$TMPDIR/fake/pkg-config" PREFIX="$TMPDIR/prefix" $goal >out.txt 2>err.txt
    rc=$?
    [ $rc -ne 0 ] || fail "make $goal without the packages exited 0"
    grep -qx -- "$want" err.txt || fail "make $goal did not say what is missing: $(cat err.txt)"
    [ "$(grep -v '^make: \*\*\* ' err.txt | wc -l)" = 1 ] || fail "make $goal: not one line: $(cat err.txt)"
    [ -e cc.calls ] && fail "make $goal ran the compiler: $(cat cc.calls)"
    [ -e "$out/obj" ] || [ -e "$out/lib" ] || [ -e "$TMPDIR/prefix" ] && fail "make $goal left build output"
    grep -q '  CC \|  LD \|  AR ' out.txt && fail "make $goal started a build step: $(cat out.txt)"
done
# No compiler, no pkg-config: both named, in the same one line.
make -C "$TOP" --no-print-directory OUT="$out" CUDA=0 MPI=0 CC="$TMPDIR/none/cc" \
    PKG_CONFIG="$TMPDIR/none/pkg-config" all >out.txt 2>err.txt && fail "make without a compiler exited 0"
grep -q "^cdt: missing build-essential pkg-config.*make deps" err.txt || fail "no compiler, no pkg-config: $(cat err.txt)"
# (make itself adds its `make: *** [need] Error 1` under it)
[ "$(grep -v '^make: \*\*\* ' err.txt | wc -l)" = 1 ] || fail "more than one line: $(cat err.txt)"
# `make deps all`: the check runs after deps has installed the packages,
# so the build goes on (and reaches the compiler stand-in).
make -C "$TOP" --no-print-directory -j2 OUT="$out" CUDA=0 MPI=0 CC="$TMPDIR/fake/cc" \
    PKG_CONFIG="$TMPDIR/fake/pkg-config" DEPS="touch $TMPDIR/installed" deps all >out.txt 2>err.txt
[ -e installed ] || fail "make deps all did not run deps"
grep -q '^cdt: missing' err.txt && fail "the check ran before deps: $(cat err.txt)"
[ -e cc.calls ] || fail "make deps all did not reach the compiler"
echo ok
