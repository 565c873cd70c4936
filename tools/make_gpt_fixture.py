#!/usr/bin/python3
"""Writes tests/data/gpt_tiny_fixture.bin: a tiny GPT-2 (bytes, L=2 NH=2 C=16
T=8), a batch of B=3 sequences, and PyTorch's loss and gradients for it, so
tests/common/models/gpt_reference_test.cc can check the C++ model against an
independent implementation without PyTorch installed.

Run once with Debian's python3-torch:  /usr/bin/python3 tools/make_gpt_fixture.py

It also shows that tributary-export's safetensors load into this reference
model, which then scores text as the C++ model would:
  /usr/bin/python3 tools/make_gpt_fixture.py --check_export model.safetensors TEXT_FILE

Format (little-endian): b"TGF1"; uint32 L, NH, C, T, B; uint64 n;
float32 params[n] in the C++ layout order (common/models/gpt.h);
uint8 records[B * (T + 1)]; float64 loss; float32 grads[n].
"""
import math
import struct
import sys

import torch
import torch.nn.functional as F

L, NH, C, T, B, V = 2, 2, 16, 8, 3, 256


def layout():
    """(name, shape) in the C++ model's order."""
    names = [("wte.weight", (V, C)), ("wpe.weight", (T, C))]
    for l in range(L):
        h = f"h.{l}."
        names += [
            (h + "ln_1.weight", (C,)), (h + "ln_1.bias", (C,)),
            (h + "attn.c_attn.weight", (3 * C, C)), (h + "attn.c_attn.bias", (3 * C,)),
            (h + "attn.c_proj.weight", (C, C)), (h + "attn.c_proj.bias", (C,)),
            (h + "ln_2.weight", (C,)), (h + "ln_2.bias", (C,)),
            (h + "mlp.c_fc.weight", (4 * C, C)), (h + "mlp.c_fc.bias", (4 * C,)),
            (h + "mlp.c_proj.weight", (C, 4 * C)), (h + "mlp.c_proj.bias", (C,)),
        ]
    return names + [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]


def forward(p, tokens, targets):
    x = p["wte.weight"][tokens] + p["wpe.weight"][torch.arange(T)]
    for l in range(L):
        h = f"h.{l}."
        a = F.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps=1e-5)
        qkv = a @ p[h + "attn.c_attn.weight"].T + p[h + "attn.c_attn.bias"]
        q, k, v = (t.view(B, T, NH, C // NH).transpose(1, 2) for t in qkv.split(C, dim=2))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[h + "attn.c_proj.weight"].T + p[h + "attn.c_proj.bias"]
        m = F.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps=1e-5)
        m = F.gelu(m @ p[h + "mlp.c_fc.weight"].T + p[h + "mlp.c_fc.bias"], approximate="tanh")
        x = x + m @ p[h + "mlp.c_proj.weight"].T + p[h + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], eps=1e-5)
    logits = x @ p["wte.weight"].T
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def main(path):
    torch.manual_seed(20261125)
    params = {}
    for name, shape in layout():
        if "ln_" in name and name.endswith("weight"):
            t = 1 + 0.1 * torch.randn(shape, dtype=torch.float64)
        else:
            t = 0.2 * torch.randn(shape, dtype=torch.float64)
        # The C++ side computes in float32 from these exact float32 values.
        params[name] = t.float().double().requires_grad_()
    records = torch.randint(0, V, (B, T + 1))
    loss = forward(params, records[:, :-1], records[:, 1:])
    loss.backward()
    with open(path, "wb") as f:
        f.write(b"TGF1" + struct.pack("<5IQ", L, NH, C, T, B, sum(t.numel() for t in params.values())))
        for name, _ in layout():
            f.write(params[name].detach().float().numpy().astype("<f4").tobytes())
        f.write(bytes(records.flatten().tolist()))
        f.write(struct.pack("<d", loss.item()))
        for name, _ in layout():
            f.write(params[name].grad.float().numpy().astype("<f4").tobytes())
    print(f"{path}: loss {loss.item():.6f}")


def read_safetensors(path):
    """The tensors (by name) and metadata of a safetensors file."""
    import json
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", f"{name}: dtype {t['dtype']}, expected F32"
        begin, end = t["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(t["shape"])
    return tensors, metadata


def check_export(path, text_path):
    """Loads an exported model into forward() and prints its loss on text."""
    import re
    global L, NH, C, T, B
    tensors, metadata = read_safetensors(path)
    sizes = dict(re.findall(r"(layers|heads|channels|context): (\d+)", metadata["tributary.model"]))
    L, NH, C, T = (int(sizes[k]) for k in ("layers", "heads", "channels", "context"))
    expected = [name for name, _ in layout()]
    assert sorted(tensors) == sorted(expected), "tensor names differ from GPT-2's"
    for name, shape in layout():
        assert tuple(tensors[name].shape) == shape, (name, tensors[name].shape, shape)
    text = open(text_path, "rb").read()
    B = min(16, len(text) // (T + 1))
    records = torch.tensor(list(text[: B * (T + 1)]), dtype=torch.long).view(B, T + 1)
    with torch.no_grad():
        loss = forward({k: v.double() for k, v in tensors.items()}, records[:, :-1], records[:, 1:])
    print(f"{path}: {len(tensors)} tensors loaded into the PyTorch reference (L={L} NH={NH} C={C} T={T}); "
          f"loss on {B} sequences of {text_path}: {loss.item():.4f} nats/byte")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check_export":
        check_export(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/gpt_tiny_fixture.bin")
