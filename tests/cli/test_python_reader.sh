# formats/cdt_stream.py reads what the tools write, zstd and raw, and gets
# the same values, byte for byte, as the .npy route (numpy's np.save in,
# cdt-cat --to-npy out); cdt-cat --to-npy writes the very bytes np.save
# writes; the byte example in formats/cdt-stream.md is a valid stream.
set -eu
py=/usr/bin/python3
cat=$BIN/cdt-cat
fail() { echo "FAIL: $*"; exit 1; }
if ! [ -x $py ] || ! $py -c 'import numpy, zstandard' 2>/dev/null; then
    echo "$py lacks numpy or zstandard"
    exit 77
fi
export PYTHONPATH=$TOP/formats

# Arrays of every dtype numpy shares with the format, 300 rows each.
$py - <<'EOF'
import numpy as np
rng = np.random.default_rng(1)
arrays = {
    'u8': rng.integers(0, 256, (300, 1, 5, 4), dtype=np.uint8),
    'i8': rng.integers(-128, 128, (300, 3), dtype=np.int8),
    'i32': rng.integers(-2**31, 2**31, (300,), dtype=np.int32),
    'i64': rng.integers(-2**63, 2**63, (300, 2), dtype=np.int64),
    'f16': rng.standard_normal((300, 2, 2)).astype(np.float16),
    'f32': rng.standard_normal((300, 7)).astype(np.float32),
    'f64': np.concatenate([[np.nan, -np.inf, -0.0], rng.standard_normal(297)]).reshape(300, 1),
}
for k, a in arrays.items():
    np.save(k + '.npy', a)
np.save('scalar.npy', np.float32(2.5))
EOF
pairs="u8=u8.npy i8=i8.npy i32=i32.npy i64=i64.npy f16=f16.npy f32=f32.npy f64=f64.npy"
"$cat" --from-npy $pairs --rows 64 --meta dataset=toy -o z.cdt
"$cat" --from-npy $pairs --rows 64 --raw -o raw.cdt
"$cat" --from-npy f32=f32.npy s=scalar.npy --free -o free.cdt
for n in u8 i8 i32 i64 f16 f32 f64; do
    "$cat" --to-npy $n z.cdt | cmp $n.npy - || fail "--to-npy $n differs from np.save's file"
done

$py - <<'EOF'
import sys, numpy as np, cdt_stream
def check(path, names, frames_want, free=False):
    got, frames = {}, 0
    with open(path, 'rb') as f:
        for meta, rows, tensors in cdt_stream.read(f):
            frames += 1
            for k, a in tensors.items():
                got.setdefault(k, []).append(a)
    assert frames == frames_want, (path, frames)
    for k, fname in names.items():
        want = np.load(fname)
        a = got[k][0] if free else np.concatenate(got[k])
        assert a.dtype == want.dtype and a.shape == want.shape, (path, k, a.dtype, a.shape)
        assert a.tobytes() == want.tobytes(), (path, k)
    return meta
names = {n: n + '.npy' for n in ['u8', 'i8', 'i32', 'i64', 'f16', 'f32', 'f64']}
assert check('z.cdt', names, 5)['dataset'] == 'toy'
check('raw.cdt', names, 5)
check('free.cdt', {'f32': 'f32.npy', 's': 'scalar.npy'}, 1, free=True)
# A cut stream and a flipped checksum bit are errors, not short reads.
data = open('z.cdt', 'rb').read()
open('cut.cdt', 'wb').write(data[:-30])
bad = bytearray(data); bad[len(bad) // 2] ^= 1
open('flip.cdt', 'wb').write(bytes(bad))
for p in ['cut.cdt', 'flip.cdt']:
    try:
        with open(p, 'rb') as f:
            for _ in cdt_stream.read(f):
                pass
        sys.exit('%s read without error' % p)
    except Exception:
        pass
EOF
[ $? -eq 0 ] || fail "python reader values"

# The example of section 11 of the spec, and a bf16 tensor.
sed -n '/^    43 44 54 53/,/rows_total 2$/p' "$TOP/formats/cdt-stream.md" | cut -c1-46 | xxd -r -p >example.cdt
"$cat" -v example.cdt | grep -q "^stats y i32: 2 values, min -1, max 3, mean 1, distinct 2$" ||
    fail "cdt-cat on the spec's example"
{ printf 'CDTS\001\000\000\000\000\000\000\000'
  printf 'FRAM\001\000\000\000\000\000\000\000\001\000\000\000'
  printf '\001b\006\001\001\000\000\000\000\000\000\000\300\277'
  printf 'CEND\001\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000'; } >bf.cdt
$py - <<'EOF' || fail "python on the spec example or bf16"
import numpy as np, cdt_stream
(meta, rows, t), = cdt_stream.read(open('example.cdt', 'rb'))
assert meta == {'dataset': 'toy'} and rows == 2 and t['y'].tolist() == [3, -1], (meta, t)
(meta, rows, t), = cdt_stream.read(open('bf.cdt', 'rb'))
assert t['b'].dtype == np.float32 and t['b'].tolist() == [-1.5], t
EOF

# A real dataset stream, where cdt-ingest and its data are at hand.
if [ -x "$BIN/cdt-ingest" ] && "$BIN/cdt-ingest" fashion-mnist --split test --limit 1000 -q -o fm.cdt 2>/dev/null; then
    for n in x y id; do "$cat" --to-npy $n -o fm_$n.npy fm.cdt; done
    $py - <<'EOF' || fail "python reader on a cdt-ingest stream"
import numpy as np, cdt_stream
got = {}
for meta, rows, t in cdt_stream.read(open('fm.cdt', 'rb')):
    for k, a in t.items():
        got.setdefault(k, []).append(a)
for k in ['x', 'y', 'id']:
    a, want = np.concatenate(got[k]), np.load('fm_%s.npy' % k)
    assert a.dtype == want.dtype and a.shape == want.shape and a.tobytes() == want.tobytes(), k
assert got['x'][0].shape[1:] == (1, 28, 28)
EOF
else
    echo "note: no cdt-ingest fashion-mnist stream; checked cdt-cat streams only"
fi
$py "$TOP/formats/cdt_stream.py" z.cdt | tail -n 1 | grep -q "^total: 5 frames, 300 rows$" || fail "__main__ summary"
echo "python reader agrees with the .npy route"
