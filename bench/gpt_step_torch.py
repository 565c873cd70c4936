#!/usr/bin/python3
"""PyTorch CPU reference for bench/gpt_step: the same byte GPT (L=4 H=4 C=256
T=128 B=8) and the same step (forward, backward, AdamW). Prints
"ms_per_step=X" for the best of N steps. Run by build/bin/gpt_step, which
tries thread settings; needs Debian's python3-torch (/usr/bin/python3).

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
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, C // NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        x = x + self.c_proj((att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(T))
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
