"""Shared fixtures: tiny synthetic corpora, tiny word-vector files and the real-data folder."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from dan_dice.datasets import CYBERBULLYING_FILES, SMS_FILES, get_data_home

SPAM_WORDS = ["free", "win", "prize", "cash", "winner", "claim", "urgent", "bonus"]
HAM_WORDS = ["hello", "meeting", "lunch", "tomorrow", "mom", "home", "thanks", "sorry"]
NEUTRAL_WORDS = ["you", "the", "now", "call", "today", "please"]
TOPIC_WORDS = {
    "sports": ["football", "goal", "team", "match", "coach", "league"],
    "food": ["pizza", "pasta", "cheese", "dinner", "recipe", "bread"],
    "tech": ["computer", "software", "laptop", "internet", "phone", "code"],
}
EXTRA_WORDS = [".", "!", "?", ",", "'s", "n't", "do", "it", "is", "a"]
TOPICS = [word for words in TOPIC_WORDS.values() for word in words]
TINY_WORDS = list(dict.fromkeys(SPAM_WORDS + HAM_WORDS + NEUTRAL_WORDS + TOPICS + EXTRA_WORDS))
TINY_DIM = 8
TINY_MODEL = {
    "hidden_sizes": (16,),
    "max_epochs": 2,
    "patience_steps": 0,
    "threshold": 0.5,
    "random_state": 0,
}
"""A small network, two epochs: the parameters of a quick fitted model for the file tests (pass
``embeddings=tiny_vectors_file``)."""


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Run torch on one thread: on these tiny tensors its thread pool only adds overhead (fits
    were 10-30x slower with 2 threads on a busy 2-core machine). Torch is not imported here."""
    torch = sys.modules.get("torch")  # collected test modules that need torch imported it
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _text(rng: np.random.Generator, topic: list[str], n_topic: int) -> str:
    words = [*rng.choice(topic, size=n_topic), *rng.choice(NEUTRAL_WORDS, size=2)]
    rng.shuffle(words)
    return " ".join(words)


@pytest.fixture(scope="session")
def toy_texts() -> tuple[list[str], np.ndarray]:
    """200 deterministic texts, 40 (20 %) spam-like positives (label 1) among normal ones (0).

    Positives draw most of their words from SPAM_WORDS, negatives from HAM_WORDS, both add two
    NEUTRAL_WORDS: a learnable, imbalanced binary task. Shared by the session: do not mutate.
    """
    rng = np.random.default_rng(0)
    y = np.array([1] * 40 + [0] * 160)
    rng.shuffle(y)
    X = [_text(rng, SPAM_WORDS if label else HAM_WORDS, int(rng.integers(3, 6))) for label in y]
    return X, y


@pytest.fixture(scope="session")
def toy_texts_3class() -> tuple[list[str], np.ndarray]:
    """150 deterministic texts of three topics (70 / 50 / 30), labels 0, 1, 2. Do not mutate."""
    rng = np.random.default_rng(1)
    topics = list(TOPIC_WORDS.values())
    y = np.array([0] * 70 + [1] * 50 + [2] * 30)
    rng.shuffle(y)
    X = [_text(rng, topics[label], int(rng.integers(3, 6))) for label in y]
    return X, y


def multilabel_toy(n: int = 240, seed: int = 3) -> tuple[list[str], np.ndarray]:
    """``n`` deterministic texts with one to three of the topics sports, food and tech (label
    columns 0, 1, 2 of the returned 0/1 indicator; tech, the rarest, on about a fifth of them);
    each text mixes a few words of each of its topics with neutral words."""
    rng = np.random.default_rng(seed)
    topics = list(TOPIC_WORDS.values())
    Y = (rng.random((n, 3)) < [0.6, 0.4, 0.2]).astype(np.int64)
    Y[Y.sum(1) == 0, 0] = 1  # every text has a topic
    X = []
    for row in Y:
        words = [w for j in np.flatnonzero(row) for w in rng.choice(topics[j], size=2)]
        words += list(rng.choice(NEUTRAL_WORDS, size=2))
        rng.shuffle(words)
        X.append(" ".join(words))
    return X, Y


@pytest.fixture(scope="session")
def toy_multilabel() -> tuple[list[str], np.ndarray]:
    """:func:`multilabel_toy`'s 240 texts and indicator. Do not mutate."""
    return multilabel_toy()


@pytest.fixture(scope="session")
def tiny_vectors() -> dict[str, np.ndarray]:
    """The 50 ``TINY_WORDS`` (every word of both toy corpora, and more) -> seeded 8-d vectors."""
    rng = np.random.default_rng(2)
    matrix = np.round(rng.normal(size=(len(TINY_WORDS), TINY_DIM)), 4).astype(np.float32)
    return dict(zip(TINY_WORDS, matrix, strict=True))


def _write_text_vectors(path: Path, vectors: dict[str, np.ndarray], header: bool) -> Path:
    lines = [f"{len(vectors)} {TINY_DIM}"] if header else []
    lines += [" ".join([word, *(f"{x:.4f}" for x in vec)]) for word, vec in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_vectors_file(tmp_path_factory, tiny_vectors) -> Path:
    """``tiny_vectors`` as a GloVe text file (one ``word x1 ... x8`` line each, no header).
    Shared by the session: read it, do not change it."""
    path = tmp_path_factory.mktemp("vectors") / "tiny_glove.txt"
    return _write_text_vectors(path, tiny_vectors, header=False)


@pytest.fixture
def tiny_word2vec_file(tmp_path, tiny_vectors) -> Path:
    """``tiny_vectors`` as a word2vec text file (``count dim`` header line)."""
    return _write_text_vectors(tmp_path / "tiny_w2v.txt", tiny_vectors, header=True)


@pytest.fixture
def tiny_word2vec_bin_file(tmp_path, tiny_vectors) -> Path:
    """``tiny_vectors`` as a word2vec binary ``.bin`` file, written by gensim."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(TINY_DIM)
    kv.add_vectors(list(tiny_vectors), np.stack(list(tiny_vectors.values())))
    path = tmp_path / "tiny_w2v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    return path


@pytest.fixture(scope="session")
def real_data_home() -> Path:
    """The folder of the real datasets ($DAN_DICE_DATA, else ./data); skip when they are absent."""
    home = get_data_home()
    missing = [
        " / ".join(names)
        for names in (SMS_FILES, CYBERBULLYING_FILES)
        if not any((home / name).exists() for name in names)
    ]
    if missing:
        pytest.skip(
            f"real datasets missing from {home}: {'; '.join(missing)} "
            "(set DAN_DICE_DATA to the folder holding them)"
        )
    return home
