# `make install` into a temporary PREFIX: the tools, libcdt.a, the headers, the man pages, LICENSE and the
# docs, and lib/pkgconfig/cdt.pc; then a small C program built against the
# installed tree with nothing but `pkg-config --cflags --libs --static cdt`
# writes a stream, reads it back and names an error with cdt_strerror.
set -u
command -v pkg-config >/dev/null || { echo "no pkg-config"; exit 77; }
command -v make >/dev/null || { echo "no make"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
# Not a sub-make of `make test`: no jobserver from the caller. OUT is the
# build the suite runs on; a SAN build's libcdt.a needs the sanitizers in
# the link, which cdt.pc then carries.
unset MAKEFLAGS MFLAGS MAKELEVEL
san=
nm "$OUT/lib/libcdt.a" 2>/dev/null | grep -q __asan_ && san=SAN=1
root=$TMPDIR/prefix
make -C "$TOP" --no-print-directory OUT="$OUT" $san PREFIX="$root" install >install.log 2>&1 ||
    { tail -n 20 install.log; fail "make install failed"; }
for f in bin/cdt-train bin/cdt-score bin/cdt-import-pth lib/libcdt.a include/cdt.h include/cdt_stream.h \
         share/man/man1/cdt-train.1 share/man/man5/cdt-stream.5 share/man/man7/cdt.7 \
         share/doc/cdt/LICENSE share/doc/cdt/README.md share/doc/cdt/cdt-stream.md lib/pkgconfig/cdt.pc; do
    [ -e "$root/$f" ] || fail "make install did not install $f"
done
[ -e "$root/lib/libcdttools.a" ] && fail "the tools' private helper archive was installed"
# Quiet: one line per step, not the install commands.
grep -q '^ *install -m' install.log && fail "make install echoed its commands: $(head -5 install.log)"
pc=$root/lib/pkgconfig/cdt.pc
grep -qx "prefix=$root" "$pc" || fail "cdt.pc does not name PREFIX: $(cat "$pc")"
grep -q '^Libs:.*-lcdt' "$pc" || fail "no -lcdt in cdt.pc"
grep -q '^Requires.private:.*openblas.*libzstd' "$pc" || fail "no Requires.private in cdt.pc"
grep -q '^Libs.private:.*openmp' "$pc" || fail "no OpenMP in Libs.private"
export PKG_CONFIG_PATH=$root/lib/pkgconfig
flags=$(pkg-config --cflags --libs --static cdt) ||
    fail "pkg-config does not know cdt: $(pkg-config --static --libs cdt 2>&1)"
case $flags in *-lopenblas*) ;; *) fail "--static does not bring OpenBLAS: $flags" ;; esac
cat >use.c <<'EOF'
/* write a stream of 3 rows (cdt-cat reads it back); name an error */
#include <cdt.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 64;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    float v[3] = {1.5f, 2.5f, 3.0f};
    uint64_t dim[2] = {3, 1};
    cdt_tensor t;
    cdt_tensor_set(&t, "h", CDT_F32, v, 2, dim);
    cdt_meta *m = cdt_meta_create();
    cdt_writer *w = NULL;
    int rc = m ? cdt_meta_set(m, "producer", "use") : CDT_ENOMEM;
    if (rc == 0)
        rc = cdt_writer_open_fd(fd, m, NULL, &w);
    if (rc == 0)
        rc = cdt_writer_frame(w, 3, &t, 1);
    if (rc == 0)
        rc = cdt_writer_close(w);
    cdt_writer_destroy(w);
    cdt_meta_destroy(m);
    close(fd);
    if (rc < 0) {
        fprintf(stderr, "write: %s\n", cdt_strerror(rc));
        return 1;
    }
    printf("%s\n", cdt_strerror(CDT_EDATA));
    return 0;
}
EOF
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror use.c -o use $flags 2>cc.log ||
    fail "the program does not build with pkg-config's flags alone ($flags): $(head -5 cc.log)"
./use s.cdts >use.out || fail "the program failed: $(cat use.out)"
[ -s use.out ] || fail "cdt_strerror said nothing"
"$root/bin/cdt-cat" s.cdts >cat.out 2>&1 || fail "the installed cdt-cat does not read what the program wrote: $(cat cat.out)"
grep -q 'h.*f32' cat.out || fail "cdt-cat does not show the tensor h: $(cat cat.out)"
echo ok
