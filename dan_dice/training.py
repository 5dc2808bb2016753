"""The one training loop, shared by the estimator, the command line and the experiments.

Adam on shuffled mini-batches. The training curves are running figures, as in skorch and Keras:
the mean loss of the epoch's mini-batches and the scores of their predictions, made while the
weights were still moving (and with dropout on), which costs nothing; rescoring the whole
training set after every epoch used to take a third of the time. After every epoch the model is
scored in eval mode on the validation set (loss, accuracy, F1 and more); the epoch with the
best validation score (F1 at the fixed threshold, or at the best threshold when it is tuned;
macro-F1 for more classes or labels) is restored at the end, and training stops early when it
has not improved for ``patience`` epochs and ``patience_steps`` optimiser steps. Counting steps
too matters on small data: 240 texts in batches of 128 are two steps an epoch, and five such
epochs end training before it has learned anything. An epoch whose predictions have collapsed
onto one class (or one label set) is never preferred to one whose predictions have not.

Three kinds of task share the loop: binary (one logit, float 0/1 targets), multi-class (one
logit per class, class indices) and multi-label (one logit per label, a 0/1 indicator matrix).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
import torch
from tqdm.auto import tqdm

from .losses import LossFn
from .metrics import (
    COLLAPSE_SHARE,
    best_threshold,
    majority_share,
    multilabel_scores,
    scores,
    tuned_thresholds,
)
from .params import Threshold, as_threshold


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite: training cannot continue from there."""


class CollapseWarning(UserWarning):
    """The trained model predicts one class for (nearly) every validation text while the labels
    are not that one-sided: a majority-class predictor, whatever its accuracy. Filter it like
    scikit-learn's ``ConvergenceWarning``: ``warnings.simplefilter("ignore", CollapseWarning)``."""


@dataclass
class PackedTexts:
    """Token ids of many texts in EmbeddingBag's packed layout, with their labels and optional
    per-text weights (the estimator's ``sample_weight``, which the losses take), on a device."""

    ids: torch.Tensor
    offsets: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor | None = None

    @classmethod
    def from_numpy(
        cls,
        ids: np.ndarray,
        offsets: np.ndarray,
        y: np.ndarray,
        device: torch.device,
        weight: np.ndarray | None = None,
    ) -> PackedTexts:
        lengths = np.diff(np.r_[offsets, len(ids)])
        to = lambda a: torch.tensor(a, dtype=torch.long, device=device)  # noqa: E731 (a copy)
        if weight is not None:
            weight = torch.tensor(weight, dtype=torch.float32, device=device)
        return cls(to(ids), to(offsets), to(lengths), to(y), weight)

    def __len__(self) -> int:
        return len(self.offsets)

    def to(self, device: torch.device) -> PackedTexts:
        weight = None if self.weight is None else self.weight.to(device)
        tensors = (self.ids, self.offsets, self.lengths, self.y)
        return PackedTexts(*(t.to(device) for t in tensors), weight)

    def take(self, index: torch.Tensor) -> PackedTexts:
        """The texts at ``index``, repacked."""
        lengths = self.lengths[index]
        offsets = torch.cumsum(lengths, 0) - lengths
        shift = torch.repeat_interleave(self.offsets[index] - offsets, lengths)
        ids = self.ids[torch.arange(len(shift), device=shift.device) + shift]
        weight = None if self.weight is None else self.weight[index]
        return PackedTexts(ids, offsets, lengths, self.y[index], weight)

    def chunks(self, size: int) -> Iterator[PackedTexts]:
        """Consecutive runs of at most ``size`` texts, each a view (no copy)."""
        starts = [*self.offsets.tolist(), len(self.ids)]
        for start in range(0, len(self), size):
            stop = min(start + size, len(self))
            first, last = starts[start], starts[stop]
            yield PackedTexts(
                self.ids[first:last],
                self.offsets[start:stop] - first,
                self.lengths[start:stop],
                self.y[start:stop],
                None if self.weight is None else self.weight[start:stop],
            )


@dataclass
class TrainingResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    collapsed: bool
    """Whether the restored epoch predicts one class for the validation set (:func:`collapsed`)."""


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when available; asking for CUDA without a GPU is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available; use 'cpu'")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return resolved


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads (``None``: leave the setting alone).

    One thread is fastest for this small network: with more, the per-step overhead of
    synchronising threads outweighs the tiny matrix products.
    """
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, data: PackedTexts, chunk: int = 8192) -> torch.Tensor:
    """Eval-mode logits of every text in ``data``."""
    model.eval()
    parts = [model(part.ids, part.offsets) for part in data.chunks(chunk)]
    if not parts:  # no text: logits of the right shape, with zero rows
        width = model.mlp[0].in_features  # the pooled vector's (twice the embedding's for +max)
        return model.head(torch.zeros(0, width, device=data.ids.device))
    return torch.cat(parts)


def loss_target(y: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Labels in the form losses expect: float 0/1 for one logit or for a multi-label indicator,
    class indices otherwise."""
    return y.float() if logits.dim() == 1 or y.dim() == 2 else y


def logits_to_labels(logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Class indices: ``P(positive) >= threshold`` for one logit, the largest logit otherwise."""
    if logits.dim() == 1:
        return (logits >= math.log(threshold / (1 - threshold))).long()
    return logits.argmax(1)


def evaluate(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: PackedTexts,
    n_classes: int,
    threshold: Threshold | float | str = 0.5,
) -> dict[str, float]:
    """Loss over the whole set, plus the scores of its eval-mode predictions
    (:func:`score_logits`)."""
    logits = predict_logits(model, data)
    loss = float(loss_fn(logits, loss_target(data.y, logits)))
    return {"loss": loss, **score_logits(logits, data.y, n_classes, threshold)}


def score_logits(
    logits: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    threshold: Threshold | float | str = 0.5,
    search: bool = True,
) -> dict[str, float]:
    """Accuracy, F1 and the other scores of the predictions at ``threshold`` (0.5 when it is
    tuned; :func:`~dan_dice.metrics.scores`, or :func:`~dan_dice.metrics.multilabel_scores`
    where ``f1`` is the macro-F1 and ``accuracy`` the subset accuracy). With ``search``,
    ``tuned_f1`` is the F1 at the threshold(s) best on this set (always for one logit, when the
    threshold is tuned for multi-label); ``collapsed`` (0 or 1, :func:`collapsed`) judges the
    predictions the model will make."""
    y = y.cpu().numpy()
    threshold = as_threshold(threshold)
    tuned = threshold.tuned
    fixed = 0.5 if tuned else threshold.value
    if y.ndim == 2:
        proba = torch.sigmoid(logits).cpu().numpy()
        predicted = (proba >= fixed).astype(np.int64)
        record = multilabel_scores(y, predicted)
        record |= {"f1": record["macro_f1"], "accuracy": record["subset_accuracy"]}
        used = predicted
        if tuned and search:
            used = (proba >= tuned_thresholds(y, proba, threshold)).astype(np.int64)
            record["tuned_f1"] = multilabel_scores(y, used)["macro_f1"]
        sets_true, sets_used = _label_set_codes(y, used)
        n_sets = int(max(sets_true.max(initial=0), sets_used.max(initial=0))) + 1
        record["majority_share"] = majority_share(sets_used)
        record["collapsed"] = float(collapsed(sets_true, sets_used, n_sets))
        return record
    predicted = logits_to_labels(logits, fixed).cpu().numpy()
    record = scores(y, predicted, n_classes)
    used = predicted
    if logits.dim() == 1 and search:
        best, record["tuned_f1"] = best_threshold(y, torch.sigmoid(logits).cpu().numpy())
        if tuned:
            used = logits_to_labels(logits, best).cpu().numpy()
    record["majority_share"] = majority_share(used)
    record["collapsed"] = float(collapsed(y, used, n_classes))
    return record


def _label_set_codes(*indicators: np.ndarray) -> tuple[np.ndarray, ...]:
    """One class code per distinct label set (row) across the 0/1 matrices, so that
    :func:`collapsed` can judge multi-label predictions: the same set, the same code."""
    rows = np.vstack(indicators)
    codes = np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)
    return tuple(np.split(codes, np.cumsum([len(m) for m in indicators])[:-1]))


def collapsed(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> bool:
    """True when one class takes at least :data:`~dan_dice.metrics.COLLAPSE_SHARE` of the
    predictions although the true labels are not that one-sided (a validation set of 99.5 %
    negatives may rightly be predicted nearly all negative)."""
    predicted = np.bincount(y_pred, minlength=n_classes) / max(len(y_pred), 1)
    actual = np.bincount(y_true, minlength=n_classes) / max(len(y_true), 1)
    top = int(predicted.argmax())
    return bool(predicted[top] >= COLLAPSE_SHARE and actual[top] < COLLAPSE_SHARE)


@numba.njit(cache=True, boundscheck=False, nogil=True, error_model="numpy")
def _adam_rows_cpu(param, exp_avg, exp_avg_sq, rows, values, size, beta1, beta2, eps):
    """:class:`LazyAdam`'s update of ``rows`` in one pass over them (the CPU's path); False,
    with nothing changed, unless ``rows`` are strictly increasing (sorted and unique).
    numpy's error model (a division by zero gives inf, it raises nothing; here none can
    occur) lets the compiler vectorise the update, with the same values (the CHANGELOG's
    0.2.0 entry gives the measurement)."""
    for i in range(1, rows.shape[0]):
        if rows[i - 1] >= rows[i]:
            return False
    for i in range(rows.shape[0]):
        row = rows[i]
        for d in range(param.shape[1]):
            grad = values[i, d]
            mean = exp_avg[row, d] + (1 - beta1) * (grad - exp_avg[row, d])
            square = beta2 * exp_avg_sq[row, d] + (1 - beta2) * grad * grad
            exp_avg[row, d], exp_avg_sq[row, d] = mean, square
            param[row, d] -= size * mean / (math.sqrt(square) + eps)
    return True


def _adam_rows(param, exp_avg, exp_avg_sq, rows, values, size, beta1, beta2, eps) -> None:
    """The same update in row gathers and scatters (other devices' path); ``rows`` must be
    sorted and unique."""
    mean = exp_avg.index_select(0, rows).lerp_(values, 1 - beta1)
    square = exp_avg_sq.index_select(0, rows).mul_(beta2)
    square.addcmul_(values, values, value=1 - beta2)
    exp_avg.index_copy_(0, rows, mean)
    exp_avg_sq.index_copy_(0, rows, square)
    moved = param.index_select(0, rows)
    moved.addcdiv_(mean, square.sqrt_().add_(eps), value=-size)
    param.index_copy_(0, rows, moved)


class LazyAdam(torch.optim.Optimizer):
    """Adam on the rows that a sparse gradient names, the other rows and their moments left
    as they are: the update :class:`torch.optim.SparseAdam` makes, without its sparse-tensor
    arithmetic. On the CPU a numba kernel makes it in one pass over the rows (a defaults step
    on cyberbullying: 0.34 ms instead of 0.53 under ``torch.profiler``); elsewhere row gathers
    and scatters do. A gradient whose rows are sorted and unique, as
    :func:`~dan_dice.bag_pooling.pool_bags` builds it, is used as it is; any other is coalesced
    first."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                step = state["step"]
                size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
                moments = state["exp_avg"], state["exp_avg_sq"]
                rule = size, beta1, beta2, group["eps"]
                if param.device.type != "cpu":
                    grad = param.grad.coalesce()
                    _adam_rows(param, *moments, grad.indices()[0], grad.values(), *rule)
                    continue
                arrays = [t.detach().numpy() for t in (param, *moments)]
                if not _adam_rows_cpu(*arrays, *_rows_and_values(param.grad), *rule):
                    _adam_rows_cpu(*arrays, *_rows_and_values(param.grad.coalesce()), *rule)


def _rows_and_values(grad: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """A sparse CPU gradient's row indices and rows, as arrays (coalesced or not)."""
    return grad._indices()[0].numpy(), grad._values().numpy()


def make_optimizers(
    model: torch.nn.Module, lr: float, weight_decay: float = 0.0
) -> list[torch.optim.Optimizer]:
    """Adam for the dense parameters, plus :class:`LazyAdam` for sparse embeddings.

    A fine-tuned embedding table has tens of thousands of rows, of which a mini-batch touches a
    few hundred: sparse gradients update only those. Weight decay applies to the dense layers
    only. The dense Adam is the fused kernel (one pass over all parameters instead of a loop of
    small tensor operations): its update costs a quarter of the default's on the CPU.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    sparse_ids = {
        id(m.weight)
        for m in model.modules()
        if isinstance(m, torch.nn.EmbeddingBag | torch.nn.Embedding) and m.sparse
    }
    dense = [p for p in trainable if id(p) not in sparse_ids]
    sparse = [p for p in trainable if id(p) in sparse_ids]
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay, fused=True)
    ]
    if sparse:
        optimizers.append(LazyAdam(sparse, lr=lr))
    return optimizers


def train_epoch(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: PackedTexts,
    optimizers: list[torch.optim.Optimizer],
    *,
    n_classes: int,
    batch_size: int = 64,
    threshold: Threshold | float | str = 0.5,
    epoch: int = 1,
) -> dict[str, float]:
    """One pass over ``data`` in shuffled mini-batches, updating ``model`` in place; returns
    the epoch's running training scores (``loss``, ``f1``... at ``threshold``, or 0.5 when it is
    tuned). Texts with a weight (``data.weight``) weigh their share of the loss by it.

    :func:`train` runs it once an epoch; the estimator's ``partial_fit`` runs it once a call."""
    model.train()
    threshold = as_threshold(threshold)
    fixed = 0.5 if threshold.tuned else threshold.value
    device = data.ids.device
    order = torch.randperm(len(data), device=device)
    seen_logits, loss_sum = [], torch.zeros((), device=device)
    for batch in data.take(order).chunks(batch_size):  # one repacking an epoch
        logits = model(batch.ids, batch.offsets)
        target = loss_target(batch.y, logits)
        if batch.weight is None:
            loss = loss_fn(logits, target)
        else:
            loss = loss_fn(logits, target, batch.weight)
        if not torch.isfinite(loss):
            lr = optimizers[0].param_groups[0]["lr"]
            raise TrainingDivergedError(
                f"the loss became {loss.item()} in epoch {epoch}: training diverged, "
                f"most likely because the learning rate ({lr:g}) is too high"
            )
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        loss_sum += loss.detach() * len(batch)
        seen_logits.append(logits.detach())
    seen = torch.cat(seen_logits)
    scores = score_logits(seen, data.y[order], n_classes, fixed, search=False)
    return {"loss": float(loss_sum) / len(data), **scores}


def train(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train_data: PackedTexts,
    val_data: PackedTexts,
    *,
    n_classes: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    max_epochs: int = 30,
    patience: int = 5,
    patience_steps: int = 0,
    weight_decay: float = 0.0,
    threshold: Threshold | float | str = 0.5,
    verbose: int = 0,
    optimizers: list[torch.optim.Optimizer] | None = None,
) -> TrainingResult:
    """Train ``model`` in place and restore its best epoch by validation F1, measured as the
    model will predict: at ``threshold``, or at the best threshold(s) when it is tuned
    (:class:`~dan_dice.params.Threshold`). For several classes or labels the F1 is the macro-F1.

    Training stops once the validation score has not improved for ``patience`` epochs and
    ``patience_steps`` optimiser steps, or after ``max_epochs``. An epoch whose validation
    predictions have collapsed onto one class (:func:`collapsed`) ranks below every epoch that
    has not, whatever its score; between equal scores the lower validation loss wins (and
    counts as progress), so a score that is flat early on does not end training.

    Randomness (initialisation done by the caller, batch order, dropout) comes from torch's
    global generator: seed it, or wrap the call in ``torch.random.fork_rng``, for identical runs.
    ``optimizers`` (from :func:`make_optimizers`) carry their state in and out, for the
    estimator's continued training; by default fresh ones are made with ``lr`` and
    ``weight_decay``. The training texts' weights (``train_data.weight``) weigh the training
    loss only: validation, and so the epoch kept, stay unweighted.
    """
    if optimizers is None:
        optimizers = make_optimizers(model, lr, weight_decay)
    threshold = as_threshold(threshold)
    tuned = threshold.tuned
    one_score = n_classes == 2 or train_data.y.dim() == 2  # binary, or multi-label
    monitor = "val_tuned_f1" if tuned and one_score else "val_f1"
    history: list[dict[str, float]] = []
    best_key, best_epoch, best_step, best_state = (-math.inf,) * 3, 0, 0, None
    step, steps_an_epoch = 0, math.ceil(len(train_data) / batch_size)
    epochs = tqdm(range(1, max_epochs + 1), disable=verbose <= 0, desc="epochs", unit="ep")
    for epoch in epochs:
        train_scores = train_epoch(
            model,
            loss_fn,
            train_data,
            optimizers,
            n_classes=n_classes,
            batch_size=batch_size,
            threshold=threshold,
            epoch=epoch,
        )
        step += steps_an_epoch
        val_scores = evaluate(model, loss_fn, val_data, n_classes, threshold)
        record = {"epoch": epoch}
        record.update({f"train_{k}": v for k, v in train_scores.items()})
        record.update({f"val_{k}": v for k, v in val_scores.items()})
        history.append(record)
        epochs.set_postfix(loss=f"{record['train_loss']:.4f}", val_f1=f"{record['val_f1']:.4f}")
        key = (-record["val_collapsed"], record[monitor], -record["val_loss"])
        if key > best_key:
            best_key, best_epoch, best_step = key, epoch, step
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience and step - best_step >= patience_steps:
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainingResult(
        history=history,
        best_epoch=best_epoch,
        best_score=best_key[1],
        collapsed=bool(best_key[0]),
    )
