"""Continued training: :class:`IncrementalMixin` gives ``DANClassifier`` its ``partial_fit``,
one epoch of :func:`~dan_dice.training.train_epoch` a call, with what it needs: per-text
weights checked, the labels of a first call, and a vocabulary that grows with the data.

New words join the vocabulary once they have been seen ``min_count`` times across the calls
and have a pretrained vector (a word without one would start at the mean vector, which the
unknown word already stands for); their rows are appended to the embedding table, and to the
optimiser's moments, so the ids of the known words never change.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

from .embeddings import WordVectors, embedding_matrix, load_word_vectors
from .losses import LossFn, get_loss, takes_weight
from .model import DAN
from .multilabel_losses import get_multilabel_loss
from .params import Threshold
from .targets import MULTILABEL, check_targets, encode_targets, multilabel_type
from .text import Vocabulary, check_texts, count_tokens
from .training import (
    evaluate,
    make_optimizers,
    resolve_device,
    torch_threads,
    train_epoch,
)


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """``sample_weight`` as float64 weights, one per text, finite and ``>= 0`` with a positive
    sum (None stays None: every text weighs 1)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        return np.full(n_samples, float(sample_weight))
    try:
        weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample_weight must be numbers, one per text: {exc}") from exc
    if weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have one weight per text: {n_samples} texts, "
            f"sample_weight of shape {weight.shape}"
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    if n_samples and weight.sum() <= 0:
        raise ValueError("sample_weight sums to 0: no text would count")
    return weight


def first_targets(y: Any, n_samples: int, classes: Any) -> tuple[str, np.ndarray]:
    """``(y_type, classes)`` fixed by a first ``partial_fit`` call: from ``classes`` (every
    label the model will ever see, though this call's ``y`` may hold only some), or for a
    multi-label indicator from its width."""
    y_type = multilabel_type(y)
    if classes is None:
        if y_type != "multilabel-indicator":
            raise ValueError(
                "the first partial_fit call needs classes=..., every label the model will "
                "see (later calls may hold only some); a multi-label indicator's width "
                "fixes its labels without it"
            )
        return check_targets(y, n_samples)[:2]
    labels = np.unique(np.asarray(list(classes), dtype=object))
    if len(labels) < 2:
        raise ValueError(f"classes must hold two labels or more, got {labels.tolist()}")
    labels = np.array(labels.tolist())  # a plain dtype when the labels allow one
    if y_type is not None:
        return y_type, labels
    return ("binary" if len(labels) == 2 else "multiclass"), labels


def grow_vocabulary(
    vocabulary: Vocabulary, counts: Counter[str], min_count: int, vectors: WordVectors
) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary with the words of ``counts`` seen ``min_count`` times that it lacks and
    that have a pretrained vector, most frequent first; and those words' vectors."""
    index = vectors.index
    new = [
        token
        for token, count in counts.most_common()
        if count >= min_count and token not in vocabulary.index and token in index
    ]
    if not new:
        return vocabulary, np.zeros((0, vectors.dim), dtype=np.float32)
    rows = vectors.vectors[[index[token] for token in new]].astype(np.float32)
    return Vocabulary([*vocabulary.tokens, *new]), rows


@torch.no_grad()
def add_embedding_rows(
    model: torch.nn.Module, optimizers: list[torch.optim.Optimizer], rows: np.ndarray
) -> None:
    """Append ``rows`` to ``model``'s embedding table, in place, with zero moments in any
    optimiser state of the table (as if those rows had never had a gradient)."""
    if not len(rows):
        return
    weight = model.embedding.weight
    weight.data = torch.cat([weight.data, torch.as_tensor(rows).to(weight)])
    model.embedding.num_embeddings = len(weight)
    for optimizer in optimizers:
        state = optimizer.state.get(weight, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                moments = state[key]
                state[key] = torch.cat([moments, moments.new_zeros(len(rows), moments.shape[1])])


class IncrementalMixin:
    """``partial_fit`` for :class:`~dan_dice.estimator.DANClassifier`, and the steps it shares
    with ``fit``: a new network, the training loss, the vocabulary grown. The estimator
    provides the parameters and the rest (``_pack``, ``_check_validation``,
    ``_fit_threshold``)."""

    def partial_fit(
        self,
        X: Sequence[str],
        y: Any,
        classes: Any = None,
        *,
        sample_weight: Any = None,
        validation_data: tuple | None = None,
    ) -> IncrementalMixin:
        """One epoch over ``(X, y)``, from the current weights, with no early stopping: for
        data that arrive over time or do not fit in memory (read it in chunks).

        The first call on an unfitted model needs ``classes`` (every label it will see),
        except for a multi-label indicator, whose width fixes the labels; the classes then
        stay, and an unknown label is an error. Words seen ``min_count`` times across the
        calls join the vocabulary when they have a pretrained vector. The optimiser state
        persists between calls in memory (``optimizers_``), not in saved files. The threshold
        is re-tuned, and ``best_validation_score_`` and ``collapsed_`` updated, only when
        ``validation_data`` is given; ``sample_weight`` weighs the training loss only. Losses
        that count the labels (``class_weight="balanced"``, ``"wbce"``, ``"class_balanced"``,
        ...) count those of each call."""
        X = check_texts(X)
        first = not hasattr(self, "module_")
        if first:
            self._check_params()
            self.y_type_, self.classes_ = first_targets(y, len(X), classes)
        elif classes is not None and list(np.unique(classes)) != self.classes_.tolist():
            raise ValueError(
                f"classes={list(np.unique(classes))} differ from the model's "
                f"{self.classes_.tolist()}: the output classes stay fixed"
            )
        y = encode_targets(y, len(X), self.y_type_, self.classes_)
        weight = check_sample_weight(sample_weight, len(X))
        val = None if validation_data is None else self._check_validation(validation_data)
        loss_fn = self._loss_fn(y, weight)
        device = resolve_device(self.device)
        rng_devices = [device] if device.type == "cuda" else []
        with torch_threads(self.num_threads), torch.random.fork_rng(devices=rng_devices):
            seed = check_random_state(self.random_state).randint(2**31)
            torch.manual_seed(seed + len(getattr(self, "history_", ())))  # a new order a call
            if first:
                self.word_counts_ = count_tokens(X)
                self.vocabulary_ = Vocabulary.from_counts(self.word_counts_, self.min_count)
                self.module_, self.history_, self.collapsed_ = self._new_module(y), [], False
                self.best_validation_score_ = math.nan
            else:
                self._grow_vocabulary(X, getattr(self, "optimizers_", []))
            model = self.module_.to(device)
            if not hasattr(self, "optimizers_"):
                self.optimizers_ = make_optimizers(model, self.lr, self.weight_decay)
            n_classes, epoch = len(self.classes_), len(self.history_) + 1
            data = self._pack(X, y, device, weight=weight)
            scores = train_epoch(
                model,
                loss_fn,
                data,
                self.optimizers_,
                n_classes=n_classes,
                batch_size=self.batch_size,
                threshold=self.threshold,
                epoch=epoch,
            )
            record = {"epoch": epoch, **{f"train_{k}": v for k, v in scores.items()}}
            if val is not None:
                val_data = self._pack(*val, device)
                scores = evaluate(model, loss_fn, val_data, n_classes, self.threshold)
                record.update({f"val_{k}": v for k, v in scores.items()})
        self.module_ = model.cpu().eval()
        self.history_.append(record)
        self.best_epoch_ = epoch
        if val is not None:
            tuned = Threshold.parse(self.threshold).tuned and "val_tuned_f1" in record
            self.best_validation_score_ = record["val_tuned_f1" if tuned else "val_f1"]
            self.collapsed_ = bool(record["val_collapsed"])
        if val is not None or first:
            val_data = val_data if val is not None else None
            self.threshold_ = self._fit_threshold(val_data, Threshold.parse(self.threshold))
        return self

    def _grow_vocabulary(self, X: list[str], optimizers: list) -> None:
        """Count ``X``'s words and add those now due (:mod:`dan_dice.incremental`)."""
        counts = getattr(self, "word_counts_", Counter())
        counts.update(count_tokens(X))
        self.word_counts_ = counts
        vectors = load_word_vectors(self.embeddings)
        known = self.embedding_coverage_ * (len(self.vocabulary_) - 1)
        self.vocabulary_, rows = grow_vocabulary(self.vocabulary_, counts, self.min_count, vectors)
        add_embedding_rows(self.module_, optimizers, rows)
        self.embedding_coverage_ = (known + len(rows)) / max(len(self.vocabulary_) - 1, 1)

    def _new_module(self, y: np.ndarray) -> DAN:
        """An untrained network over ``vocabulary_``, its table from the pretrained vectors."""
        matrix, self.embedding_coverage_ = embedding_matrix(
            self.vocabulary_, load_word_vectors(self.embeddings)
        )
        multilabel = self.y_type_ in MULTILABEL
        n_classes = len(self.classes_)
        model = self._build_module(matrix, 1 if n_classes == 2 and not multilabel else n_classes)
        if multilabel:
            model.start_at_rates(y.mean(0))
        return model

    def _loss_fn(self, y: np.ndarray, weight: np.ndarray | None) -> LossFn:
        """The loss for training labels ``y``; one that cannot take ``sample_weight`` refuses
        it here rather than in the middle of training."""
        if self.y_type_ in MULTILABEL:
            if self.class_weight is not None:
                raise ValueError(
                    "class_weight applies to single-label tasks; for multi-label data use "
                    "loss='class_balanced' or loss='distribution_balanced'"
                )
            loss_fn = get_multilabel_loss(self.loss, y, self.loss_params)
        else:
            loss_fn = get_loss(
                self.loss,
                y,
                len(self.classes_),
                self.loss_params,
                class_weight=self._class_weight(),
            )
        if weight is not None and not takes_weight(loss_fn):
            raise ValueError(
                f"loss={self.loss!r} cannot take sample_weight: a callable loss takes the "
                "weights as a third argument, f(logits, target, weight=None)"
            )
        return loss_fn
