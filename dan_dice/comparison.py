"""The comparison harness of the benchmarks: the DAN and its peers tuned, scored and timed
alike.

Every method is tuned the same way on a :class:`~dan_dice.splits.Split`: each candidate of a
small grid is fit on the training part, the one with the best validation F1 (positive class) is
kept, and only it is scored on the test part. The kept candidate is the final model, fit on the
training part (refitting it would reproduce it). Besides its scores, each method reports the
seconds of that fit, its prediction throughput on the test texts (raw text in, labels out) and
the bytes of its saved model. Benchmarks run it all on one thread. The peer models themselves
are in :mod:`dan_dice.peers`.
"""

from __future__ import annotations

import pickle
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterGrid
from sklearn.svm import LinearSVC

from .metrics import best_threshold, scores
from .peers import FASTTEXT_GRID, AtThreshold, FastTextClassifier, tfidf_grid, tfidf_pipeline
from .splits import Split

if TYPE_CHECKING:
    from .experiments import Config


@dataclass(frozen=True)
class Method:
    """A model to compare: ``build(seed)`` gives it unfitted, ``grid`` its candidates.

    ``seeded`` methods are run once per seed; ``early_stopping`` ones are fit with
    ``validation_data`` (the DAN picks its epoch on the validation part); ``tune_threshold``
    ones predict at the threshold on P(positive) that is best on the validation part, as the
    DAN does by default.
    """

    name: str
    build: Callable[[int], BaseEstimator]
    grid: dict | list[dict]
    seeded: bool = False
    early_stopping: bool = False
    tune_threshold: bool = False


def dan_method(loss: str, config: Config) -> Method:
    """The DAN as the experiments train it: ``config``'s epochs, learning-rate grid and
    threshold (tuned on validation by default)."""

    def build(seed: int) -> BaseEstimator:
        return config.estimator(loss, seed)

    return Method(f"DAN ({loss})", build, {"lr": list(config.lrs)}, True, True)


def default_dan_method() -> Method:
    """The DAN as a user gets it: ``DANClassifier`` with every default, nothing tuned beyond
    what ``fit`` does itself (the epoch and the threshold, on the validation part)."""
    from .estimator import DANClassifier

    return Method("DAN (defaults)", lambda seed: DANClassifier(random_state=seed), {}, True, True)


def logreg_method() -> Method:
    """TF-IDF + logistic regression, balanced, at the threshold tuned on validation."""
    return Method(
        "TF-IDF + LogReg",
        lambda seed: tfidf_pipeline(LogisticRegression(max_iter=1000, class_weight="balanced")),
        tfidf_grid(),
        tune_threshold=True,
    )


def peer_methods(config: Config | None = None, dan_losses: Sequence[str] = ()) -> list[Method]:
    """TF-IDF + logistic regression (balanced, threshold tuned), TF-IDF + linear SVM, fastText,
    the soft vote of the DAN and the logistic regression, the DAN with its defaults and, for
    each of ``dan_losses``, the DAN as the study grid trains it."""
    if dan_losses and config is None:
        raise ValueError("dan_losses are trained as a grid's config says: pass the config")
    return [
        logreg_method(),
        Method(
            "TF-IDF + LinearSVC",
            lambda seed: tfidf_pipeline(LinearSVC(max_iter=10_000)),
            tfidf_grid(),
        ),
        Method("fastText", lambda seed: FastTextClassifier(random_state=seed), FASTTEXT_GRID, True),
        Method(SOFT_VOTE, lambda seed: DanTfidfVote(random_state=seed), {}, True, True, True),
        default_dan_method(),
        *(dan_method(loss, config) for loss in dan_losses),
    ]


SOFT_VOTE = "DAN + TF-IDF (soft vote)"


class DanTfidfVote(ClassifierMixin, BaseEstimator):
    """The mean of the probabilities of the DAN with its defaults and of the TF-IDF + LogReg
    peer, each fit and tuned as its own row of the table is: scikit-learn's
    ``VotingClassifier(voting="soft")`` over the two, frozen once fit
    (``sklearn.frozen.FrozenEstimator``). Its decision threshold is tuned on validation by
    :func:`evaluate`, as the LogReg peer's is.

    Attributes: ``vote_`` (the fitted ``VotingClassifier``), ``classes_``.
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X: Sequence[str], y, validation_data: tuple) -> DanTfidfVote:
        """Fit both members on ``X, y``, each tuned on ``validation_data``, then the vote."""
        X_val, y_val = validation_data
        members = []
        for method in (default_dan_method(), logreg_method()):
            model = tune(method, X, y, X_val, y_val, self.random_state)[3]
            members.append((method.name, FrozenEstimator(getattr(model, "model", model))))
        self.vote_ = VotingClassifier(members, voting="soft").fit(X, y)
        self.classes_ = self.vote_.classes_
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return self.vote_.predict_proba(X)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.vote_.predict(X)


def tune(method: Method, X, y, X_val, y_val, seed: int = 0) -> tuple:
    """Fit each candidate of ``method``'s grid on ``X, y`` and keep the one with the best F1
    on ``X_val, y_val`` (at its tuned threshold for ``tune_threshold`` methods).

    Returns ``(val_f1, params, fit_seconds, model)`` of the kept candidate."""
    n_classes = len(np.unique(y))
    best = None
    for params in ParameterGrid(method.grid):
        model = method.build(seed).set_params(**params)
        start = time.perf_counter()
        if method.early_stopping:
            model.fit(X, y, validation_data=(X_val, y_val))
        else:
            model.fit(X, y)
        seconds = getattr(model, "fit_seconds_", time.perf_counter() - start)
        if method.tune_threshold:
            model = AtThreshold(model, best_threshold(y_val, model.predict_proba(X_val)[:, 1])[0])
        val_f1 = scores(y_val, model.predict(X_val), n_classes)["f1"]
        if best is None or val_f1 > best[0]:
            best = (val_f1, params, seconds, model)
    return best


def evaluate(method: Method, split: Split, seed: int = 0) -> tuple[dict, BaseEstimator]:
    """Tune ``method`` on ``split`` and score the kept model on its test part.

    Returns the record (chosen ``params``, ``val_f1``, the test scores of
    :func:`~dan_dice.metrics.scores`, ``fit_seconds``, ``texts_per_second``, ``size_bytes``)
    and the model.
    """
    n_classes = len(split.target_names)
    parts = (split.X_train, split.y_train, split.X_val, split.y_val)
    val_f1, params, seconds, model = tune(method, *parts, seed)
    record = {
        "method": method.name,
        "seed": seed,
        "params": describe(params),
        "val_f1": val_f1,
        **scores(split.y_test, model.predict(split.X_test), n_classes),
        "fit_seconds": seconds,
        "texts_per_second": texts_per_second(model, split.X_test),
        "size_bytes": model_size(model),
    }
    return record, model


def describe(params: dict) -> str:
    """Grid parameters in short: ``C=10 char_wb (2, 5)`` (the tokenizer left out)."""
    words = []
    for key, value in sorted(params.items()):
        name = key.rpartition("__")[2]
        if name != "tokenizer":
            words.append(str(value) if name in ("analyzer", "ngram_range") else f"{name}={value}")
    return " ".join(words)


def texts_per_second(model: BaseEstimator, X: Sequence[str], repeats: int = 3) -> float:
    """Prediction throughput from raw texts: the median of ``repeats`` timed ``predict(X)``."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(X)
        seconds.append(time.perf_counter() - start)
    return len(X) / statistics.median(seconds)


def model_size(model: BaseEstimator) -> int:
    """Bytes of the saved model: its ``save(path)`` where it has one, else its pickle."""
    if not hasattr(model, "save"):
        return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "model")
        model.save(path)
        return path.stat().st_size
