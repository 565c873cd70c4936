#!/usr/bin/python3
"""PyTorch CPU reference for bench/gpt_step: the same byte GPT (L=4 H=4 C=256
T=128 B=8) and the same step (forward, backward, AdamW). Prints
"ms_per_step=X" for the best of N steps. Run by build/bin/gpt_step, which
tries thread settings; needs Debian's python3-torch (/usr/bin/python3).
bench/gpt_train_torch.py imports the model from here (Gpt takes other
sizes; batch and sequence length come from the input).

  /usr/bin/python3 bench/gpt_step_torch.py --threads=2 --steps=5
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

L, NH, C, T, B, V = 4, 4, 256, 128, 8, 256


class Block(nn.Module):
    def __init__(self, channels=C, heads=NH):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.c_attn, self.c_proj = nn.Linear(channels, 3 * channels), nn.Linear(channels, channels)
        self.c_fc, self.mlp_proj = nn.Linear(channels, 4 * channels), nn.Linear(4 * channels, channels)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (u.view(b, t, self.heads, c // self.heads).transpose(1, 2) for u in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.heads)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
        x = x + self.c_proj((att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers=L, heads=NH, channels=C, context=T):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, channels), nn.Embedding(context, channels)
        self.h = nn.ModuleList(Block(channels, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(channels)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Gpt()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95))
    data = torch.randint(0, V, (B, T + 1))
    best = float("inf")
    for step in range(args.steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        model(data[:, :-1], data[:, 1:]).backward()
        optimizer.step()
        if step > 0:  # the first step warms up
            best = min(best, time.perf_counter() - start)
    print(f"ms_per_step={best * 1e3:.1f}")


if __name__ == "__main__":
    main()
