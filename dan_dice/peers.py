"""The DAN's peers: TF-IDF with linear models and fastText, tuned, scored and timed alike.

Every method is tuned the same way on a :class:`~dan_dice.experiments.Split`: each candidate of
a small grid is fit on the training part, the one with the best validation F1 (positive class)
is kept, and only it is scored on the test part. The kept candidate is the final model, fit on
the training part (refitting it would reproduce it). Besides its scores, each method reports
the seconds of that fit, its prediction throughput on the test texts (raw text in, labels out)
and the bytes of its saved model. Benchmarks run it all on one thread.

The multi-label peer (:func:`tune_multilabel_peer`, TF-IDF + one-vs-rest logistic regression)
is tuned alike, by validation macro-F1 at per-label thresholds tuned on validation.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterGrid
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from . import __version__
from .experiments import Config, Split
from .metrics import best_threshold, best_thresholds, multilabel_scores, scores
from .text import tokenize

TFIDF_FEATURES = [
    {"tfidf__analyzer": ["word"], "tfidf__ngram_range": [(1, 1), (1, 2)]},
    {"tfidf__analyzer": ["char_wb"], "tfidf__tokenizer": [None], "tfidf__ngram_range": [(2, 5)]},
]
"""Word uni- and bigrams of the project's tokenizer, or character 2-5-grams within words."""
FASTTEXT_GRID = {"epoch": [5, 25], "lr": [0.1, 0.5], "word_ngrams": [1, 2]}


def tfidf_pipeline(classifier: BaseEstimator) -> Pipeline:
    """Sublinear TF-IDF of the words of :func:`~dan_dice.text.tokenize` feeding ``classifier``."""
    features = TfidfVectorizer(sublinear_tf=True, tokenizer=tokenize, token_pattern=None)
    return Pipeline([("tfidf", features), ("clf", classifier)])


def _tfidf_grid(C: Sequence[float]) -> list[dict]:
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


@dataclass
class AtThreshold:
    """A fitted binary classifier that predicts ``classes_[1]`` when P(positive) >= threshold."""

    model: BaseEstimator
    threshold: float

    def predict(self, X: Sequence[str]) -> np.ndarray:
        positive = self.model.predict_proba(X)[:, 1] >= self.threshold
        return self.model.classes_[positive.astype(int)]


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


def peer_methods(config: Config | None = None, dan_losses: Sequence[str] = ()) -> list[Method]:
    """TF-IDF + logistic regression (balanced, threshold tuned), TF-IDF + linear SVM, fastText,
    the DAN with its defaults and, for each of ``dan_losses``, the DAN as the study grid trains
    it."""
    config = config or Config()
    return [
        Method(
            "TF-IDF + LogReg",
            lambda seed: tfidf_pipeline(LogisticRegression(max_iter=1000, class_weight="balanced")),
            _tfidf_grid([1, 10, 100]),
            tune_threshold=True,
        ),
        Method(
            "TF-IDF + LinearSVC",
            lambda seed: tfidf_pipeline(LinearSVC()),
            _tfidf_grid([0.1, 1, 10]),
        ),
        Method("fastText", lambda seed: FastTextClassifier(random_state=seed), FASTTEXT_GRID, True),
        default_dan_method(),
        *(dan_method(loss, config) for loss in dan_losses),
    ]


def evaluate(method: Method, split: Split, seed: int = 0) -> tuple[dict, BaseEstimator]:
    """Tune ``method`` on ``split`` and score the kept model on its test part.

    Returns the record (chosen ``params``, ``val_f1``, the test scores of
    :func:`~dan_dice.metrics.scores`, ``fit_seconds``, ``texts_per_second``, ``size_bytes``)
    and the model.
    """
    n_classes = len(split.target_names)
    best = None
    for params in ParameterGrid(method.grid):
        model = method.build(seed).set_params(**params)
        start = time.perf_counter()
        if method.early_stopping:
            model.fit(split.X_train, split.y_train, validation_data=(split.X_val, split.y_val))
        else:
            model.fit(split.X_train, split.y_train)
        seconds = getattr(model, "fit_seconds_", time.perf_counter() - start)
        if method.tune_threshold:
            proba = model.predict_proba(split.X_val)[:, 1]
            model = AtThreshold(model, best_threshold(split.y_val, proba)[0])
        val_f1 = scores(split.y_val, model.predict(split.X_val), n_classes)["f1"]
        if best is None or val_f1 > best[0]:
            best = (val_f1, params, seconds, model)
    val_f1, params, seconds, model = best
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


MULTILABEL_PEER_C = (0.1, 1.0, 10.0)
"""The C grid of the multi-label peer, one value picked by validation macro-F1."""


def ovr_logreg_pipeline(C: float = 1.0) -> Pipeline:
    """TF-IDF feeding one class-balanced logistic regression per label (one-vs-rest)."""
    classifier = LogisticRegression(C=C, max_iter=1000, class_weight="balanced")
    return tfidf_pipeline(OneVsRestClassifier(classifier))


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


TABLE_COLUMNS = [
    "dataset", "method", "runs", "accuracy", "f1", "macro_f1",
    "fit_s", "texts_per_s", "size_MB", "chosen",
]  # fmt: skip


def peer_table(records: Sequence[dict]) -> pd.DataFrame:
    """One row per dataset and method: test scores as mean ± std over seeds, the mean fit
    seconds, prediction throughput and model size, and the distinct parameters chosen."""
    frame = pd.DataFrame(list(records))
    rows = []
    for (dataset, method), runs in frame.groupby(["dataset", "method"], sort=False):
        rows.append(
            {
                "dataset": dataset,
                "method": method,
                "runs": len(runs),
                **{metric: _mean_std(runs[metric]) for metric in ("accuracy", "f1", "macro_f1")},
                "fit_s": f"{runs['fit_seconds'].mean():.2f}",
                "texts_per_s": f"{runs['texts_per_second'].mean():,.0f}",
                "size_MB": f"{runs['size_bytes'].mean() / 1e6:.3g}",
                "chosen": "; ".join(dict.fromkeys(runs["params"])),
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _mean_std(values: pd.Series) -> str:
    if len(values) == 1:
        return f"{values.iloc[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def environment() -> str:
    """The machine, its current load and the library versions, in one line for a report."""
    packages = ["numpy", "scikit-learn", "torch", "fasttext-numpy2"]
    versions = ", ".join(f"{name} {_version(name)}" for name in packages)
    return (
        f"{platform.platform()}, {cpu_name()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}, dan_dice {__version__}, "
        f"{versions}"
    )


def cpu_name() -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
