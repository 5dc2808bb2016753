"""The Deep Averaging Network (Iyyer et al., 2015) as a torch module."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class DAN(nn.Module):
    """Average the word vectors of a text, then a stack of ReLU layers, then the logits.

    Inputs use the packed layout of :class:`torch.nn.EmbeddingBag`: a flat tensor of token
    ids and the start offset of each text. In training mode whole tokens are dropped before
    averaging with probability ``word_dropout`` (the DAN paper's regulariser); a text never
    loses all its tokens.

    ``n_outputs`` is 1 for a binary task (one logit) or the number of classes.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        hidden_sizes: Sequence[int] = (256, 128, 64),
        n_outputs: int = 1,
        dropout: float = 0.2,
        word_dropout: float = 0.3,
        freeze_embeddings: bool = True,
    ):
        super().__init__()
        self.embedding = nn.EmbeddingBag.from_pretrained(
            torch.tensor(embeddings, dtype=torch.float32),  # a copy: fine-tuning writes to it
            freeze=freeze_embeddings,
            mode="sum",
            sparse=not freeze_embeddings,  # a batch touches few rows: update only those
        )
        layers: list[nn.Module] = []
        width = embeddings.shape[1]
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.mlp = nn.Sequential(*layers)
        self.word_dropout = word_dropout

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(n_texts,)`` for one output, else ``(n_texts, n_outputs)``."""
        return self.head(self.average(ids, offsets))

    def average(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Mean word vector of each text, after word dropout in training mode."""
        bag = _bag_of_token(offsets, len(ids))
        keep = torch.ones(len(ids), device=ids.device)
        if self.training and self.word_dropout > 0:
            keep = (torch.rand(len(ids), device=ids.device) >= self.word_dropout).float()
            kept_per_bag = torch.zeros(len(offsets), device=ids.device).index_add_(0, bag, keep)
            keep = torch.where(kept_per_bag[bag] > 0, keep, torch.ones_like(keep))
        counts = torch.zeros(len(offsets), device=ids.device).index_add_(0, bag, keep)
        return self.embedding(ids, offsets, per_sample_weights=keep / counts[bag])

    def head(self, averaged: torch.Tensor) -> torch.Tensor:
        """The fully connected layers on top of the averaged vectors."""
        logits = self.mlp(averaged)
        return logits.squeeze(-1) if logits.shape[-1] == 1 else logits


def _bag_of_token(offsets: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Index of the text each token belongs to (offsets must be sorted, texts non-empty)."""
    starts = torch.zeros(n_tokens, dtype=torch.long, device=offsets.device)
    starts[offsets[1:]] = 1
    return torch.cumsum(starts, 0)
