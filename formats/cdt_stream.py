#!/usr/bin/env python3
"""Read a cdt tensor stream (format v1, cdt-stream.md) with numpy.

    with open('train.cdt', 'rb') as f:
        for meta, rows, tensors in cdt_stream.read(f): ...   # tensors: name -> array

python3 cdt_stream.py [FILE]  prints a summary. Needs numpy, and zstandard
for compressed streams. bf16 tensors come out as float32.
"""
import math, struct, sys
import numpy as np

DTYPES = {1: '|u1', 2: '|i1', 3: '<i4', 4: '<i8', 5: '<f2', 6: '<u2', 7: '<f4', 8: '<f8'}

def _get(f, n):
    b = bytearray()
    while len(b) < n:
        chunk = f.read(n - len(b))
        if not chunk:
            raise ValueError('truncated stream')
        b += chunk
    return bytes(b)

def _tensor(f, rows):
    name = _get(f, _get(f, 1)[0]).decode()
    dtype, rank = _get(f, 2)
    if not name or '\0' in name or dtype not in DTYPES or rank > 8:
        raise ValueError('bad tensor header %r' % name)
    shape = struct.unpack('<%dQ' % rank, _get(f, 8 * rank))
    nbytes = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if (rows and (rank == 0 or shape[0] != rows)) or nbytes > 1 << 40:
        raise ValueError('tensor %r: bad shape %r' % (name, shape))
    a = np.frombuffer(_get(f, nbytes), DTYPES[dtype]).reshape(shape)
    return name, (a.astype('<u4') << 16).view('<f4') if dtype == 6 else a

def read(f):
    """Yield (meta dict, rows, {name: ndarray}) per frame of binary file f."""
    if f.peek(4)[:4] == b'\x28\xb5\x2f\xfd':
        import zstandard
        f = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
    magic, version, flags, mlen = struct.unpack('<4sHHI', _get(f, 12))
    if magic != b'CDTS' or version != 1 or flags != 0 or mlen > 1 << 20:
        raise ValueError('not a cdt v1 stream')
    lines = _get(f, mlen).decode().split('\n')
    if lines.pop() != '' or any('=' not in l for l in lines):
        raise ValueError('bad meta')
    meta, frames, total = dict(l.split('=', 1) for l in lines), 0, 0
    while (tag := _get(f, 4)) == b'FRAM':
        rows, count = struct.unpack('<QI', _get(f, 12))
        tensors = dict(_tensor(f, rows) for _ in range(count if count <= 4096 else -1))
        if len(tensors) != count:
            raise ValueError('frame %d: %d tensors, or names repeat' % (frames, count))
        frames, total = frames + 1, total + rows
        yield meta, rows, tensors
    if tag != b'CEND' or struct.unpack('<QQ', _get(f, 16)) != (frames, total) or f.read(1):
        raise ValueError('bad end of stream (tag %r)' % tag)

if __name__ == '__main__':
    with open(sys.argv[1], 'rb') if len(sys.argv) > 1 else sys.stdin.buffer as f:
        frames = rows = 0
        for meta, n, tensors in read(f):
            if not frames:
                print('\n'.join('meta %s=%s' % kv for kv in meta.items()))
            print('frame %d rows %d: %s' % (frames, n, ', '.join('%s %s %s' % (k, a.dtype, list(a.shape)) for k, a in tensors.items())))
            frames, rows = frames + 1, rows + n
        print('total: %d frames, %d rows' % (frames, rows))
