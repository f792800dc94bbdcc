"""png_variants.py IN.png OUT_BIG.png OUT_NOISY.png OUT_RESAVED.png: near-
duplicates of an 8-bit RGB PNG for the near-duplicate tests, with the
standard library only: twice the size (every pixel doubled), the pixels
moved by up to +-3 (as a lossy re-save would), and the same pixels
compressed again at another level with a text chunk (other bytes)."""
import struct
import sys
import zlib


def chunks(data):
    at = 8
    while at < len(data):
        n, = struct.unpack(">I", data[at:at + 4])
        yield data[at + 4:at + 8], data[at + 8:at + 8 + n]
        at += 12 + n


def decode(path):
    data = open(path, "rb").read()
    ihdr = idat = b""
    for kind, body in chunks(data):
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat += body
    w, h, depth, ctype = struct.unpack(">IIBB", ihdr[:10])
    assert depth == 8 and ctype == 2, "8-bit RGB only"
    raw, stride, rows, prev = zlib.decompress(idat), 3 * w, [], bytearray(3 * w)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows


def encode(path, w, h, rows, level=6, text=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    if text:
        out += chunk(b"tEXt", text)
    out += chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b"")
    open(path, "wb").write(out)


w, h, rows = decode(sys.argv[1])
big = []
for r in rows:
    line = bytearray()
    for x in range(w):
        line += r[3 * x:3 * x + 3] * 2
    big += [line, bytearray(line)]
encode(sys.argv[2], 2 * w, 2 * h, big)
noisy = [bytearray(min(255, max(0, v + (i * 7 + y * 13) % 7 - 3)) for i, v in enumerate(r))
         for y, r in enumerate(rows)]
encode(sys.argv[3], w, h, noisy)
encode(sys.argv[4], w, h, rows, level=1, text=b"Comment\0saved again")
