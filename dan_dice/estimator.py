"""``DANClassifier``: the Deep Averaging Network behind the scikit-learn classifier API."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .embeddings import DEFAULT
from .explain import explain_texts
from .files import one_line
from .incremental import IncrementalMixin, check_sample_weight
from .losses import WEIGHTED_FORMS
from .metrics import best_threshold, tuned_thresholds
from .model import DAN
from .params import Threshold, check_params
from .persistence import check_saveable, read_model, save_model
from .splits import holdout
from .targets import (
    MULTILABEL,
    check_targets,
    check_validation_labels,
    decode_targets,
    encode_targets,
)
from .text import build_vocabulary, check_texts, encode_corpus
from .training import (
    CollapseWarning,
    PackedTexts,
    make_optimizers,
    predict_logits,
    resolve_device,
    torch_threads,
    train,
)


class DANClassifier(IncrementalMixin, ClassifierMixin, BaseEstimator):
    """A GloVe-averaging text classifier trained with an imbalance-aware loss.

    Takes raw texts (any sequence of ``str``) and labels of any type. The network pools
    pretrained word vectors (``pooling``), passes the pooled vector through
    ``len(hidden_sizes)`` ReLU layers and outputs one logit (two classes) or one per class.
    Texts that are empty or contain no known word are predicted from the unknown-word vector;
    they are never rejected.

    Multi-label tasks (each text has any number of labels) take a 0/1 indicator matrix (numpy,
    scipy sparse or a DataFrame, as ``MultiLabelBinarizer`` makes) or a list of label lists;
    the network has one sigmoid output per label, each label its own tuned threshold, and
    :meth:`predict` answers in the form ``y`` had. Losses for them: ``"ce"`` (binary
    cross-entropy per label), ``"focal"``, ``"class_balanced"``, ``"distribution_balanced"``
    and ``"dice"`` (:mod:`dan_dice.multilabel_losses`).

    Parameters
    ----------
    loss : str or callable, default="ce"
        A name from :data:`dan_dice.losses.LOSSES` (``"ce"``, ``"dice"``, ``"wbce"``, ``"mse"``,
        ...) or ``f(logits, target) -> scalar tensor``. The default, cross-entropy, has a binary
        form (one logit, binary cross-entropy) and a multi-class one (softmax), so every task
        trains with the defaults; with the tuned threshold it scored best on validation across
        the datasets of ``benchmarks/defaults.py``.
    loss_params : dict, default=None
        Keyword parameters of the named loss (e.g. ``{"smooth": 1.0}``).
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the cross-entropy-type losses (``"ce"``, ``"bce"``), as in
        scikit-learn: ``"balanced"`` is ``n_samples / (n_classes * count(class))``, a dict maps
        each label to its weight (missing labels weigh 1).
    pooling : {"mean", "attention", "max", "mean+max", "attention+max"}, default="attention+max"
        How the word vectors of a text become one vector (:mod:`dan_dice.pooling`). ``"mean"``
        is the DAN of the study; ``"attention"`` learns one scoring vector (started at zero, so
        training starts from the mean) that lets the few words carrying the class outweigh the
        rest; ``"+max"`` appends their element-wise maximum. ``"attention+max"`` had the best
        validation score across the datasets of ``benchmarks/defaults.py``.
    hidden_sizes : sequence of int, default=(256, 128, 64)
        Widths of the hidden layers (three, as in the study).
    dropout : float, default=0.2
        Dropout after each hidden layer.
    word_dropout : float, default=0.3
        Probability of dropping a whole token before pooling, at training time.
    embeddings : str or path-like, default="glove-6b-50d"
        ``"glove-6b-50d"`` (bundled) or a GloVe / word2vec / ``.kv`` file.
    freeze_embeddings : bool, default=False
        Keep the word vectors fixed. By default they are fine-tuned, which scored better on
        validation in all four tasks of ``benchmarks/defaults.py``.
    min_count : int, default=2
        Training tokens seen fewer times are read as unknown. Words seen once (user names,
        links, typos) rarely recur; reading them as the unknown word trains that vector for
        rare words. 1 did not score better on validation (2 of 4 tasks,
        ``benchmarks/defaults.py``) and gives a vocabulary 2.1-2.5x larger.
    lr, batch_size, weight_decay
        Adam's learning rate, the mini-batch size and Adam's L2 penalty.
    max_epochs : int, default=200
        The most passes over the training data; training normally stops earlier (below).
    patience, patience_steps : int, default=2 and 250
        Training stops once the validation score has not improved for ``patience`` epochs and
        ``patience_steps`` optimiser steps. Counting steps keeps small data sets, which make
        only a few steps an epoch, training until they have learned; on large ones the epochs
        decide. 2 and 250 score as 3 and 250 did on validation (within a standard deviation,
        on every dataset and training size of ``benchmarks/stopping.py``) in 0.87x the time
        (cyberbullying: 9.0 epochs instead of 11.8); 3 and 250 had replaced 0.1's 5 and 500.
    validation_fraction : float, default=0.2
        Share of the training data held out (stratified) to pick the best epoch, unless
        ``validation_data`` is given to :meth:`fit`.
    threshold : float, "tune" or "tune_global", default="tune"
        Decision threshold on P(positive) for two classes; the best epoch is the one with the
        best validation F1 at this threshold. ``"tune"`` finds, at every epoch, the threshold
        with the best validation F1, and keeps the epoch (then the threshold) that scores
        best: the positive-class F1 is what this toolkit is judged by. Class-weighted losses
        move the F1-optimal threshold away from 0.5 (``wbce`` on data whose positives are the
        majority puts it near 0.15): tuning it lets them be judged at their own best
        operating point. For multi-label fits ``"tune"`` gives every label its own F1-best
        threshold and ``"tune_global"`` one threshold for all, the macro-F1-best; a number is
        every label's threshold.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to train. The fitted network is kept on the CPU, so fitted models pickle and
        predict anywhere.
    num_threads : int or None, default=1
        Torch CPU threads during ``fit`` and prediction (restored afterwards). On 2 cores a
        default fit took 0.85x the time on both (``reports/speed.md``), but its results then
        differ in the last bits from one thread's: one thread gives bit-identical fits and
        leaves the other cores to parallel fits. ``None`` keeps torch's own setting.
    random_state : int, RandomState or None, default=None
        Seed of the split, initialisation, batch order and dropout; an int gives identical
        models on the CPU.
    verbose : int, default=0
        ``> 0`` shows a progress bar over epochs.
    warm_start : bool, default=False
        ``fit`` on a fitted model trains on from its weights (with its usual early stopping)
        instead of starting afresh; the classes stay and new words join the vocabulary, as
        in :meth:`partial_fit`.

    Attributes
    ----------
    classes_ : ndarray
        The labels seen in ``fit``; for two classes ``classes_[1]`` is the positive one. For a
        multi-label indicator, the column indices (a DataFrame's column names).
    y_type_ : str
        ``"binary"``, ``"multiclass"``, ``"multilabel-indicator"`` or
        ``"multilabel-sequences"`` (label lists).
    vocabulary_ : Vocabulary
        The training vocabulary (id 0 is the unknown word).
    module_ : DAN
        The trained torch network, on the CPU, in eval mode.
    history_ : list of dict
        Per epoch: train and validation loss, accuracy, F1 and more (at the fixed threshold,
        or 0.5 when it is tuned; ``tuned_f1`` is the F1 at the best threshold).
    best_epoch_ : int
        The epoch restored at the end (best validation F1 among the epochs that have not
        collapsed onto one class, if any has not).
    collapsed_ : bool
        Whether the restored model predicts one class for at least 99 % of the validation
        texts although the labels are not that one-sided; ``fit`` then warns with a
        :class:`~dan_dice.training.CollapseWarning`.
    best_validation_score_ : float
        That epoch's validation F1 at the threshold :meth:`predict` uses (for more than two
        classes, the macro F1).
    threshold_ : float or ndarray
        The decision threshold used by :meth:`predict` (two classes), or one per label
        (multi-label).
    embedding_coverage_ : float
        Share of the vocabulary that had a pretrained vector.
    optimizers_ : list of torch.optim.Optimizer
        The optimisers and their state, kept in memory for :meth:`partial_fit`; :meth:`save`
        does not write them, so a loaded model continues with fresh optimiser state.
    word_counts_ : Counter
        How often continued training (:meth:`partial_fit`, ``warm_start``) has seen each word,
        toward ``min_count``; in memory only, like ``optimizers_``.
    """

    def __init__(
        self,
        *,
        loss: Any = "ce",
        loss_params: dict | None = None,
        class_weight: str | Mapping | None = None,
        pooling: str = "attention+max",
        hidden_sizes: Sequence[int] = (256, 128, 64),
        dropout: float = 0.2,
        word_dropout: float = 0.3,
        embeddings: str | os.PathLike = DEFAULT,
        freeze_embeddings: bool = False,
        min_count: int = 2,
        lr: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 2,
        patience_steps: int = 250,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.2,
        threshold: float | str = "tune",
        device: str = "auto",
        num_threads: int | None = 1,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
    ):
        self.loss = loss
        self.loss_params = loss_params
        self.class_weight = class_weight
        self.pooling = pooling
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
        self.patience_steps = patience_steps
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.threshold = threshold
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def fit(
        self,
        X: Sequence[str],
        y: Any,
        *,
        sample_weight: Any = None,
        validation_data: tuple | None = None,
    ) -> DANClassifier:
        """Train on texts ``X`` and labels ``y``; ``validation_data=(X_val, y_val)`` is optional.

        ``y`` holds one label per text, or for multi-label tasks a 0/1 indicator matrix or a
        list of label lists (:mod:`dan_dice.targets`). ``sample_weight`` weighs each text's
        share of the training loss (times its ``class_weight``); validation, and so the epoch
        kept and the tuned threshold, stay unweighted. With ``warm_start`` a fitted model
        trains on from its weights."""
        self._check_params()
        threshold = Threshold.parse(self.threshold)
        X = check_texts(X)
        warm = self.warm_start and hasattr(self, "module_")
        if warm:
            y = encode_targets(y, len(X), self.y_type_, self.classes_)
        else:
            self.y_type_, self.classes_, y = check_targets(y, len(X))
        check_saveable(self)
        multilabel = self.y_type_ in MULTILABEL
        weight = check_sample_weight(sample_weight, len(X))
        rng = check_random_state(self.random_state)
        if validation_data is None:
            train_index, val_index = holdout(
                y, self.validation_fraction, rng.randint(2**31), self.classes_
            )
            X_val, y_val = [X[i] for i in val_index], y[val_index]
            X, y = [X[i] for i in train_index], y[train_index]
            weight = None if weight is None else weight[train_index]
        else:
            X_val, y_val = self._check_validation(validation_data)
        if multilabel:
            check_validation_labels(y_val, self.classes_)
        device = resolve_device(self.device)
        loss_fn = self._loss_fn(y, weight)
        if warm:
            self._grow_vocabulary(X, [])
        else:
            self.vocabulary_ = build_vocabulary(tuple(X), self.min_count)
            self.word_counts_ = Counter()
        rng_devices = [device] if device.type == "cuda" else []
        with torch_threads(self.num_threads), torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(rng.randint(2**31))
            model = (self.module_ if warm else self._new_module(y)).to(device)
            self.optimizers_ = make_optimizers(model, self.lr, self.weight_decay)
            val_data = self._pack(X_val, y_val, device, memo=True)
            result = train(
                model,
                loss_fn,
                self._pack(X, y, device, memo=True, weight=weight),
                val_data,
                n_classes=len(self.classes_),
                lr=self.lr,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience,
                patience_steps=self.patience_steps,
                weight_decay=self.weight_decay,
                threshold=threshold,
                verbose=self.verbose,
                optimizers=self.optimizers_,
            )
        self.module_ = model.cpu()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_validation_score_ = result.best_score
        self.collapsed_ = result.collapsed
        self.threshold_ = self._fit_threshold(val_data, threshold)
        if self.collapsed_:
            message = _collapse_message(result.history[self.best_epoch_ - 1], self)
            warnings.warn(message, CollapseWarning, stacklevel=2)
        return self

    def explain(self, X: Sequence[str], label: Any = None) -> list:
        """Each token's contribution to a class's logit, by exact occlusion (the logit minus
        the logit with that one occurrence left out; :mod:`dan_dice.explain`): for each text a
        list of ``(token, contribution)`` pairs in text order, one per occurrence, unknown
        words included. The class: the positive one for two classes, the predicted one (or
        ``label``) for more; for multi-label fits ``label`` names one label, or a list of
        labels for a dict of pairs per label."""
        check_is_fitted(self)
        return explain_texts(self, check_texts(X, allow_empty=True), label)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(n_texts, n_classes)``, columns ordered as ``classes_``;
        for multi-label fits each label's own probability."""
        logits = self._logits(X)
        if self.y_type_ in MULTILABEL:
            return torch.sigmoid(logits).numpy()
        if logits.dim() == 1:
            positive = torch.sigmoid(logits)
            return torch.stack([1 - positive, positive], 1).numpy()
        return torch.softmax(logits, 1).numpy()

    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        """Scores whose sign gives the prediction for two classes and for every label of a
        multi-label fit (the logit minus the threshold's); per-class logits otherwise."""
        logits = self._logits(X).numpy()
        if logits.ndim == 1 or self.y_type_ in MULTILABEL:
            threshold = np.asarray(self.threshold_, dtype=np.float64)
            return logits - (np.log(threshold) - np.log1p(-threshold))
        return logits

    def predict(self, X: Sequence[str]) -> Any:
        """Predicted labels (for two classes: ``P(positive) >= threshold_``); for multi-label
        fits every label whose probability reaches its threshold, as an indicator matrix or
        as label tuples, in the form ``y`` had in ``fit``."""
        scores = self.decision_function(X)
        multilabel = self.y_type_ in MULTILABEL
        codes = (
            (scores >= 0).astype(np.int64) if scores.ndim == 1 or multilabel else scores.argmax(1)
        )
        return decode_targets(codes, self.y_type_, self.classes_)

    def score(self, X: Sequence[str], y: Any, sample_weight=None) -> float:
        """Accuracy on ``(X, y)`` (subset accuracy for multi-label); labels never seen in
        ``fit`` are an error, not a miss."""
        check_is_fitted(self)
        X = check_texts(X)  # a list: a generator would be spent before predict reads it
        y = encode_targets(y, len(X), self.y_type_, self.classes_)
        predicted = encode_targets(self.predict(X), len(X), self.y_type_, self.classes_)
        if isinstance(sample_weight, Iterator):
            sample_weight = list(sample_weight)
        return float(accuracy_score(y, predicted, sample_weight=sample_weight))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted model to ``path`` (weights + JSON, no pickle): see ``persistence``.
        An existing file is replaced only with ``overwrite=True``. Returns the path."""
        check_is_fitted(self)
        return save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DANClassifier:
        """Read a model written by :meth:`save`, on the CPU, without unpickling anything."""
        stored = read_model(path)
        try:
            clf = cls(**stored.params)
            matrix = stored.weights["embedding.weight"].numpy()
            clf.module_ = clf._build_module(matrix, stored.n_outputs)
            clf.module_.load_state_dict(stored.weights)
            clf._check_params()
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # torch's: several lines
            raise ValueError(f"{path} is not a valid dan-dice model file: {one_line(exc)}") from exc
        clf.module_.eval()
        for name, value in stored.fitted.items():
            setattr(clf, name, value)
        return clf

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

    def _pack(
        self,
        X: Sequence[str],
        y: np.ndarray,
        device: torch.device,
        memo: bool = False,
        weight: np.ndarray | None = None,
    ) -> PackedTexts:
        """``X`` encoded; ``memo`` for the texts of ``fit``, which refits share
        (:func:`~dan_dice.text.encode_corpus`), never for those of ``predict``."""
        if memo:
            ids, offsets = encode_corpus(self.vocabulary_, tuple(X))
        else:
            ids, offsets = self.vocabulary_.encode_batch(X)
        return PackedTexts.from_numpy(ids, offsets, y, device, weight)

    def _check_validation(self, validation_data: Any) -> tuple[list[str], np.ndarray]:
        try:
            X_val, y_val = validation_data
        except (TypeError, ValueError) as exc:
            raise ValueError("validation_data must be a pair (X_val, y_val)") from exc
        X_val = check_texts(X_val, name="X_val")
        y_val = encode_targets(y_val, len(X_val), self.y_type_, self.classes_, name="y_val")
        if y_val.ndim == 1 and len(np.unique(y_val)) < 2:
            label = self.classes_[y_val[0]].item()
            raise ValueError(
                f"validation_data has a single class ({label!r}): the best "
                "epoch (and the tuned threshold) are chosen by validation F1, which needs at "
                "least two classes; pass validation texts of several classes, or no "
                "validation_data (a stratified part of the training data is then held out)"
            )
        return X_val, y_val

    def _fit_threshold(
        self, val_data: PackedTexts | None, threshold: Threshold
    ) -> float | np.ndarray:
        """The threshold(s) :meth:`predict` uses: tuned on ``val_data`` when ``threshold``
        asks for it (0.5 when there is no validation data yet), else the fixed one."""
        multilabel = self.y_type_ in MULTILABEL
        if len(self.classes_) != 2 and not multilabel:
            return 0.5
        if not threshold.tuned or val_data is None:
            fixed = 0.5 if threshold.tuned else threshold.value
            return np.full(len(self.classes_), fixed) if multilabel else fixed
        val_data = val_data.to(torch.device("cpu"))
        proba = torch.sigmoid(predict_logits(self.module_, val_data)).numpy()
        y = val_data.y.numpy()
        if not multilabel:
            return best_threshold(y, proba)[0]
        return tuned_thresholds(y, proba, threshold)

    def _class_weight(self) -> str | np.ndarray | None:
        """``class_weight`` as the losses take it: None, "balanced" or one weight per class."""
        weight = self.class_weight  # its form is checked with the other parameters
        if not isinstance(weight, Mapping):
            return weight
        unknown = [label for label in weight if label not in self.classes_]
        if unknown:
            raise ValueError(f"class_weight has labels not in y: {unknown}")
        return np.asarray([weight.get(label, 1.0) for label in self.classes_.tolist()], float)

    def _check_params(self) -> None:
        """Refuse a parameter value that :data:`~dan_dice.params.PARAMETER_CONSTRAINTS` does not
        accept."""
        check_params(self.get_params())

    def _build_module(self, matrix: np.ndarray, n_outputs: int) -> DAN:
        """The network these parameters describe, on the word vectors ``matrix``."""
        return DAN(
            matrix,
            hidden_sizes=tuple(self.hidden_sizes),
            n_outputs=n_outputs,
            dropout=self.dropout,
            word_dropout=self.word_dropout,
            freeze_embeddings=self.freeze_embeddings,
            pooling=self.pooling,
        )


def _collapse_message(epoch: dict[str, float], clf: DANClassifier) -> str:
    """The warning of a collapsed fit; it advises only what ``clf``'s case accepts."""
    remedies = [] if Threshold.parse(clf.threshold).tuned else ["threshold='tune'"]
    if clf.y_type_ in MULTILABEL:  # class_weight is refused there
        if clf.loss not in ("class_balanced", "distribution_balanced"):
            remedies.append("loss='distribution_balanced'")
    elif clf.class_weight is None and clf.loss in WEIGHTED_FORMS:
        remedies.append("class_weight='balanced'")
    remedies.append("more data, a larger lr or more patience_steps")
    return (
        f"the fitted model predicts one class for {epoch['val_majority_share']:.1%} of the "
        f"validation texts (epoch {int(epoch['epoch'])} restored, validation F1 "
        f"{epoch['val_f1']:.3f}): it learned little beyond the majority class. Try "
        + ", ".join(remedies)
    )
