"""The parameter-constraints table and the threshold setting."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from dan_dice import DANClassifier
from dan_dice.arguments import threshold_arg, threshold_type
from dan_dice.params import (
    PARAMETER_CONSTRAINTS,
    TUNED,
    Threshold,
    as_threshold,
    check_params,
    options,
)


def test_every_estimator_parameter_has_a_constraint_and_the_defaults_pass():
    params = DANClassifier().get_params()
    assert set(PARAMETER_CONSTRAINTS) == set(params)
    check_params(params)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("batch_size", 1, True),
        ("patience_steps", 0, -1),
        ("dropout", 0.0, 1.0),
        ("validation_fraction", 0.5, 0.0),
        ("lr", 1e-3, float("inf")),
        ("hidden_sizes", [4, 2], "16"),
        ("class_weight", {"a": 2}, {"a": -1}),
        ("device", "cuda:1", "gpu"),
        ("threshold", "tune_global", "0.5"),
        ("num_threads", None, 0),
        ("random_state", np.random.RandomState(0), "0"),
        ("verbose", True, -1),
    ],
)
def test_check_params_names_the_parameter_it_refuses(name, good, bad):
    check_params({name: good})
    with pytest.raises(ValueError, match=rf"^{name} must be ") as refused:
        check_params({name: bad})
    assert str(refused.value).endswith(f", got {bad!r}")


def test_unknown_parameters_are_left_alone_and_options_list_the_choices():
    check_params({"not_a_parameter": object()})
    assert options("device") == ("auto", "cpu", "cuda")
    assert options("class_weight") == ("balanced",) and "mean" in options("pooling")


def test_threshold_is_parsed_once_into_its_mode_and_value():
    assert Threshold.parse("tune") == Threshold("tune") and Threshold("tune").tuned
    assert Threshold.parse(0.3) == Threshold("fixed", 0.3) and not Threshold.parse(0.3).tuned
    assert Threshold.parse(0.3).setting == 0.3 and Threshold("tune_global").setting in TUNED
    assert as_threshold(Threshold("tune")) == Threshold("tune") and as_threshold(0.5).value == 0.5
    for bad in (0, 1, True, "0.5", "auto", float("nan")):
        with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\), 'tune' or"):
            Threshold.parse(bad)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\) or 'tune', got 'tune_global'"):
        Threshold.parse("tune_global", ("tune",))


def test_the_command_line_types_parse_text_with_the_same_rule():
    assert threshold_arg("tune") == "tune" and threshold_arg("0.25") == 0.25
    assert threshold_type()("tune_global") == "tune_global"
    for text in ("tune_global", "1.5", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be 'tune' or a number"):
            threshold_arg(text)
