"""Training losses for imbalanced text classification: the study's Dice, weighted BCE and MSE,
and the Dice family of Li et al. (2020).

Every loss takes raw logits. Binary tasks: ``z`` of shape ``(N,)`` with ``p = σ(z)`` the probability
of the positive class, and float 0/1 targets. Multi-class tasks: ``(N, C)`` logits and long class
indices; the multi-class losses also accept a binary task, read as the two-class logits ``[0, z]``
(whose softmax is exactly ``[1 − σ(z), σ(z)]``).

Each loss is a plain function over logits (:mod:`dan_dice.loss_functions`) and a thin
:class:`Loss` module around it. :func:`get_loss` builds one by name for a training set.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .loss_functions import (
    LossFn,
    balanced_class_weight,
    check_param,
    class_logits,
    dice_loss,
    dsc_loss,
    focal_loss,
    multiclass_dice_loss,
    published_dsc_loss,
    tversky_loss,
    weighted_bce_loss,
    weighted_cross_entropy_loss,
    weighted_mean,
)


class Loss(torch.nn.Module):
    """Base of the named losses: ``forward(logits, target, weight=None)`` gives a scalar,
    averaged over the batch where the loss is per example. ``weight`` (one per text, the
    estimator's ``sample_weight``) weighs each text's term, or its share of the batch sums of
    the Dice-type losses.

    Keyword arguments of ``__init__`` with defaults are the loss's hyper-parameters.
    """

    name: ClassVar[str]
    multiclass: ClassVar[bool] = False  # True: also takes (N, C) logits and long targets

    @classmethod
    def from_labels(cls, y: np.ndarray, n_classes: int, **params: Any) -> Self:
        """The loss for training labels ``y`` (int codes); only weighted losses look at ``y``."""
        return cls(**params)


def takes_weight(loss: LossFn) -> bool:
    """Whether ``loss`` accepts per-text weights: every named loss does; a callable one when it
    has a third parameter (``f(logits, target, weight=None)``)."""
    if isinstance(loss, Loss):
        return True
    try:
        parameters = inspect.signature(loss).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


class DiceLoss(Loss):
    """The study's batch soft Dice loss, :func:`dice_loss`. ``smooth > 0`` (default 1)."""

    name = "dice"

    def __init__(self, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return dice_loss(logits, target, self.smooth, weight)


class _ClassWeighted(Loss):
    """A loss with one weight per class, balanced from the training labels by default."""

    def __init__(self, class_weight: Sequence[float] | Tensor) -> None:
        super().__init__()
        self.register_buffer("class_weight", torch.as_tensor(class_weight, dtype=torch.float32))

    @classmethod
    def from_labels(cls, y: np.ndarray, n_classes: int, **params: Any) -> Self:
        return cls(balanced_class_weight(y, n_classes), **params)


class WeightedBCELoss(_ClassWeighted):
    """BCE with balanced class weights ``w_c = N / (2·N_c)`` from the training labels,
    :func:`weighted_bce_loss`.

    The weights favour the minority class, whichever it is. When positives are the majority (83%
    on the binarised cyberbullying data) they up-weight the negatives: the model learns odds
    scaled down by the weight ratio, so at the 0.5 threshold it trades positive-class recall for
    negative-class recall and the positive-class F1 falls. The F1-optimal threshold moves far
    below 0.5 (about 0.16 there): tune it (``DANClassifier(threshold="tune")``).
    """

    name = "wbce"

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_bce_loss(logits, target, self.class_weight, weight)


class MSELoss(Loss):
    """Mean squared error between ``σ(z)`` and the 0/1 target, as in the study."""

    name = "mse"

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_mean((torch.sigmoid(logits) - target) ** 2, weight)


class BCELoss(Loss):
    """Plain binary cross-entropy on logits, the unweighted reference."""

    name = "bce"

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_mean(
            F.binary_cross_entropy_with_logits(logits, target, reduction="none"), weight
        )


class _SelfAdjustingDSC(Loss):
    """The parameters shared by both forms of Li et al.'s self-adjusting Dice:
    ``alpha ≥ 0`` the focusing exponent (default 1, the published one), ``gamma > 0`` the
    smoothing (default 1)."""

    def __init__(self, alpha: float = 1.0, gamma: float = 1.0) -> None:
        super().__init__()
        self.alpha = check_param("alpha", alpha, 0)
        self.gamma = check_param("gamma", gamma, 0, strict=True)


class PublishedDSCLoss(_SelfAdjustingDSC):
    """Li et al.'s self-adjusting Dice exactly as published, :func:`published_dsc_loss` (kept to
    show its collapse)."""

    name = "dsc_published"

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return published_dsc_loss(logits, target, self.alpha, self.gamma, weight)


class DSCLoss(_SelfAdjustingDSC):
    """Self-adjusting Dice with the focusing factor on the loss, :func:`dsc_loss`."""

    name = "dsc"

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return dsc_loss(logits, target, self.alpha, self.gamma, weight)


class TverskyLoss(Loss):
    """Batch Tversky loss, :func:`tversky_loss`. ``a, b ≥ 0`` weigh false positives and false
    negatives (default 0.5 each), ``smooth > 0`` (default 1)."""

    name = "tversky"

    def __init__(self, a: float = 0.5, b: float = 0.5, smooth: float = 1.0) -> None:
        super().__init__()
        self.a = check_param("a", a, 0)
        self.b = check_param("b", b, 0)
        self.smooth = check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return tversky_loss(logits, target, self.a, self.b, self.smooth, weight)


class FocalLoss(Loss):
    """Focal loss, :func:`focal_loss`. ``gamma ≥ 0`` (default 2); ``alpha`` the weight of the
    positive class in (0, 1), None for no class weight (default), or ``"balanced"`` in
    :meth:`from_labels` / :func:`get_loss` for ``N_0 / N``, the share of negatives in ``y``."""

    name = "focal"

    def __init__(self, gamma: float = 2.0, alpha: float | None = None) -> None:
        super().__init__()
        self.gamma = check_param("gamma", gamma, 0)
        self.alpha = None if alpha is None else check_param("alpha", alpha, 0, 1, strict=True)

    @classmethod
    def from_labels(cls, y: np.ndarray, n_classes: int, **params: Any) -> Self:
        if isinstance(params.get("alpha"), str) and params["alpha"] == "balanced":
            weight = balanced_class_weight(y, n_classes)
            params["alpha"] = float(weight[1] / weight.sum())
        return cls(**params)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return focal_loss(logits, target, self.gamma, self.alpha, weight=weight)


class DiceBCELoss(Loss):
    """``w · dice + (1 − w) · bce``: the batch Dice aims at F1, the per-example BCE adds a smooth,
    well-scaled gradient for every example. ``dice_weight`` w in [0, 1] (default 0.5),
    ``smooth > 0`` for the Dice term (default 1)."""

    name = "dice_bce"

    def __init__(self, dice_weight: float = 0.5, smooth: float = 1.0) -> None:
        super().__init__()
        self.dice_weight = check_param("dice_weight", dice_weight, 0, 1)
        self.smooth = check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        bce = weighted_mean(
            F.binary_cross_entropy_with_logits(logits, target, reduction="none"), weight
        )
        w = self.dice_weight
        return w * dice_loss(logits, target, self.smooth, weight) + (1 - w) * bce


class MultiClassDiceLoss(Loss):
    """Macro-averaged batch soft Dice over classes, :func:`multiclass_dice_loss`.
    ``smooth > 0`` (default 1)."""

    name = "multiclass_dice"
    multiclass = True

    def __init__(self, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return multiclass_dice_loss(*class_logits(logits, target), self.smooth, weight)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy, the unweighted multi-class reference."""

    name = "ce"
    multiclass = True

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_mean(
            F.cross_entropy(*class_logits(logits, target), reduction="none"), weight
        )


class WeightedCrossEntropyLoss(_ClassWeighted):
    """Cross-entropy with balanced class weights ``w_c = N / (C·N_c)`` from the training labels,
    :func:`weighted_cross_entropy_loss`. Every class must occur in the training labels."""

    name = "wce"
    multiclass = True

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_cross_entropy_loss(*class_logits(logits, target), self.class_weight, weight)


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        DiceLoss,
        WeightedBCELoss,
        MSELoss,
        BCELoss,
        PublishedDSCLoss,
        DSCLoss,
        TverskyLoss,
        FocalLoss,
        DiceBCELoss,
        MultiClassDiceLoss,
        CrossEntropyLoss,
        WeightedCrossEntropyLoss,
    )
}
BINARY_LOSSES = tuple(name for name, cls in LOSSES.items() if not cls.multiclass)
WEIGHTED_FORMS = {"bce": "wbce", "ce": "wce"}
"""The losses that take ``class_weight``, and the class-weighted loss each then becomes."""
MULTICLASS_LOSSES = tuple(name for name, cls in LOSSES.items() if cls.multiclass)


def loss_param_names(loss: str) -> tuple[str, ...]:
    """Names of the hyper-parameters accepted by the named loss (its keywords with defaults)."""
    signature = inspect.signature(LOSSES[loss])
    return tuple(n for n, p in signature.parameters.items() if p.default is not p.empty)


def get_loss(
    loss: str | LossFn,
    y: np.ndarray,
    n_classes: int,
    params: dict[str, Any] | None = None,
    *,
    class_weight: str | Sequence[float] | None = None,
) -> LossFn:
    """The loss to train on labels ``y`` (int codes in ``0..n_classes-1``, used for class weights).

    ``loss`` is a name from :data:`LOSSES` built with ``params``, or a callable
    ``(logits, target) -> scalar`` returned as is. Binary-only losses need ``n_classes == 2``.
    ``class_weight`` (``"balanced"`` or one weight per class) turns ``"bce"`` and ``"ce"`` into
    their class-weighted forms (:data:`WEIGHTED_FORMS`); other losses refuse it.
    """
    params = dict(params or {})
    if callable(loss):
        if params or class_weight is not None:
            raise ValueError(
                "loss_params and class_weight only apply to a named loss, not to a callable loss"
            )
        return loss
    if class_weight is not None:
        if loss not in WEIGHTED_FORMS:
            raise ValueError(
                f"class_weight applies to the losses {', '.join(WEIGHTED_FORMS)}, not to "
                f"{loss!r}"
                + (" (which is already class-weighted)" if loss in ("wbce", "wce") else "")
            )
        get_loss(loss, y, n_classes, params)  # the checks of names, classes and parameters
        if isinstance(class_weight, str):
            if class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be 'balanced' or weights, got {class_weight!r}"
                )
            class_weight = balanced_class_weight(np.asarray(y), n_classes)
        weight = np.asarray(class_weight, dtype=float)
        if weight.shape != (n_classes,) or not np.isfinite(weight).all() or (weight < 0).any():
            raise ValueError(
                f"class_weight must be {n_classes} finite weights >= 0, got {class_weight!r}"
            )
        return LOSSES[WEIGHTED_FORMS[loss]](weight, **params)
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid losses: {', '.join(LOSSES)}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    cls = LOSSES[loss]
    if n_classes > 2 and not cls.multiclass:
        raise ValueError(
            f"loss {loss!r} is binary-only but there are {n_classes} classes; "
            f"multi-class losses: {', '.join(MULTICLASS_LOSSES)}"
        )
    accepted = loss_param_names(loss)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for loss {loss!r}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
    return cls.from_labels(np.asarray(y), n_classes, **params)
