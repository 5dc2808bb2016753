"""Training losses for imbalanced text classification: the study's Dice, weighted BCE and MSE,
and the Dice family of Li et al. (2020).

Every loss takes raw logits. Binary tasks: ``z`` of shape ``(N,)`` with ``p = σ(z)`` the probability
of the positive class, and float 0/1 targets. Multi-class tasks: ``(N, C)`` logits and long class
indices; the multi-class losses also accept a binary task, read as the two-class logits ``[0, z]``
(whose softmax is exactly ``[1 − σ(z), σ(z)]``).

Each loss is a plain function over logits (computed in log space where powers or logarithms of
probabilities appear, so that even logits of ±1e4 give finite values and gradients) and a thin
:class:`Loss` module around it. :func:`get_loss` builds one by name for a training set.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

LossFn = Callable[..., Tensor]
"""``f(logits, target) -> scalar``; a loss that takes per-text weights (``sample_weight``)
also takes them as a third argument, ``f(logits, target, weight=None)`` (validation, which
is unweighted, leaves it out)."""


def weighted_mean(terms: Tensor, weight: Tensor | None) -> Tensor:
    """The mean of per-text ``terms`` (rows, for per-entry terms ``(N, L)``), each times its
    text's ``weight``: a plain mean, as class weights are, so weights of 1 change nothing."""
    if weight is None:
        return terms.mean()
    return (weight.to(terms).reshape(-1, *[1] * (terms.dim() - 1)) * terms).mean()


def weighted_sum(values: Tensor, weight: Tensor | None) -> Tensor:
    """``Σ_i w_i · values_i`` over the batch (dimension 0): the soft counts of the Dice-type
    losses, where a text of weight 2 counts as two copies, as in weighted soft Dice."""
    if weight is None:
        return values.sum(0)
    return (weight.to(values).reshape(-1, *[1] * (values.dim() - 1)) * values).sum(0)


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


def balanced_class_weight(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Weights ``w_c = N / (C · N_c)`` that make every class weigh as much as the others in total.

    With them, the mean of ``w_{y_i} · loss_i`` over the training set is the mean over classes of
    each class's mean loss.
    """
    y = np.asarray(y)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold class codes in 0..{n_classes - 1}")
    counts = np.bincount(y, minlength=n_classes)
    missing = np.flatnonzero(counts == 0).tolist()
    if missing:
        raise ValueError(
            f"balanced class weights need examples of every class, but y has none of class "
            f"{missing} ({n_classes - len(missing)} of {n_classes} classes present)"
        )
    return y.size / (n_classes * counts)


# Binary losses: logits z (N,), float targets y (N,) in {0, 1}.


def dice_loss(
    logits: Tensor, target: Tensor, smooth: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """Soft Dice over the whole batch (the study's eq. 7): ``1 − (2Σyp + s) / (Σy + Σp + s)``;
    with per-text ``weight`` every sum is weighted (weighted soft Dice).

    The smoothing ``s`` keeps a batch without positives defined (its loss is ``Σp / (Σp + s)``).
    """
    p = torch.sigmoid(logits)
    tp, positives = weighted_sum(p * target, weight), weighted_sum(target, weight)
    return 1 - (2 * tp + smooth) / (positives + weighted_sum(p, weight) + smooth)


def tversky_loss(
    logits: Tensor,
    target: Tensor,
    a: float = 0.5,
    b: float = 0.5,
    smooth: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Batch Tversky loss ``1 − TI``, ``TI = (TP + γ) / (TP + a·FP + b·FN + γ)`` with soft counts
    ``TP = Σpy``, ``FP = Σp(1−y)``, ``FN = Σ(1−p)y``.

    ``a`` and ``b`` price false positives and false negatives; ``a = b = 0.5`` is
    :func:`dice_loss` with smoothing ``2γ``. Per-text ``weight`` weighs the soft counts.
    """
    p = torch.sigmoid(logits)
    tp = weighted_sum(p * target, weight)
    fp = weighted_sum(p * (1 - target), weight)
    fn = weighted_sum((1 - p) * target, weight)
    return 1 - (tp + smooth) / (tp + a * fp + b * fn + smooth)


def weighted_bce_loss(
    logits: Tensor, target: Tensor, class_weight: Tensor, weight: Tensor | None = None
) -> Tensor:
    """Binary cross-entropy with example ``i`` weighted by ``class_weight[y_i]``: ``mean_i w_{y_i} ·
    BCE(z_i, y_i)`` (a plain mean, so balanced weights give the mean of the two class means)."""
    terms = class_weight.to(logits)[target.long()]
    terms = terms * F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return weighted_mean(terms, weight)


def focal_loss(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """Focal loss (Lin et al.): ``mean −α_t (1 − p_t)^γ log p_t``, ``p_t`` the probability of the
    true class.

    ``(1 − p_t)^γ`` shrinks the loss of easy examples; ``α_t`` is ``alpha`` for positives and
    ``1 − alpha`` for negatives (no weighting when ``alpha`` is None). ``γ = 0`` is BCE.
    """
    zt = (2 * target - 1) * logits  # p_t = σ(z_t)
    loss = -torch.exp(gamma * F.logsigmoid(-zt)) * F.logsigmoid(zt)
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return weighted_mean(loss, weight)


def published_dsc_loss(
    logits: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    gamma: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Li et al.'s self-adjusting Dice as published: ``mean 1 − (2qy + γ) / (q + y + γ)``,
    ``q = (1 − p)^α · p``.

    It collapses: ``q`` vanishes at both ``p = 0`` and ``p = 1``. A negative costs ``q / (q + γ)``,
    nothing for a confident false positive (``p → 1``) just as for a true negative; a positive
    costs ``(1 − q) / (1 + q + γ)``, the same at ``p → 1`` as at ``p → 0`` and least at
    ``p = 1 / (1 + α)``. So for ``α > 0`` confident predictions are not rewarded and confident
    false positives are free. See :func:`dsc_loss`.
    """
    q = torch.exp(alpha * F.logsigmoid(-logits) + F.logsigmoid(logits))
    return weighted_mean((q + target - 2 * q * target) / (q + target + gamma), weight)


def dsc_loss(
    logits: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    gamma: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Self-adjusting Dice that does not collapse: ``mean (1 − p_t)^α · (1 − DSC_t)``, where
    ``DSC_t = (2p_t + γ) / (p_t + 1 + γ)`` is the per-example Dice of the true class.

    This is ``(1 − p_t)^(1+α) / (1 + γ + p_t)``: strictly decreasing in ``p_t`` for every
    ``α ≥ 0``, from ``1 / (1 + γ)`` at ``p_t = 0`` to 0 at ``p_t = 1``. The factor down-weights easy
    examples as in focal loss, but multiplies the loss instead of the probability inside the Dice
    ratio as :func:`published_dsc_loss` does, where it vanishes for confident predictions, right
    or wrong. (Putting it on ``p_t`` inside the ratio keeps that flaw for any ``α > 0``.) ``α = 0``
    is the per-example Dice loss ``1 − DSC_t``.
    """
    zt = (2 * target - 1) * logits
    terms = torch.exp((1 + alpha) * F.logsigmoid(-zt)) / (1 + gamma + torch.sigmoid(zt))
    return weighted_mean(terms, weight)


# Multi-class losses: logits (N, C), long targets (N,).


def multiclass_dice_loss(
    logits: Tensor, target: Tensor, smooth: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """``1 −`` the macro average over classes of the batch soft Dice of each class,
    ``(2Σ_i p_ic y_ic + s) / (Σ_i y_ic + Σ_i p_ic + s)``, with softmax ``p`` and one-hot ``y``;
    per-text ``weight`` weighs the sums."""
    p = torch.softmax(logits, dim=1)
    y = F.one_hot(target, logits.shape[1]).to(p)
    tp, positives = weighted_sum(p * y, weight), weighted_sum(y, weight)
    dice = (2 * tp + smooth) / (positives + weighted_sum(p, weight) + smooth)
    return 1 - dice.mean()


def weighted_cross_entropy_loss(
    logits: Tensor, target: Tensor, class_weight: Tensor, weight: Tensor | None = None
) -> Tensor:
    """Cross-entropy with example ``i`` weighted by ``class_weight[y_i]``, plain mean over the batch
    (as :func:`weighted_bce_loss`; ``F.cross_entropy`` would divide by the sum of the weights)."""
    loss = F.cross_entropy(logits, target, reduction="none")
    return weighted_mean(class_weight.to(logits)[target] * loss, weight)


def _class_logits(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Binary ``(N,)`` logits ``z`` as two-class logits ``[0, z]``, with long targets."""
    if logits.dim() == 1:
        return torch.stack([torch.zeros_like(logits), logits], dim=1), target.long()
    return logits, target


def _check_param(
    name: str, value: Any, low: float, high: float = math.inf, *, strict: bool = False
) -> float:
    """``value`` as a float; ValueError unless it is a finite number in [low, high] ((low, high)
    when ``strict``)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    x = float(value) if is_number else math.nan
    inside = low < x < high if strict else low <= x <= high
    if not (inside and math.isfinite(x)):
        right = ")" if strict or math.isinf(high) else "]"
        raise ValueError(
            f"{name} must be a finite number in {'(' if strict else '['}{low}, {high}{right}, "
            f"got {value!r}"
        )
    return x


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


class DiceLoss(Loss):
    """The study's batch soft Dice loss, :func:`dice_loss`. ``smooth > 0`` (default 1)."""

    name = "dice"

    def __init__(self, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = _check_param("smooth", smooth, 0, strict=True)

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
        self.alpha = _check_param("alpha", alpha, 0)
        self.gamma = _check_param("gamma", gamma, 0, strict=True)


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
        self.a = _check_param("a", a, 0)
        self.b = _check_param("b", b, 0)
        self.smooth = _check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return tversky_loss(logits, target, self.a, self.b, self.smooth, weight)


class FocalLoss(Loss):
    """Focal loss, :func:`focal_loss`. ``gamma ≥ 0`` (default 2); ``alpha`` the weight of the
    positive class in (0, 1), None for no class weight (default), or ``"balanced"`` in
    :meth:`from_labels` / :func:`get_loss` for ``N_0 / N``, the share of negatives in ``y``."""

    name = "focal"

    def __init__(self, gamma: float = 2.0, alpha: float | None = None) -> None:
        super().__init__()
        self.gamma = _check_param("gamma", gamma, 0)
        self.alpha = None if alpha is None else _check_param("alpha", alpha, 0, 1, strict=True)

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
        self.dice_weight = _check_param("dice_weight", dice_weight, 0, 1)
        self.smooth = _check_param("smooth", smooth, 0, strict=True)

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
        self.smooth = _check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return multiclass_dice_loss(*_class_logits(logits, target), self.smooth, weight)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy, the unweighted multi-class reference."""

    name = "ce"
    multiclass = True

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_mean(
            F.cross_entropy(*_class_logits(logits, target), reduction="none"), weight
        )


class WeightedCrossEntropyLoss(_ClassWeighted):
    """Cross-entropy with balanced class weights ``w_c = N / (C·N_c)`` from the training labels,
    :func:`weighted_cross_entropy_loss`. Every class must occur in the training labels."""

    name = "wce"
    multiclass = True

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return weighted_cross_entropy_loss(
            *_class_logits(logits, target), self.class_weight, weight
        )


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
