# cdt-cat --grid: a valid PNG of the right size and colour type; where a
# python3 is at hand, its pixels are decoded (zlib only) and compared with
# the images that went in.
set -eu
. "$TOP/tests/cli/npy.sh"
cat=$BIN/cdt-cat
fail() { echo "FAIL: $*"; exit 1; }

# be32 FILE OFFSET: a big-endian u32 from a file.
be32() { od -An -tu1 -j "$2" -N4 "$1" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}'; }
u8at() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }

# check_png FILE WIDTH HEIGHT COLOUR_TYPE
check_png() {
    [ "$(od -An -tx1 -N8 "$1" | tr -d ' ')" = 89504e470d0a1a0a ] || fail "$1: no PNG signature"
    [ "$(dd if="$1" bs=1 skip=12 count=4 2>/dev/null)" = IHDR ] || fail "$1: IHDR not first"
    [ "$(be32 "$1" 16)" -eq "$2" ] || fail "$1: width $(be32 "$1" 16), expected $2"
    [ "$(be32 "$1" 20)" -eq "$3" ] || fail "$1: height $(be32 "$1" 20), expected $3"
    [ "$(u8at "$1" 24)" -eq 8 ] || fail "$1: bit depth"
    [ "$(u8at "$1" 25)" -eq "$4" ] || fail "$1: colour type $(u8at "$1" 25), expected $4"
    [ "$(tail -c 8 "$1" | head -c 4)" = IEND ] || fail "$1: does not end in IEND"
}

# 20 gray 28x28 images in frames of 8: 5 columns, 4 rows, 2-pixel gaps:
# 5*28 + 6*2 = 152 by 4*28 + 5*2 = 122.
mknpy '|u1' '30, 1, 28, 28' x.npy
"$cat" --from-npy x=x.npy --rows 8 -o gray.cdt
"$cat" --grid gray.png --grid-n 20 gray.cdt
check_png gray.png 152 122 0
# Fewer images than asked for: all 30, 6 columns and 5 rows.
"$cat" --grid all.png gray.cdt
check_png all.png $((6 * 28 + 7 * 2)) $((5 * 28 + 6 * 2)) 0

# 6 RGB images with 2 views each: about-square means 2 columns of 2 views.
mknpy '|u1' '6, 2, 3, 8, 8' v.npy
"$cat" --from-npy x=v.npy -o views.cdt
"$cat" --grid views.png views.cdt
check_png views.png $((2 * 16 + 3 * 2)) $((3 * 8 + 4 * 2)) 2

# Refusals: 2 channels, a non-u8 x, no x at all.
mknpy '|u1' '3, 2, 4, 4' c2.npy
mknpy '<f4' '3, 1, 4, 4' xf.npy
"$cat" --from-npy x=c2.npy -o c2.cdt
"$cat" --from-npy x=xf.npy -o xf.cdt
"$cat" --from-npy y=xf.npy -o nox.cdt
for s in c2 xf nox; do
    set +e
    "$cat" --grid bad.png $s.cdt 2>err; rc=$?
    set -e
    [ $rc -eq 65 ] && [ "$(wc -l <err)" -eq 1 ] || fail "--grid on $s: exit $rc ($(cat err))"
    [ ! -e bad.png ] || fail "--grid on $s left a file"
done

py=/usr/bin/python3
[ -x $py ] || { echo "no $py: pixel contents not checked"; exit 0; }
$py - gray.png x.npy 1 1 views.png v.npy 3 2 <<'EOF' || fail "pixels differ"
import struct, sys, zlib

def png_pixels(path):
    data = open(path, 'rb').read()
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, _, ctype = struct.unpack('>IIBB', body[:10])
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    bpp = 1 if ctype == 0 else 3
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pred = [0, a, b, (a + b) // 2,
                    a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c][f]
            line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    return w, rows, bpp

def npy_bytes(path):
    d = open(path, 'rb').read()
    return d[10 + struct.unpack('<H', d[8:10])[0]:]

args = sys.argv[1:]
for k in range(0, len(args), 4):
    w, rows, C = png_pixels(args[k])
    x, C2, V = npy_bytes(args[k + 1]), int(args[k + 2]), int(args[k + 3])
    assert C == C2
    H = W = 28 if C == 1 else 8
    n = 20 if C == 1 else 6
    cols = 5 if C == 1 else 2
    for i in range(n):
        for v in range(V):
            for y in range(H):
                for xx in range(W):
                    for c in range(C):
                        px = 2 + (i % cols) * (V * W + 2) + v * W + xx
                        py = 2 + (i // cols) * (H + 2) + y
                        want = x[(((i * V + v) * C + c) * H + y) * W + xx]
                        got = rows[py][px * C + c]
                        if got != want:
                            sys.exit('%s: image %d view %d (%d,%d,%d): %d != %d' % (args[k], i, v, c, y, xx, got, want))
    assert rows[0][0] == 128  # the gap is mid gray
EOF
echo "grid ok"
