# `make deps <build>` on a machine where the packages arrive only when deps
# runs: nothing that depends on them may be looked up when make reads the
# Makefile. A pkg-config stand-in answers "not installed" until the fake
# deps step has run, then hands over to the real one. The Makefile that
# evaluated pkg-config at parse time linked without -lopenblas -lzstd here
# (and compiled without OpenBLAS's include folder), which this test fails.
set -u
command -v pkg-config >/dev/null || { echo "no pkg-config"; exit 77; }
real=$(command -v pkg-config)
mkdir -p fake
cat >fake/pkg-config <<EOF
#!/bin/sh
[ -e "$TMPDIR/installed" ] || exit 1
exec "$real" "\$@"
EOF
chmod +x fake/pkg-config
# the make that runs the suite (SAN=1 ...) must not reach this one
unset MAKEFLAGS MFLAGS MAKELEVEL
out=$TMPDIR/b
PATH=$TMPDIR/fake:$PATH make -C "$TOP" -j2 OUT="$out" CUDA=0 CFLAGS=-O0 V=1 \
    DEPS="touch $TMPDIR/installed" deps "$out/bin/cdt-score" >make.log 2>&1
rc=$?
[ -e installed ] || { echo "FAIL: the deps step did not run"; exit 1; }
if [ $rc -ne 0 ]; then
    echo "FAIL: make deps + build exited $rc"
    grep -E 'error|undefined' make.log | head -5
    exit 1
fi
grep -q -- '-lopenblas' make.log || { echo "FAIL: the link line has no -lopenblas"; exit 1; }
"$out/bin/cdt-score" --version >/dev/null || { echo "FAIL: the tool built does not run"; exit 1; }
# and demo asks for deps before it builds anything
unset DEPS
make -C "$TOP" --no-print-directory -n OUT="$out" CUDA=0 DEPS="echo DEPS-STEP" demo 2>&1 | head -3 >demo.n
head -1 demo.n | grep -q DEPS-STEP || { echo "FAIL: make demo does not run deps first:"; cat demo.n; exit 1; }
echo ok
