"""The Deep Averaging Network (Iyyer et al., 2015) as a torch module."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .bag_pooling import bag_of_token, pool_bags
from .pooling import POOLINGS


class DAN(nn.Module):
    """Pool the word vectors of a text, then a stack of ReLU layers, then the logits.

    Inputs use the packed layout of :class:`torch.nn.EmbeddingBag`: a flat tensor of token
    ids and the start offset of each text. In training mode whole tokens are dropped before
    pooling with probability ``word_dropout`` (the DAN paper's regulariser); a text never
    loses all its tokens.

    ``pooling`` is one of :data:`POOLINGS`. ``"attention"`` weighs each word by
    ``softmax_t(v · e_t)`` within its text, with one learned vector ``v`` that starts at zero,
    so the untrained model is exactly the mean: a few words that carry the class (spam cues,
    slurs) can outweigh the many that do not, which a plain mean dilutes. ``"+max"`` appends the
    element-wise maximum (SWEM-max) to the pooled vector.

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
        pooling: str = "mean",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.embedding = nn.Embedding.from_pretrained(
            torch.tensor(embeddings, dtype=torch.float32),  # a copy: fine-tuning writes to it
            freeze=freeze_embeddings,
            sparse=not freeze_embeddings,  # a batch touches few rows: update only those
        )
        dim = embeddings.shape[1]
        self.pooling = pooling
        self._parts = tuple(pooling.split("+"))
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
        """One vector per text (after word dropout in training mode), as ``pooling`` says.

        Forward and backward are :func:`~dan_dice.bag_pooling.pool_bags`'s: a fine-tuned table
        gets a gradient of one row per word the batch used."""
        if self.training and self.word_dropout > 0:
            ids, offsets = self._drop_words(ids, offsets)
        attention = getattr(self, "attention", None)
        return pool_bags(self.embedding.weight, ids, offsets, self._parts, attention)

    @torch.no_grad()
    def start_at_rates(self, rates: np.ndarray) -> None:
        """Set the output biases to the log-odds of ``rates`` (clipped to [1e-4, 1 - 1e-4]), so
        that the untrained sigmoid outputs predict each label's training rate rather than 0.5:
        the prior initialisation of Lin et al. (2017). With dozens of mostly rare labels a
        start at 0.5 spends the first epoch unlearning it (GoEmotions dev macro-F1 after one
        epoch 0.15 instead of 0.08; 0.434 instead of 0.430 at the best epoch)."""
        rates = np.clip(np.asarray(rates, dtype=np.float64), 1e-4, 1 - 1e-4)
        bias = self.mlp[-1].bias
        bias.copy_(torch.as_tensor(np.log(rates / (1 - rates)), dtype=bias.dtype))

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """The fully connected layers on top of the pooled vectors."""
        logits = self.mlp(pooled)
        return logits.squeeze(-1) if logits.shape[-1] == 1 else logits

    def _drop_words(self, ids: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The texts with each token dropped with probability ``word_dropout`` (a text that
        would lose every token keeps them all), repacked: dropped tokens take no part in any
        pooling, and leaving them out also spares their rows in the sparse gradient."""
        n_texts, n_tokens = len(offsets), len(ids)
        bag = bag_of_token(offsets, n_tokens)
        keep = torch.from_numpy(kept_mask((n_tokens,), self.word_dropout)).to(ids.device)
        kept = torch.zeros(n_texts, dtype=torch.long, device=ids.device)
        kept.index_add_(0, bag, keep.to(torch.long))
        emptied = kept == 0
        keep |= emptied.index_select(0, bag)
        lengths = torch.diff(offsets, append=offsets.new_tensor([n_tokens]))
        lengths = torch.where(emptied, lengths, kept)
        return ids.index_select(0, keep.nonzero().squeeze(1)), torch.cumsum(lengths, 0) - lengths


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` whose masks come from numpy's PCG64 generator.

    Torch's CPU generator (Mersenne Twister) draws about one number every 10 ns, and the masks
    of the three hidden layers took a sixth of a training step. Random bytes from PCG64 cost a
    small fraction of that; ``p`` is rounded to a multiple of 1/256 (0.2 drops 51/256 = 0.199).
    On a GPU it is torch's dropout.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":  # a GPU's own generator is fast: no copy to the device
            return super().forward(x)
        scale = np.float32(256 / (256 - round(self.p * 256)))
        mask = np.multiply(kept_mask(tuple(x.shape), self.p), scale, dtype=np.float32)
        return x * torch.from_numpy(mask).to(x.device)


def kept_mask(shape: tuple, p: float) -> np.ndarray:
    """A random boolean array, each element True with probability ``1 - p`` rounded to a
    multiple of 1/256. Seeded by one draw from torch's global generator, so that
    ``torch.manual_seed`` still makes runs identical.

    The random bytes are PCG64's raw 64-bit outputs read as bytes: the very bytes of
    ``default_rng(seed).bytes(n)``, without the ``Generator`` around the bit generator and the
    copies ``bytes`` makes (a third to a half of the mask's time)."""
    n = math.prod(shape)
    words = np.random.PCG64(int(torch.randint(2**62, ()))).random_raw(-(-n // 8))
    return words.astype("<u8", copy=False).view(np.uint8)[:n].reshape(shape) >= round(p * 256)
