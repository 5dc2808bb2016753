"""The one training loop, shared by the estimator, the command line and the experiments.

Adam on shuffled mini-batches; after every epoch the model is scored in eval mode on the whole
training and validation sets (loss, accuracy, F1); the epoch with the best validation score
(F1 at the 0.5 threshold, or at the best threshold when the threshold is tuned) is restored at
the end, and training stops early when it has not improved for ``patience`` epochs and
``patience_steps`` optimiser steps. Counting steps too matters on small data: 240 texts in
batches of 128 are two steps an epoch, and five such epochs end training before it has learned
anything. An epoch whose predictions have collapsed onto one class is never preferred to one
whose predictions have not.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .losses import LossFn
from .metrics import COLLAPSE_SHARE, best_threshold, majority_share, scores


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite: training cannot continue from there."""


class CollapseWarning(UserWarning):
    """The trained model predicts one class for (nearly) every validation text while the labels
    are not that one-sided: a majority-class predictor, whatever its accuracy. Filter it like
    scikit-learn's ``ConvergenceWarning``: ``warnings.simplefilter("ignore", CollapseWarning)``."""


@dataclass
class PackedTexts:
    """Token ids of many texts in EmbeddingBag's packed layout, with their labels, on a device."""

    ids: torch.Tensor
    offsets: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor

    @classmethod
    def from_numpy(
        cls, ids: np.ndarray, offsets: np.ndarray, y: np.ndarray, device: torch.device
    ) -> PackedTexts:
        lengths = np.diff(np.r_[offsets, len(ids)])
        to = lambda a: torch.as_tensor(a, dtype=torch.long, device=device)  # noqa: E731
        return cls(to(ids), to(offsets), to(lengths), to(y))

    def __len__(self) -> int:
        return len(self.offsets)

    def to(self, device: torch.device) -> PackedTexts:
        return PackedTexts(*(t.to(device) for t in (self.ids, self.offsets, self.lengths, self.y)))

    def take(self, index: torch.Tensor) -> PackedTexts:
        """The texts at ``index``, repacked."""
        lengths = self.lengths[index]
        offsets = torch.cumsum(lengths, 0) - lengths
        shift = torch.repeat_interleave(self.offsets[index] - offsets, lengths)
        ids = self.ids[torch.arange(len(shift), device=shift.device) + shift]
        return PackedTexts(ids, offsets, lengths, self.y[index])

    def chunks(self, size: int):
        """Consecutive slices of at most ``size`` texts, for inference."""
        for start in range(0, len(self), size):
            yield self.take(
                torch.arange(start, min(start + size, len(self)), device=self.ids.device)
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
    """Labels in the form losses expect: float 0/1 for one logit, class indices otherwise."""
    return y.float() if logits.dim() == 1 else y


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
    threshold: float | str = 0.5,
) -> dict[str, float]:
    """Loss over the whole set, plus accuracy, F1 and the other scores of :func:`scores` of the
    predictions at ``threshold`` (0.5 when it is ``"tune"``); for one logit also ``tuned_f1``,
    the F1 at the threshold that is best on this set. ``collapsed`` (0 or 1, :func:`collapsed`)
    judges the predictions the model will make: at the best threshold when it is tuned."""
    logits = predict_logits(model, data)
    loss = float(loss_fn(logits, loss_target(data.y, logits)))
    y = data.y.cpu().numpy()
    fixed = 0.5 if threshold == "tune" else float(threshold)
    predicted = logits_to_labels(logits, fixed).cpu().numpy()
    record = {"loss": loss, **scores(y, predicted, n_classes)}
    used = predicted
    if logits.dim() == 1:
        best, record["tuned_f1"] = best_threshold(y, torch.sigmoid(logits).cpu().numpy())
        if threshold == "tune":
            used = logits_to_labels(logits, best).cpu().numpy()
    record["majority_share"] = majority_share(used)
    record["collapsed"] = float(collapsed(y, used, n_classes))
    return record


def collapsed(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> bool:
    """True when one class takes at least :data:`~dan_dice.metrics.COLLAPSE_SHARE` of the
    predictions although the true labels are not that one-sided (a validation set of 99.5 %
    negatives may rightly be predicted nearly all negative)."""
    predicted = np.bincount(y_pred, minlength=n_classes) / max(len(y_pred), 1)
    actual = np.bincount(y_true, minlength=n_classes) / max(len(y_true), 1)
    top = int(predicted.argmax())
    return bool(predicted[top] >= COLLAPSE_SHARE and actual[top] < COLLAPSE_SHARE)


def make_optimizers(
    model: torch.nn.Module, lr: float, weight_decay: float = 0.0
) -> list[torch.optim.Optimizer]:
    """Adam for the dense parameters, plus lazy ``SparseAdam`` for sparse embeddings.

    A fine-tuned embedding table has tens of thousands of rows, of which a mini-batch touches a
    few hundred: sparse gradients update only those (about 3x faster per epoch on the
    cyberbullying data). Weight decay applies to the dense layers only.
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
        torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay)
    ]
    if sparse:
        optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
    return optimizers


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
    threshold: float | str = 0.5,
    verbose: int = 0,
) -> TrainingResult:
    """Train ``model`` in place and restore its best epoch by validation F1, measured as the
    model will predict: at ``threshold``, or at the best threshold when it is ``"tune"``.

    Training stops once the validation score has not improved for ``patience`` epochs and
    ``patience_steps`` optimiser steps, or after ``max_epochs``. An epoch whose validation
    predictions have collapsed onto one class (:func:`collapsed`) ranks below every epoch that
    has not, whatever its score; between equal scores the lower validation loss wins (and
    counts as progress), so a score that is flat early on does not end training.

    Randomness (initialisation done by the caller, batch order, dropout) comes from torch's
    global generator: seed it, or wrap the call in ``torch.random.fork_rng``, for identical runs.
    """
    optimizers = make_optimizers(model, lr, weight_decay)
    monitor = "val_tuned_f1" if threshold == "tune" and n_classes == 2 else "val_f1"
    device = train_data.ids.device
    history: list[dict[str, float]] = []
    best_key, best_epoch, best_step, best_state = (-math.inf,) * 3, 0, 0, None
    step = 0
    epochs = tqdm(range(1, max_epochs + 1), disable=verbose <= 0, desc="epochs", unit="ep")
    for epoch in epochs:
        model.train()
        order = torch.randperm(len(train_data), device=device)
        for start in range(0, len(order), batch_size):
            batch = train_data.take(order[start : start + batch_size])
            logits = model(batch.ids, batch.offsets)
            loss = loss_fn(logits, loss_target(batch.y, logits))
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"the loss became {loss.item()} in epoch {epoch}: training diverged, "
                    f"most likely because the learning rate ({lr:g}) is too high"
                )
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            step += 1
        train_scores = evaluate(model, loss_fn, train_data, n_classes, threshold)
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
