"""The DAN's training step as it was before ``dan_dice.bag_pooling``, kept as the reference
the lean step is held to (``tests/test_bag_pooling.py``): same outputs, gradients and updates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from dan_dice.model import Dropout, kept_mask
from dan_dice.pooling import POOLINGS


class ReferenceDAN(nn.Module):
    """``dan_dice.model.DAN`` before its lean pooling: autograd through plain torch ops and
    the sparse gradient of ``EmbeddingBag``, one row per token."""

    def __init__(
        self,
        embeddings: np.ndarray,
        hidden_sizes: Sequence[int] = (256, 128, 64),
        n_outputs: int = 1,
        dropout: float = 0.2,
        word_dropout: float = 0.3,
        freeze_embeddings: bool = True,
        pooling: str = "mean",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.embedding = nn.EmbeddingBag.from_pretrained(
            torch.tensor(embeddings, dtype=torch.float32),  # a copy: fine-tuning writes to it
            freeze=freeze_embeddings,
            mode="mean",
            sparse=not freeze_embeddings,  # a batch touches few rows: update only those
        )
        dim = embeddings.shape[1]
        self.pooling = pooling
        if pooling.startswith("attention"):
            self.attention = nn.Parameter(torch.zeros(dim))
        layers: list[nn.Module] = []
        width = dim * (2 if "+" in pooling else 1)
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.mlp = nn.Sequential(*layers)
        self.word_dropout = word_dropout

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(n_texts,)`` for one output, else ``(n_texts, n_outputs)``."""
        return self.head(self.pool(ids, offsets))

    def pool(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """One vector per text (after word dropout in training mode), as ``pooling`` says."""
        if self.training and self.word_dropout > 0:
            ids, offsets = self._drop_words(ids, offsets)
        weight = self.embedding.weight
        sparse = self.embedding.sparse
        if self.pooling == "mean":  # the fast path: one fused EmbeddingBag average
            return nn.functional.embedding_bag(ids, weight, offsets, mode="mean", sparse=sparse)
        bag = _bag_of_token(offsets, len(ids))
        n_texts = len(offsets)
        vectors = nn.functional.embedding(ids, weight, sparse=sparse)
        parts = []
        if self.pooling == "mean+max":
            counts = torch.bincount(bag, minlength=n_texts)
            parts.append(_bag_sum(vectors / counts[bag][:, None], bag, n_texts))
        if self.pooling.startswith("attention"):
            scores = vectors @ self.attention
            top = torch.full((n_texts,), -torch.inf, device=ids.device)
            top = top.scatter_reduce(0, bag, scores, "amax")
            exp = torch.exp(scores - top[bag])
            total = torch.zeros(n_texts, device=ids.device).index_add_(0, bag, exp)
            parts.append(_bag_sum(vectors * (exp / total[bag])[:, None], bag, n_texts))
        if self.pooling.endswith("max"):
            top = torch.full((n_texts, weight.shape[1]), -torch.inf, device=ids.device)
            index = bag[:, None].expand_as(vectors)
            parts.append(top.scatter_reduce(0, index, vectors, "amax"))
        return torch.cat(parts, 1) if len(parts) > 1 else parts[0]

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """The fully connected layers on top of the pooled vectors."""
        logits = self.mlp(pooled)
        return logits.squeeze(-1) if logits.shape[-1] == 1 else logits

    def _drop_words(self, ids: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The texts with each token dropped with probability ``word_dropout`` (a text that
        would lose every token keeps them all), repacked: dropped tokens take no part in any
        pooling, and leaving them out also spares their rows in the sparse gradient."""
        bag = _bag_of_token(offsets, len(ids))
        keep = torch.from_numpy(kept_mask((len(ids),), self.word_dropout)).to(ids.device)
        keep |= (torch.bincount(bag[keep], minlength=len(offsets)) == 0)[bag]
        lengths = torch.bincount(bag[keep], minlength=len(offsets))
        return ids[keep], torch.cumsum(lengths, 0) - lengths


def _bag_of_token(offsets: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Index of the text each token belongs to (offsets must be sorted, texts non-empty)."""
    starts = torch.zeros(n_tokens, dtype=torch.long, device=offsets.device)
    starts[offsets[1:]] = 1
    return torch.cumsum(starts, 0)


def _bag_sum(rows: torch.Tensor, bag: torch.Tensor, n_texts: int) -> torch.Tensor:
    """Sum of the ``rows`` of each text."""
    out = torch.zeros(n_texts, rows.shape[1], device=rows.device, dtype=rows.dtype)
    return out.index_add_(0, bag, rows)
