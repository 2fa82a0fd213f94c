"""Set-input transformer for PFNs.

Tokens: one per context point (x and y encoded and summed) and one per query
point (x only). Context tokens attend to context tokens; query tokens attend to
context tokens only, never to each other, so a query's prediction does not
depend on which other queries are in the batch. A learned "empty" token is
always part of the context, so zero context points is a valid input (the
prior predictive).

Because only the context feeds keys and values, the model runs in two stages:
``encode_context`` computes each layer's keys and values once, and
``decode`` answers any number of query batches from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (B, H, n+1, Dh)


class ContextAttention(nn.Module):
    """Multi-head attention of any set of tokens onto the context tokens."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, H, L, D/H)
        b, length, d = t.shape
        return t.view(b, length, self.n_heads, d // self.n_heads).transpose(1, 2)

    def keys_values(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(ctx).chunk(2, dim=-1)
        return self._split_heads(k), self._split_heads(v)

    def forward(self, h: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q = self._split_heads(self.q(h))  # (B, H, L, Dh)
        a = attend(q, k, v)  # (B, H, L, Dh)
        return self.out(a.transpose(1, 2).flatten(2))  # (B, L, D)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √Dh) v. On a CPU in bfloat16 or float16, the two matrix products and the softmax
    written out run faster on contexts of a few hundred points than the fused kernel, which works in
    float32 blocks; elsewhere the fused kernel is the faster one."""
    if q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
        scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (B, H, L, n+1)
        return scores.softmax(dim=-1) @ v
    return F.scaled_dot_product_attention(q, k, v)


class Block(nn.Module):
    """Pre-norm transformer block whose attention reads from the context only."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = ContextAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    @property
    def d_ff(self) -> int:
        """Width of the MLP's hidden layer."""
        return cast(nn.Linear, self.mlp[0]).out_features

    def context_keys_values(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attn.keys_values(self.ln1(ctx))

    def encode(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The context tokens' keys and values at this block, and the block's output for them:
        ``forward(ctx, *context_keys_values(ctx))`` with the layer norm computed once."""
        h = self.ln1(ctx)
        k, v = self.attn.keys_values(h)
        ctx = ctx + self.attn(h, k, v)
        return k, v, ctx + self.mlp(self.ln2(ctx))

    def forward(self, h: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.ln1(h), k, v)
        return h + self.mlp(self.ln2(h))


class PFNTransformer(nn.Module):
    """Maps (context x, context y, query x) to per-query logits over ``num_bins`` bins.

    Args:
        num_features: input dimension d.
        num_bins: number of output logits (bins of the bar distribution).
        d_model: transformer width.
        n_layers: depth (number of blocks).
        n_heads: attention heads per block.
        d_ff: width of each block's MLP.
    """

    def __init__(
        self,
        num_features: int,
        num_bins: int,
        d_model: int = 128,
        n_layers: int = 4,
        n_heads: int = 4,
        d_ff: int = 256,
    ):
        super().__init__()
        self.num_features = num_features
        self.num_bins = num_bins
        self.x_encoder = nn.Linear(num_features, d_model)
        self.y_encoder = nn.Linear(1, d_model)
        self.empty_token = nn.Parameter(torch.randn(d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_bins)
        # Zero head: before training every query predicts uniform bin mass, which with
        # quantile borders is the prior's marginal distribution of y.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def _layers(self) -> Sequence[Block]:
        """The blocks, typed (indexing or iterating an ``nn.ModuleList`` gives plain modules)."""
        return cast(Sequence[Block], self.blocks)

    def config(self) -> dict[str, int]:
        """Constructor arguments, enough to rebuild this architecture."""
        blk = self._layers[0]
        return {
            "num_features": self.num_features,
            "num_bins": self.num_bins,
            "d_model": self.x_encoder.out_features,
            "n_layers": len(self.blocks),
            "n_heads": blk.attn.n_heads,
            "d_ff": blk.d_ff,
        }

    def encode_context(self, x: torch.Tensor, y: torch.Tensor) -> KVCache:
        """Per-layer keys and values of the context. x (B, n, d), y (B, n); n may be 0."""
        ctx = self.x_encoder(x) + self.y_encoder(y.unsqueeze(-1))  # (B, n, D)
        empty = self.empty_token.expand(ctx.shape[0], 1, -1)
        ctx = torch.cat([empty, ctx], dim=1)  # (B, n+1, D)
        cache: KVCache = []
        for block in self._layers[:-1]:
            k, v, ctx = block.encode(ctx)
            cache.append((k, v))
        cache.append(self._layers[-1].context_keys_values(ctx))  # the last layer's context output is never read
        return cache

    def decode(self, cache: KVCache, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, m, num_bins) for query inputs x (B, m, d), given an encoded context."""
        h = self.x_encoder(x)  # (B, m, D)
        for block, (k, v) in zip(self._layers, cache, strict=True):
            h = block(h, k, v)
        return self.head(self.ln_f(h))

    def forward(self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, x_qry: torch.Tensor) -> torch.Tensor:
        """Logits (B, m, num_bins) for the queries given the context, in one pass."""
        return self.decode(self.encode_context(x_ctx, y_ctx), x_qry)
