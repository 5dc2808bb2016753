"""The DAN's peers: TF-IDF with linear models and fastText, and the multi-label TF-IDF peer.

The models follow the scikit-learn API; the benchmarks tune, score and time them beside the DAN
with :mod:`dan_dice.comparison`. The multi-label peer (:func:`tune_multilabel_peer`, TF-IDF +
one-vs-rest logistic regression) is tuned as the DAN is, by validation macro-F1 at per-label
thresholds tuned on validation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from .deprecation import moved
from .metrics import best_thresholds, multilabel_scores
from .splits import Split
from .text import tokenize

TFIDF_FEATURES = [
    {"tfidf__analyzer": ["word"], "tfidf__ngram_range": [(1, 2)], "tfidf__min_df": [1, 2]},
    {"tfidf__analyzer": ["char_wb"], "tfidf__ngram_range": [(2, 5)], "tfidf__min_df": [1, 2]},
]
"""What a careful user searches: word uni- and bigrams (scikit-learn's token pattern) or
character 2-5-grams within words, each with words seen once or at least twice."""
PEER_C = (1, 10, 100)
"""The C grid of both linear peers."""
FASTTEXT_GRID = {"epoch": [5, 25], "lr": [0.1, 0.5], "word_ngrams": [1, 2]}


def tfidf_pipeline(classifier: BaseEstimator, tokenizer: Callable | None = None) -> Pipeline:
    """Sublinear TF-IDF feeding ``classifier``; words by scikit-learn's token pattern, or by
    ``tokenizer`` when given."""
    pattern = None if tokenizer else TfidfVectorizer().token_pattern
    features = TfidfVectorizer(sublinear_tf=True, tokenizer=tokenizer, token_pattern=pattern)
    return Pipeline([("tfidf", features), ("clf", classifier)])


def tfidf_grid(C: Sequence[float] = PEER_C) -> list[dict]:
    """The grid of :data:`TFIDF_FEATURES` with the classifier's ``C`` from ``C``."""
    return [{**features, "clf__C": list(C)} for features in TFIDF_FEATURES]


class FastTextClassifier(ClassifierMixin, BaseEstimator):
    """fastText's supervised classifier (``fasttext.train_supervised``) behind the sklearn API.

    Parameters are fastText's ``epoch``, ``lr``, ``wordNgrams`` (``word_ngrams``), ``dim``,
    ``thread`` and ``seed`` (``random_state``). Texts are tokenised with
    :func:`dan_dice.text.tokenize`, as for the DAN, and written as ``__label__i tok tok ...``
    lines to a temporary file, which fastText reads. Training runs in a fresh process whose
    ``malloc`` returns zeroed memory (glibc's ``MALLOC_PERTURB_=255``): with ``thread=1``,
    fasttext-numpy2 0.10 initialises only the first tenth of its input matrix (one block of
    ten per thread) and leaves the rest as allocated, which is stale memory whenever the heap
    is reused (a second model in one process, a small model in any), and training then fails
    with "Encountered NaN" or starts from garbage. Zeroed, those rows start at 0.

    Attributes: ``classes_``, ``model_`` (the ``fasttext`` model), ``train_seconds_`` (in
    ``train_supervised``) and ``fit_seconds_`` (tokenising, writing the file and training; not
    starting the process nor loading the model back).
    """

    def __init__(
        self,
        *,
        epoch: int = 5,
        lr: float = 0.1,
        word_ngrams: int = 1,
        dim: int = 100,
        thread: int = 1,
        random_state: int = 0,
    ):
        self.epoch = epoch
        self.lr = lr
        self.word_ngrams = word_ngrams
        self.dim = dim
        self.thread = thread
        self.random_state = random_state

    def fit(self, X: Sequence[str], y: Any) -> FastTextClassifier:
        """Train on texts ``X`` and labels ``y``."""
        import fasttext

        start = time.perf_counter()
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        lines = (f"__label__{code} {line}\n" for code, line in zip(codes, _lines(X), strict=True))
        params = {
            "epoch": self.epoch,
            "lr": self.lr,
            "wordNgrams": self.word_ngrams,
            "dim": self.dim,
            "thread": self.thread,
            "seed": self.random_state,
        }
        with tempfile.TemporaryDirectory() as folder:
            data, path = Path(folder, "train.txt"), Path(folder, "model.bin")
            data.write_text("".join(lines), encoding="utf-8")
            prepare_seconds = time.perf_counter() - start
            command = [sys.executable, "-c", _TRAIN, str(data), str(path), json.dumps(params)]
            env = {**os.environ, "MALLOC_PERTURB_": "255"}  # malloc fills with 255 ^ 255 = 0
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode:
                raise RuntimeError(f"fastText training failed: {done.stderr.strip()}")
            self.train_seconds_ = float(done.stdout)
            self.model_ = fasttext.load_model(str(path))
        self.fit_seconds_ = prepare_seconds + self.train_seconds_
        return self

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label of each text."""
        labels, _ = self.model_.predict(_lines(X), k=1)
        return self.classes_[[int(label[0].removeprefix("__label__")) for label in labels]]

    def save(self, path: str | os.PathLike) -> None:
        """Write the fastText model (``.bin``, or ``.ftz`` once quantized) to ``path``."""
        self.model_.save_model(str(path))

    def quantized(self) -> FastTextClassifier:
        """A copy holding fastText's product-quantized model, what ``.ftz`` files store."""
        import fasttext

        copy = clone(self)
        copy.classes_ = self.classes_
        with tempfile.TemporaryDirectory() as folder:
            self.save(Path(folder, "model.bin"))
            copy.model_ = fasttext.load_model(str(Path(folder, "model.bin")))
        copy.model_.quantize()
        return copy


def _lines(X: Sequence[str]) -> list[str]:
    return [" ".join(tokenize(text)) for text in X]


_TRAIN = """
import json, sys, time, fasttext
data, path, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
model = fasttext.train_supervised(data, verbose=0, **params)
print(time.perf_counter() - start)
model.save_model(path)
"""
"""Run by ``python -c`` in a fresh process: train, print the seconds taken, save the model."""


@dataclass
class AtThreshold:
    """A fitted binary classifier that predicts ``classes_[1]`` when P(positive) >= threshold."""

    model: BaseEstimator
    threshold: float

    def predict(self, X: Sequence[str]) -> np.ndarray:
        positive = self.model.predict_proba(X)[:, 1] >= self.threshold
        return self.model.classes_[positive.astype(int)]


MULTILABEL_PEER_C = (0.1, 1.0, 10.0)
"""The C grid of the multi-label peer, one value picked by validation macro-F1."""


def ovr_logreg_pipeline(C: float = 1.0) -> Pipeline:
    """TF-IDF of :func:`~dan_dice.text.tokenize`'s words feeding one class-balanced logistic
    regression per label (one-vs-rest)."""
    classifier = LogisticRegression(C=C, max_iter=1000, class_weight="balanced")
    return tfidf_pipeline(OneVsRestClassifier(classifier), tokenizer=tokenize)


@dataclass
class AtLabelThresholds:
    """A fitted multi-label model that predicts label ``k`` when P(label k) >= ``thresholds[k]``."""

    model: BaseEstimator
    thresholds: np.ndarray

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The ``(n, L)`` 0/1 indicator of the predicted labels."""
        return (self.model.predict_proba(X) >= self.thresholds).astype(np.int8)


def tune_multilabel_peer(
    split: Split, C_grid: Sequence[float] = MULTILABEL_PEER_C
) -> tuple[AtLabelThresholds, dict]:
    """TF-IDF + one-vs-rest balanced logistic regression on a multi-label ``split`` (its ``y``
    parts are ``(n, L)`` indicators), tuned as the DAN is: per C of ``C_grid``, each label's
    threshold is the F1-best on the validation part, and the C whose thresholded predictions
    have the best validation macro-F1 is kept.

    Returns the kept model at its thresholds and what was chosen: ``params`` (``"C=1"``),
    ``val_macro_f1``, ``val_macro_f1_by_C``, ``fit_seconds`` (the kept C's fit) and
    ``thresholds``.
    """
    if not C_grid:
        raise ValueError("C_grid must hold at least one value of C")
    best, by_C = None, {}
    for C in C_grid:
        start = time.perf_counter()
        model = ovr_logreg_pipeline(C).fit(split.X_train, split.y_train)
        seconds = time.perf_counter() - start
        thresholds, _ = best_thresholds(split.y_val, model.predict_proba(split.X_val))
        tuned = AtLabelThresholds(model, np.asarray(thresholds))
        val = multilabel_scores(split.y_val, tuned.predict(split.X_val))["macro_f1"]
        by_C[f"{C:g}"] = val
        if best is None or val > best[0]:
            best = (val, C, seconds, tuned)
    val, C, seconds, tuned = best
    return tuned, {
        "params": f"C={C:g}",
        "val_macro_f1": val,
        "val_macro_f1_by_C": by_C,
        "fit_seconds": round(seconds, 2),
        "thresholds": tuned.thresholds.tolist(),
    }


__getattr__ = moved(
    __name__,
    "0.2.0",
    **{
        name: f"dan_dice.comparison.{name}"
        for name in (
            "Method", "dan_method", "default_dan_method", "peer_methods", "evaluate",
            "describe", "texts_per_second", "model_size",
        )
    },
    **{name: f"dan_dice.reporting.peers.{name}" for name in ("TABLE_COLUMNS", "peer_table")},
    **{name: f"dan_dice.machine.{name}" for name in ("environment", "cpu_name")},
)  # fmt: skip
