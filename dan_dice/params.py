"""The estimator's parameters: what each accepts, in one table, and the threshold setting parsed.

In the spirit of scikit-learn's ``_parameter_constraints`` (its ``_param_validation`` is
private, so the table and its small checker are written here): :data:`PARAMETER_CONSTRAINTS`
maps each parameter of :class:`~dan_dice.estimator.DANClassifier` to the values it accepts, and
:func:`check_params` refuses any other value with one line naming the parameter, what it
accepts and what it got. The estimator checks its parameters with it, persistence those of a
file it reads, and the command line takes its choices from it (:func:`options`). Loss names are
left to :mod:`dan_dice.losses` (they depend on the task).

No torch here: the command line and the edge runtime import it.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .pooling import POOLINGS

TUNED = ("tune", "tune_global")
"""The ``threshold`` settings that tune it on validation: per label (``"tune"``) or one shared
by every label (``"tune_global"``); for one logit both mean the F1-best threshold."""
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Threshold:
    """The ``threshold`` setting, parsed: ``mode`` is ``"tune"``, ``"tune_global"`` or
    ``"fixed"``, and ``value`` the fixed threshold (``None`` when tuned)."""

    mode: str
    value: float | None = None

    @property
    def tuned(self) -> bool:
        return self.mode in TUNED

    @classmethod
    def parse(cls, setting: Any, modes: tuple[str, ...] = TUNED) -> Threshold:
        """``setting`` (one of ``modes``, or a number in (0, 1)) as a :class:`Threshold`; a
        ``ValueError`` naming what is accepted otherwise."""
        if isinstance(setting, str) and setting in modes:
            return cls(setting)
        if _real(setting) and 0 < setting < 1:
            return cls("fixed", float(setting))
        raise ValueError(f"threshold must be {threshold_forms(modes)}, got {setting!r}")

    @property
    def setting(self) -> float | str:
        """The setting as the estimator's ``threshold`` parameter takes it."""
        return self.mode if self.tuned else self.value


def as_threshold(setting: Threshold | float | str) -> Threshold:
    """``setting`` parsed (:meth:`Threshold.parse`), unless it already is."""
    return setting if isinstance(setting, Threshold) else Threshold.parse(setting)


def threshold_forms(modes: tuple[str, ...] = TUNED) -> str:
    """What a ``threshold`` may be, in words: ``"in (0, 1), 'tune' or 'tune_global'"``."""
    forms = ["in (0, 1)", *map(repr, modes)]
    return ", ".join(forms[:-1]) + f" or {forms[-1]}"


@dataclass(frozen=True)
class Constraint:
    """Values a parameter accepts: ``accepts(value)``, and ``description`` for the error."""

    accepts: Callable[[Any], bool]
    description: str
    options: tuple[str, ...] = ()
    """The strings it accepts, for a command line's choices."""


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive_integer(value: Any) -> bool:
    return _integer(value) and value >= 1


def _one_of(values: tuple[str, ...]) -> Constraint:
    return Constraint(lambda v: isinstance(v, str) and v in values, f"one of {values}", values)


def _fraction(low_closed: bool) -> Constraint:
    def accepts(v: Any) -> bool:
        return _real(v) and (v >= 0 if low_closed else v > 0) and v < 1

    return Constraint(accepts, "in [0.0, 1.0)" if low_closed else "in (0.0, 1.0)")


def _class_weight(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value == "balanced"):
        return True
    weights = value.values() if isinstance(value, Mapping) else [-1]
    return all(_real(w) and 0 <= w < math.inf for w in weights)


def _hidden_sizes(value: Any) -> bool:
    if isinstance(value, str):
        return False
    sizes = np.asarray(value)
    return sizes.ndim == 1 and sizes.dtype.kind in "iu" and bool((sizes > 0).all())


def _device(value: Any) -> bool:
    return isinstance(value, str) and (value in DEVICES or value.startswith("cuda:"))


def _threshold(value: Any) -> bool:
    try:
        Threshold.parse(value)
    except ValueError:
        return False
    return True


POSITIVE_INTEGER = Constraint(_positive_integer, "a positive integer")
PARAMETER_CONSTRAINTS: dict[str, Constraint] = {
    "loss": Constraint(lambda v: isinstance(v, str) or callable(v), "a loss name or a callable"),
    "loss_params": Constraint(lambda v: v is None or isinstance(v, Mapping), "a dict or None"),
    "class_weight": Constraint(
        _class_weight, "None, 'balanced' or a dict of finite numbers >= 0", ("balanced",)
    ),
    "pooling": _one_of(POOLINGS),
    "hidden_sizes": Constraint(_hidden_sizes, "a sequence of positive integers"),
    "dropout": _fraction(low_closed=True),
    "word_dropout": _fraction(low_closed=True),
    "embeddings": Constraint(lambda v: isinstance(v, str | os.PathLike), "a str or a path"),
    "freeze_embeddings": Constraint(lambda v: isinstance(v, bool | np.bool_), "a bool"),
    "min_count": POSITIVE_INTEGER,
    "lr": Constraint(lambda v: _real(v) and 0 < v < math.inf, "a positive finite number"),
    "batch_size": POSITIVE_INTEGER,
    "max_epochs": POSITIVE_INTEGER,
    "patience": POSITIVE_INTEGER,
    "patience_steps": Constraint(lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    "weight_decay": Constraint(lambda v: _real(v) and 0 <= v < math.inf, "a finite number >= 0"),
    "validation_fraction": _fraction(low_closed=False),
    "threshold": Constraint(_threshold, threshold_forms(), TUNED),
    "device": Constraint(_device, f"one of {DEVICES} or 'cuda:N'", DEVICES),
    "num_threads": Constraint(lambda v: v is None or _positive_integer(v), "a positive integer"),
    "random_state": Constraint(
        lambda v: v is None or _integer(v) or isinstance(v, np.random.RandomState),
        "an integer, a RandomState or None",
    ),
    "verbose": Constraint(
        lambda v: isinstance(v, numbers.Integral) and v >= 0, "an integer >= 0 (or a bool)"
    ),
    "warm_start": Constraint(lambda v: isinstance(v, bool | np.bool_), "a bool"),
}
"""Each parameter of ``DANClassifier`` and the values it accepts."""


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse the first value of ``params`` that its constraint does not accept (parameters
    without a constraint are left alone), with a ``ValueError`` naming it."""
    for name, value in params.items():
        constraint = PARAMETER_CONSTRAINTS.get(name)
        if constraint is not None and not constraint.accepts(value):
            raise ValueError(f"{name} must be {constraint.description}, got {value!r}")


def options(name: str) -> tuple[str, ...]:
    """The strings parameter ``name`` accepts (a command line's choices)."""
    return PARAMETER_CONSTRAINTS[name].options
