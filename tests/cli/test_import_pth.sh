# cdt-import-pth: PyTorch state_dicts made from the PyTorch-converted golden
# model (tests/golden/embed/model.cdt) come back as models that embed
# exactly like it: wrapped under 'net' with other entries beside it, bare
# with DataParallel's 'module.' prefix, in float64, on stdout. Refused with
# exit 65 and one line, leaving no output: a pickle that would run code
# (and the code does not run), a value that is not a tensor, a file holding
# a tensor, bytes that are no .pth, a state_dict of another network, a
# missing --key entry, an integer weight. A missing file is 66. Skipped
# (77) without PyTorch for the tool's interpreter.
set -u
tool=$BIN/cdt-import-pth
for t in "$tool" "$BIN/cdt-cat" "$BIN/cdt-embed"; do
    [ -x "$t" ] || { echo "$(basename "$t") missing"; exit 77; }
done
py=$(head -n 1 "$tool" | sed 's/^#! *//')
$py -c 'import torch' 2>/dev/null || { echo "no PyTorch for $py (python3-torch): cdt-import-pth not checked"; exit 77; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }
gold=$TOP/tests/golden/embed

# The golden model's tensors as PyTorch state_dicts, in every form.
PYTHONPATH=$TOP/formats $py - "$gold/model.cdt" <<'EOF' || { echo "FAIL: making the .pth files"; exit 1; }
import collections, io, os, pickle, sys
import torch
import cdt_stream
with open(sys.argv[1], 'rb') as f:
    (meta, rows, tensors), = list(cdt_stream.read(f))
sd = collections.OrderedDict((k, torch.from_numpy(v.copy())) for k, v in tensors.items())
torch.save({'net': sd, 'epoch': 3, 'args': {'batch_size': 128, 'name': 'cd'}}, 'net.pth')
torch.save({'net': sd, 'lr': 0.1}, 'float.pth')
torch.save(collections.OrderedDict(('module.' + k, v) for k, v in sd.items()), 'module.pth')
torch.save({k: v.double() if v.is_floating_point() else v for k, v in sd.items()}, 'f64.pth')
class Evil:
    def __reduce__(self):
        return (os.system, ('touch pwned',))
torch.save({'net': Evil()}, 'evil.pth')
torch.save({'net': dict(sd, extra=[1, 2])}, 'list.pth')
torch.save(torch.zeros(3), 'tensor.pth')
torch.save({'net': {k: v for k, v in sd.items() if k != 'resnet.conv1.weight'}}, 'noconv.pth')
torch.save({'state': sd}, 'state.pth')
torch.save(dict(sd, **{'resnet.conv1.weight': sd['resnet.conv1.weight'].int()}), 'int.pth')
with open('junk.pth', 'wb') as f:  # random, but never a zip's or a pickle's first bytes
    f.write(b'junk' + os.urandom(2996))
EOF
[ ! -e pwned ] || { echo "FAIL: torch.save ran the payload while writing it"; exit 1; }

"$BIN/cdt-cat" --from-npy x="$gold/x.npy" -o x.cdt || { echo "FAIL: cdt-cat --from-npy"; exit 1; }
"$BIN/cdt-embed" -m "$gold/model.cdt" -t 1 x.cdt -o want.cdt || { echo "FAIL: cdt-embed on the golden model"; exit 1; }
"$BIN/cdt-cat" --to-npy h -o want_h.npy want.cdt && "$BIN/cdt-cat" --to-npy f -o want_f.npy want.cdt ||
    { echo "FAIL: cdt-cat --to-npy"; exit 1; }

# same PTH ARGS...: imports PTH and checks the model embeds as the golden one.
same() {
    pth=$1
    shift
    rm -f got.cdt emb.cdt
    if ! "$tool" "$pth" --image-size 12 "$@" 2>err; then
        bad "$pth: exit $?: $(head -c 300 err)"
        return
    fi
    "$BIN/cdt-embed" -m got.cdt -t 1 x.cdt -o emb.cdt 2>err || { bad "$pth: cdt-embed refused it: $(cat err)"; return; }
    "$BIN/cdt-cat" --to-npy h -o h.npy emb.cdt && "$BIN/cdt-cat" --to-npy f -o f.npy emb.cdt &&
        cmp -s h.npy want_h.npy && cmp -s f.npy want_f.npy || bad "$pth: its embeddings differ from the golden model's"
    "$BIN/cdt-cat" got.cdt | grep -q '^meta producer=cdt-import-pth$' || bad "$pth: no producer in the meta"
}
same net.pth -o got.cdt
same module.pth -o got.cdt
same f64.pth --output=got.cdt
"$tool" net.pth --image-size 12 >stdout.cdt 2>err || bad "net.pth to stdout: $(cat err)"
"$tool" net.pth --image-size 12 -o got.cdt && cmp -s stdout.cdt got.cdt || bad "stdout and -o differ"
"$BIN/cdt-cat" got.cdt | grep -q '^meta image_size=12$' || bad "--image-size 12 not in the meta"
"$tool" net.pth -o default.cdt && "$BIN/cdt-cat" default.cdt | grep -q '^meta image_size=32$' ||
    bad "a CIFAR-stem model does not default to image_size 32"
[ -z "$(ls -A | grep '^\.got\.cdt')" ] || bad "temporary files left: $(ls -A | grep '^\.got')"

# refused CODE PTH WHAT ARGS...: exit CODE, one line naming the problem, no output.
refused() {
    code=$1 pth=$2 what=$3
    shift 3
    rm -f out.cdt
    "$tool" "$pth" -o out.cdt "$@" >/dev/null 2>err
    rc=$?
    if [ $rc -ne "$code" ]; then
        bad "$pth: exit $rc, expected $code: $(head -c 300 err)"
    elif [ "$(wc -l <err)" -ne 1 ] || ! grep -q "^cdt-import-pth: .*$what" err; then
        bad "$pth: stderr is not one line saying '$what': $(head -c 400 err)"
    fi
    [ ! -e out.cdt ] || bad "$pth: refused, yet out.cdt was written"
    [ -z "$(ls -A | grep '^\.out\.cdt')" ] || bad "$pth: temporary files left"
}
refused 65 evil.pth "refused: it holds Python objects other than tensors"
[ ! -e pwned ] || bad "evil.pth: loading it ran its code"
refused 65 list.pth "'extra' is a list, not a tensor"
refused 65 tensor.pth "holds a Tensor, not a state_dict"
refused 65 junk.pth "not a PyTorch .pth file"
refused 65 noconv.pth "no tensor 'resnet.conv1.weight'"
refused 65 state.pth "'state' is a OrderedDict, not a tensor"
refused 65 net.pth "no entry 'model'" --key model
refused 65 int.pth "'resnet.conv1.weight' is torch.int32"
refused 66 absent.pth "absent.pth: no such file"
# A float beside the tensors: PyTorch 1.13's safe loader cannot read one
# (later ones can); either it converts, or it is refused saying so.
if ! "$tool" float.pth -o out.cdt 2>/dev/null; then
    refused 65 float.pth "holds Python floats too"
fi
refused 64 net.pth "bad value for --image-size" --image-size 0
"$tool" state.pth --key state -o out.cdt 2>err && "$BIN/cdt-embed" -m out.cdt -t 1 x.cdt >/dev/null ||
    bad "--key state: $(cat err)"

[ $fail -eq 0 ] || exit 1
echo "cdt-import-pth: 4 forms embed as the golden model; 10 bad inputs refused in one line"
