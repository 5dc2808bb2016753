"""``DANClassifier``: the Deep Averaging Network behind the scikit-learn classifier API."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .embeddings import DEFAULT, embedding_matrix, load_word_vectors
from .losses import get_loss
from .metrics import best_threshold
from .model import DAN
from .text import Vocabulary, check_texts
from .training import PackedTexts, predict_logits, resolve_device, torch_threads, train


class DANClassifier(ClassifierMixin, BaseEstimator):
    """A GloVe-averaging text classifier trained with an imbalance-aware loss.

    Takes raw texts (any sequence of ``str``) and labels of any type. The network averages
    pretrained word vectors, passes the mean through ``len(hidden_sizes)`` ReLU layers and
    outputs one logit (two classes) or one per class. Texts that are empty or contain no known
    word are predicted from the unknown-word vector; they are never rejected.

    Parameters
    ----------
    loss : str or callable, default="dice"
        A name from :data:`dan_dice.losses.LOSSES` (``"dice"``, ``"wbce"``, ``"mse"``,
        ``"bce"``, ...) or ``f(logits, target) -> scalar tensor``.
    loss_params : dict, default=None
        Keyword parameters of the named loss (e.g. ``{"smooth": 1.0}``).
    hidden_sizes : sequence of int, default=(256, 128, 64)
        Widths of the hidden layers (three, as in the study).
    dropout : float, default=0.2
        Dropout after each hidden layer.
    word_dropout : float, default=0.3
        Probability of dropping a whole token before averaging, at training time.
    embeddings : str or path-like, default="glove-6b-50d"
        ``"glove-6b-50d"`` (bundled) or a GloVe / word2vec / ``.kv`` file.
    freeze_embeddings : bool, default=False
        Keep the word vectors fixed. By default they are fine-tuned, which measured better
        on both study datasets (``benchmarks/defaults.py``).
    min_count : int, default=2
        Training tokens seen fewer times are read as unknown. Words seen once (user names,
        links, typos) rarely recur; reading them as the unknown word trains that vector for
        rare words. 2 scored better on validation than 1, with a vocabulary 2.1-2.5x smaller
        on the study's datasets (``benchmarks/defaults.py``).
    lr, batch_size, max_epochs, patience, weight_decay
        Adam's learning rate, the mini-batch size, the most epochs, how many epochs without a
        better validation F1 stop training, and Adam's L2 penalty.
    validation_fraction : float, default=0.2
        Share of the training data held out (stratified) to pick the best epoch, unless
        ``validation_data`` is given to :meth:`fit`.
    threshold : float or "tune", default=0.5
        Decision threshold on P(positive) for two classes; the best epoch is the one with the
        best validation F1 at this threshold. ``"tune"`` finds, at every epoch, the threshold
        with the best validation F1, and keeps the epoch (then the threshold) that scores
        best. Class-weighted losses move the F1-optimal threshold away from 0.5 (``wbce`` on
        data whose positives are the majority puts it near 0.15): tuning it lets them be
        judged at their own best operating point.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to train. The fitted network is kept on the CPU, so fitted models pickle and
        predict anywhere.
    num_threads : int or None, default=1
        Torch CPU threads during ``fit`` and prediction (restored afterwards); one is fastest
        for this small network. ``None`` keeps torch's own setting.
    random_state : int, RandomState or None, default=None
        Seed of the split, initialisation, batch order and dropout; an int gives identical
        models on the CPU.
    verbose : int, default=0
        ``> 0`` shows a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray
        The labels seen in ``fit``; for two classes ``classes_[1]`` is the positive one.
    vocabulary_ : Vocabulary
        The training vocabulary (id 0 is the unknown word).
    module_ : DAN
        The trained torch network, on the CPU, in eval mode.
    history_ : list of dict
        Per epoch: train and validation loss, accuracy, F1 and more (at the fixed threshold,
        or 0.5 when it is tuned; ``tuned_f1`` is the F1 at the best threshold).
    best_epoch_ : int
        The epoch restored at the end (best validation F1).
    best_validation_score_ : float
        That epoch's validation F1 at the threshold :meth:`predict` uses (for more than two
        classes, the macro F1).
    threshold_ : float
        The decision threshold used by :meth:`predict` (two classes only).
    embedding_coverage_ : float
        Share of the vocabulary that had a pretrained vector.
    """

    def __init__(
        self,
        *,
        loss: Any = "dice",
        loss_params: dict | None = None,
        hidden_sizes: Sequence[int] = (256, 128, 64),
        dropout: float = 0.2,
        word_dropout: float = 0.3,
        embeddings: str | os.PathLike = DEFAULT,
        freeze_embeddings: bool = False,
        min_count: int = 2,
        lr: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 30,
        patience: int = 5,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.2,
        threshold: float | str = 0.5,
        device: str = "auto",
        num_threads: int | None = 1,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ):
        self.loss = loss
        self.loss_params = loss_params
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.min_count = min_count
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.threshold = threshold
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Sequence[str], y: Any, *, validation_data: tuple | None = None):
        """Train on texts ``X`` and labels ``y``; ``validation_data=(X_val, y_val)`` is optional."""
        self._check_params()
        X = check_texts(X)
        y = _check_labels(y, len(X))
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has a single class ({self.classes_.tolist()[0]!r}): need two or more"
            )
        rng = check_random_state(self.random_state)
        if validation_data is None:
            X, X_val, y_codes, y_val = train_test_split(
                X,
                y_codes,
                test_size=self.validation_fraction,
                stratify=y_codes,
                random_state=rng.randint(2**31),
            )
        else:
            X_val, y_val = _check_validation(validation_data, self.classes_)
        device = resolve_device(self.device)
        n_classes = len(self.classes_)
        loss_fn = get_loss(self.loss, y_codes, n_classes, self.loss_params)

        self.vocabulary_ = Vocabulary.build(X, min_count=self.min_count)
        matrix, self.embedding_coverage_ = embedding_matrix(
            self.vocabulary_, load_word_vectors(self.embeddings)
        )
        rng_devices = [device] if device.type == "cuda" else []
        with torch_threads(self.num_threads), torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(rng.randint(2**31))
            model = DAN(
                matrix,
                hidden_sizes=tuple(self.hidden_sizes),
                n_outputs=1 if n_classes == 2 else n_classes,
                dropout=self.dropout,
                word_dropout=self.word_dropout,
                freeze_embeddings=self.freeze_embeddings,
            ).to(device)
            val_data = self._pack(X_val, y_val, device)
            result = train(
                model,
                loss_fn,
                self._pack(X, y_codes, device),
                val_data,
                n_classes=n_classes,
                lr=self.lr,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience,
                weight_decay=self.weight_decay,
                threshold=self.threshold,
                verbose=self.verbose,
            )
        self.module_ = model.cpu()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_validation_score_ = result.best_score
        self.threshold_ = self._fit_threshold(val_data)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(n_texts, n_classes)``, columns ordered as ``classes_``."""
        logits = self._logits(X)
        if logits.dim() == 1:
            positive = torch.sigmoid(logits)
            return torch.stack([1 - positive, positive], 1).numpy()
        return torch.softmax(logits, 1).numpy()

    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        """Scores whose sign gives the prediction for two classes; per-class logits otherwise."""
        logits = self._logits(X).numpy()
        if logits.ndim == 1:
            return logits - np.log(self.threshold_ / (1 - self.threshold_))
        return logits

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """Predicted labels (for two classes: ``P(positive) >= threshold_``)."""
        scores = self.decision_function(X)
        codes = (scores >= 0).astype(int) if scores.ndim == 1 else scores.argmax(1)
        return self.classes_[codes]

    def score(self, X: Sequence[str], y: Any, sample_weight=None) -> float:
        """Accuracy on ``(X, y)``; labels never seen in ``fit`` are an error, not a miss."""
        check_is_fitted(self)
        y = _check_labels(y, len(check_texts(X)))
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ValueError(f"y has labels not seen in fit: {unseen.tolist()}")
        return super().score(X, y, sample_weight=sample_weight)

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to ``path`` (weights + JSON, no pickle): see ``persistence``."""
        from .persistence import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DANClassifier:
        """Read a model written by :meth:`save`, on the CPU, without unpickling anything."""
        from .persistence import load_model

        return load_model(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        return tags

    def _logits(self, X: Sequence[str]) -> torch.Tensor:
        check_is_fitted(self)
        X = check_texts(X, allow_empty=True)
        data = self._pack(X, np.zeros(len(X), dtype=np.int64), torch.device("cpu"))
        with torch_threads(self.num_threads):
            return predict_logits(self.module_, data)

    def _pack(self, X: Sequence[str], y: np.ndarray, device: torch.device) -> PackedTexts:
        ids, offsets = self.vocabulary_.encode_batch(X)
        return PackedTexts.from_numpy(ids, offsets, y, device)

    def _fit_threshold(self, val_data: PackedTexts) -> float:
        if len(self.classes_) != 2:
            return 0.5
        if self.threshold != "tune":
            return float(self.threshold)
        val_data = val_data.to(torch.device("cpu"))
        proba = torch.sigmoid(predict_logits(self.module_, val_data))
        return best_threshold(val_data.y.numpy(), proba.numpy())[0]

    def _check_params(self) -> None:
        positive_ints = ("batch_size", "max_epochs", "patience", "min_count")
        if self.num_threads is not None:
            positive_ints += ("num_threads",)
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, low, high in (
            ("dropout", 0.0, 1.0),
            ("word_dropout", 0.0, 1.0),
            ("validation_fraction", 0.0, 1.0),
        ):
            value = getattr(self, name)
            low_ok = value >= low if name != "validation_fraction" else value > low
            if not isinstance(value, numbers.Real) or not (low_ok and value < high):
                raise ValueError(f"{name} must be in [{low}, {high}), got {value!r}")
        if not isinstance(self.lr, numbers.Real) or not 0 < self.lr < math.inf:
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        if not isinstance(self.weight_decay, numbers.Real) or not 0 <= self.weight_decay < math.inf:
            raise ValueError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}"
            )
        sizes = np.asarray(self.hidden_sizes)
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or (sizes <= 0).any():
            raise ValueError(
                f"hidden_sizes must be a sequence of positive integers, got {self.hidden_sizes!r}"
            )
        t = self.threshold
        if t != "tune" and not (isinstance(t, numbers.Real) and 0 < t < 1):
            raise ValueError(f"threshold must be in (0, 1) or 'tune', got {t!r}")


def _check_labels(y: Any, n_samples: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"X and y have different lengths: {n_samples} texts, {len(y)} labels")
    if pd.isna(y).any():
        raise ValueError("y has missing labels (NaN or None)")
    check_classification_targets(y)
    return y


def _check_validation(validation_data: Any, classes: np.ndarray) -> tuple[list[str], np.ndarray]:
    try:
        X_val, y_val = validation_data
    except (TypeError, ValueError) as exc:
        raise ValueError("validation_data must be a pair (X_val, y_val)") from exc
    X_val = check_texts(X_val)
    y_val = _check_labels(y_val, len(X_val))
    unseen = np.setdiff1d(np.unique(y_val), classes)
    if len(unseen):
        raise ValueError(f"validation labels not in the training labels: {unseen.tolist()}")
    return X_val, np.searchsorted(classes, y_val)
