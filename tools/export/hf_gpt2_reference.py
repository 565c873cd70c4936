#!/usr/bin/python3
"""Checks a `tributary-export --format=hf` directory against Hugging Face
transformers without transformers installed: loads it by the rules
GPT2LMHeadModel.from_pretrained follows (modeling_utils.py, modeling_gpt2.py),
runs GPT2LMHeadModel's forward as modeling_gpt2.py computes it (eager
attention, eval mode: no dropout), and compares its logits and loss with the
ones our C++ model computed. Needs Debian's python3-torch. Where transformers
is installed, it also loads the directory with the real GPT2LMHeadModel and
compares that too.

  /usr/bin/python3 tools/export/hf_gpt2_reference.py DIR RECORDS LOGITS LOSS

RECORDS: B records of T+1 bytes (T = n_positions); the model reads the first
T bytes of each and predicts the next. LOGITS: our float32 logits, (B, T, 256).
LOSS: our mean loss over the B*T predictions (nats/byte). Exits non-zero,
saying why, on the first rule or number that does not hold.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from make_gpt_fixture import read_safetensors  # noqa: E402  (tools/, one reader of safetensors)

TOLERANCE = 1e-4


def expected_state_dict(config):
    """GPT2LMHeadModel(config)'s parameters and their shapes. nn.Embedding is
    (num, dim); Conv1D(nf, nx).weight is (nx, nf); the attn.bias and
    attn.masked_bias buffers are registered persistent=False (and older
    versions list them in _keys_to_ignore_on_load_missing), so a checkpoint
    need not hold them."""
    C, V, T = config["n_embd"], config["vocab_size"], config["n_positions"]
    inner = config.get("n_inner") or 4 * C
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C)}
    for l in range(config["n_layer"]):
        h = f"transformer.h.{l}."
        shapes.update({
            h + "ln_1.weight": (C,), h + "ln_1.bias": (C,),
            h + "attn.c_attn.weight": (C, 3 * C), h + "attn.c_attn.bias": (3 * C,),
            h + "attn.c_proj.weight": (C, C), h + "attn.c_proj.bias": (C,),
            h + "ln_2.weight": (C,), h + "ln_2.bias": (C,),
            h + "mlp.c_fc.weight": (C, inner), h + "mlp.c_fc.bias": (inner,),
            h + "mlp.c_proj.weight": (inner, C), h + "mlp.c_proj.bias": (C,),
        })
    shapes.update({"transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,),
                   "lm_head.weight": (V, C)})
    return shapes


def load(directory):
    """(config, parameters by GPT2LMHeadModel name), or an AssertionError
    naming the rule the directory breaks."""
    with open(f"{directory}/config.json") as f:
        config = json.load(f)
    assert config["model_type"] == "gpt2", config["model_type"]
    assert "GPT2LMHeadModel" in config["architectures"], config["architectures"]
    tensors, metadata = read_safetensors(f"{directory}/model.safetensors")
    # from_pretrained refuses a safetensors file without this key.
    assert metadata.get("format") in ("pt", "tf", "flax", "mlx"), metadata
    # base_model_prefix is "transformer": a checkpoint none of whose keys
    # start with it is a GPT2Model's, and its keys get the prefix.
    if not any(k.startswith("transformer") for k in tensors):
        tensors = {f"transformer.{k}": v for k, v in tensors.items()}
    expected = expected_state_dict(config)
    missing = set(expected) - set(tensors)
    if config.get("tie_word_embeddings", True):
        missing.discard("lm_head.weight")  # _tied_weights_keys: tie_weights() fills it.
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"]
    unexpected = set(tensors) - set(expected)
    assert not missing, f"missing keys: {sorted(missing)}"
    assert not unexpected, f"unexpected keys: {sorted(unexpected)}"
    for name, shape in expected.items():
        assert tuple(tensors[name].shape) == shape, f"{name}: shape {tuple(tensors[name].shape)}, module has {shape}"
    return config, tensors


def activation(name):
    """transformers' ACT2FN entries for the GELUs."""
    if name == "gelu_new":  # NewGELUActivation
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "gelu_pytorch_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu
    raise AssertionError(f"activation_function {name!r} is not a GELU")


def conv1d(x, p, name):
    """transformers.pytorch_utils.Conv1D.forward."""
    size_out = x.size()[:-1] + (p[name + ".weight"].shape[1],)
    return torch.addmm(p[name + ".bias"], x.view(-1, x.size(-1)), p[name + ".weight"]).view(size_out)


def attention(x, p, h, n_head):
    """GPT2Attention.forward with _attn (eager), no cache, no masks given."""
    query, key, value = conv1d(x, p, h + "attn.c_attn").split(x.shape[-1], dim=2)
    head_dim = x.shape[-1] // n_head

    def split_heads(t):
        return t.view(t.size()[:-1] + (n_head, head_dim)).permute(0, 2, 1, 3)

    query, key, value = split_heads(query), split_heads(key), split_heads(value)
    weights = torch.matmul(query, key.transpose(-1, -2))
    weights = weights / torch.full([], value.size(-1) ** 0.5, dtype=weights.dtype)
    T = query.size(-2)
    causal_mask = torch.tril(torch.ones((T, T), dtype=torch.bool)).view(1, 1, T, T)
    weights = torch.where(causal_mask, weights, torch.full([], torch.finfo(weights.dtype).min, dtype=weights.dtype))
    weights = F.softmax(weights, dim=-1)
    out = torch.matmul(weights, value).permute(0, 2, 1, 3).contiguous()
    out = out.view(out.size()[:-2] + (n_head * head_dim,))
    return conv1d(out, p, h + "attn.c_proj")


def forward(config, p, input_ids):
    """GPT2LMHeadModel.forward(input_ids).logits in eval mode."""
    C, eps = config["n_embd"], config["layer_norm_epsilon"]
    act = activation(config["activation_function"])
    position_ids = torch.arange(0, input_ids.shape[-1], dtype=torch.long).unsqueeze(0)
    x = p["transformer.wte.weight"][input_ids] + p["transformer.wpe.weight"][position_ids]
    for l in range(config["n_layer"]):
        h = f"transformer.h.{l}."
        a = F.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
        x = attention(a, p, h, config["n_head"]) + x
        m = F.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
        x = x + conv1d(act(conv1d(m, p, h + "mlp.c_fc")), p, h + "mlp.c_proj")
    x = F.layer_norm(x, (C,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return F.linear(x, p["lm_head.weight"])  # nn.Linear(n_embd, vocab_size, bias=False)


def compare(what, logits, ours_logits, targets, ours_loss):
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).item()
    diff = (logits - ours_logits).abs().max().item()
    print(f"{what}: max |logit difference| {diff:.3g}; loss {loss:.6f} vs ours {ours_loss:.6f}")
    assert diff <= TOLERANCE * max(1.0, ours_logits.abs().max().item()), f"{what}: logits differ by {diff}"
    assert abs(loss - ours_loss) <= TOLERANCE, f"{what}: loss {loss} vs ours {ours_loss}"


def main(directory, records_path, logits_path, ours_loss):
    config, params = load(directory)
    T, V = config["n_positions"], config["vocab_size"]
    records = open(records_path, "rb").read()
    B = len(records) // (T + 1)
    records = torch.tensor(list(records), dtype=torch.long).view(B, T + 1)
    ours_logits = torch.frombuffer(bytearray(open(logits_path, "rb").read()), dtype=torch.float32).view(B, T, V)
    with torch.no_grad():
        logits = forward(config, params, records[:, :T])
    print(f"{directory}: loaded by GPT2LMHeadModel's rules ({len(params) - 1} tensors + tied lm_head, "
          f"L={config['n_layer']} NH={config['n_head']} C={config['n_embd']} T={T}, {config['activation_function']})")
    compare("modeling_gpt2.py re-implemented", logits, ours_logits, records[:, 1:], ours_loss)
    try:
        from transformers import GPT2LMHeadModel
    except ImportError:
        print("transformers is not installed: the real GPT2LMHeadModel was not tried")
        return
    model = GPT2LMHeadModel.from_pretrained(directory).eval()
    with torch.no_grad():
        compare("transformers GPT2LMHeadModel", model(records[:, :T]).logits, ours_logits, records[:, 1:], ours_loss)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
    except AssertionError as e:
        sys.exit(f"{sys.argv[1]}: {e}")
