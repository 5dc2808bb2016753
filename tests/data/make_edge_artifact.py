"""Write the small edge artifact that CI predicts with in a torch-free install.

``spam.edge``: a :class:`~dan_dice.DANClassifier` (random 8-d word vectors, one hidden layer
of 16) fitted on 200 made-up texts and exported with int8 weights; ``spam.txt``: texts to
classify; ``spam.labels``: the ``label`` column that ``dan-dice predict`` writes for them.
Run again after a change of the artifact format::

    PYTHONPATH=. python tests/data/make_edge_artifact.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

SPAM = ["free", "win", "prize", "cash", "winner", "claim", "urgent", "bonus"]
HAM = ["hello", "meeting", "lunch", "tomorrow", "mom", "home", "thanks", "sorry"]
NEUTRAL = ["you", "the", "now", "call", "today", "please"]
TEXTS = [
    "win free cash now",
    "claim your prize today",
    "urgent bonus winner call now",
    "lunch tomorrow with mom",
    "thanks for the meeting",
    "sorry you are home",
]


def corpus(n: int = 200, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` texts, a fifth of them spam-like (label 1), from a seeded generator."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) < n // 5).astype(int)
    texts = [
        " ".join([*rng.choice(SPAM if label else HAM, size=4), *rng.choice(NEUTRAL, size=2)])
        for label in y
    ]
    return texts, y


def make(folder: Path) -> Path:
    """Fit, export and write ``spam.edge``, ``spam.txt`` and ``spam.labels`` into ``folder``."""
    from dan_dice import DANClassifier
    from dan_dice.edge import EdgeClassifier
    from dan_dice.export import export_model

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        vectors = Path(tmp) / "vectors.txt"
        vectors.write_text(
            "".join(
                " ".join([word, *(f"{x:.4f}" for x in rng.normal(size=8))]) + "\n"
                for word in SPAM + HAM + NEUTRAL
            )
        )
        clf = DANClassifier(
            embeddings=str(vectors), hidden_sizes=(16,), lr=0.01, max_epochs=50, random_state=0
        )
        clf.fit(*corpus())
    artifact = export_model(clf, folder / "spam.edge", quantize="int8", overwrite=True)
    labels = EdgeClassifier.load(artifact).predict(TEXTS)
    (folder / "spam.txt").write_text("\n".join(TEXTS) + "\n")
    (folder / "spam.labels").write_text("\n".join(["label", *map(str, labels)]) + "\n")
    return artifact


if __name__ == "__main__":
    path = make(Path(__file__).resolve().parent)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
