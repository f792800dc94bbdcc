#!/usr/bin/python3
"""pth_to_cdt.py: a PyTorch CD state_dict (.pth) -> a cdt model file.

    /usr/bin/python3 tests/gen/pth_to_cdt.py MODEL.pth OUT.cdt [IMAGE_SIZE]

The architecture is read off the tensors; IMAGE_SIZE defaults to 224 for
the 7x7 stem and 32 for the 3x3 one. Writes the raw (uncompressed) form of
formats/cdt-stream.md: one rows==0 frame, every tensor as in the state_dict
(num_batches_tracked included: cdt ignores it). cdt -> PyTorch is the
reverse: formats/cdt_stream.py's read() and load_state_dict(strict=False).
"""
import struct, sys
import torch

sd = torch.load(sys.argv[1], map_location="cpu")
sd = sd.get("net", sd)  # the authors' checkpoints wrap the state_dict
sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
conv1 = sd["resnet.conv1.weight"]
bottleneck = "resnet.layer1.0.conv3.weight" in sd
depth = 50 if bottleneck else 34 if "resnet.layer3.5.conv1.weight" in sd else 18
stem = "cifar" if conv1.shape[-1] == 3 else "imagenet"
size = int(sys.argv[3]) if len(sys.argv) > 3 else 32 if stem == "cifar" else 224
meta = dict(arch="resnet%d" % depth, stem=stem, width=conv1.shape[0], in_channels=conv1.shape[1],
            image_size=size, hidden_dim=sd["instance_projector.3.weight"].shape[0],
            feature_num=sd["feature_predictor.3.weight"].shape[0], step=0, epoch=-1, seed=0,
            producer="pth_to_cdt.py")
meta = "".join("%s=%s\n" % kv for kv in meta.items()).encode()
DTYPES = {torch.uint8: 1, torch.int8: 2, torch.int32: 3, torch.int64: 4, torch.float32: 7, torch.float64: 8}
with open(sys.argv[2], "wb") as f:
    f.write(b"CDTS" + struct.pack("<HHI", 1, 0, len(meta)) + meta)
    f.write(b"FRAM" + struct.pack("<QI", 0, len(sd)))
    for k, v in sd.items():
        v = v.contiguous()
        f.write(struct.pack("<B", len(k)) + k.encode() + struct.pack("<BB", DTYPES[v.dtype], v.dim()))
        f.write(struct.pack("<%dQ" % v.dim(), *v.shape) + v.numpy().tobytes())
    f.write(b"CEND" + struct.pack("<QQ", 1, 0))
