"""Write images x (N,C,H,W) u8 .npy with labels y (N,) .npy as PNG files
OUT/NNNNN_cK.png (grey for C=1, RGB for C=3), using only numpy and zlib.
    npy_to_png.py X.npy Y.npy OUT"""
import struct, sys, zlib
import numpy as np

def png(path, img):
    c, h, w = img.shape
    rows = img.transpose(1, 2, 0).reshape(h, w * c)
    raw = b''.join(b'\x00' + r.tobytes() for r in rows)
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw, 6))
                + chunk(b'IEND', b''))

x, y, out = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
for i in range(len(x)):
    png('%s/%05d_c%d.png' % (out, i, y[i]), x[i])
