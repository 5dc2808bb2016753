"""Names that moved keep their old import paths for a release, with a DeprecationWarning."""

from __future__ import annotations

import importlib

import pytest

from dan_dice.moved import moved_names

MOVED = [
    ("dan_dice.experiments", "Split", "dan_dice.splits"),
    ("dan_dice.experiments", "QUICK_SIZES", "dan_dice.study_data"),
    ("dan_dice.peers", "evaluate", "dan_dice.comparison"),
    ("dan_dice.peers", "peer_methods", "dan_dice.comparison"),
    ("dan_dice.peers", "peer_table", "dan_dice.reporting.peers"),
    ("dan_dice.peers", "environment", "dan_dice.machine"),
    ("dan_dice.duplicates", "grouped_train_val_test_split", "dan_dice.splits"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_an_old_path_warns_and_gives_the_same_object(old, name, new):
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{name}"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)


def test_a_name_that_never_lived_there_is_still_an_attribute_error():
    getattr_ = moved_names("pkg.old", {"f": "math"})
    with pytest.raises(AttributeError, match=r"'pkg\.old' has no attribute 'g'"):
        getattr_("g")


def test_the_old_load_split_keeps_its_signature(monkeypatch, toy_texts):
    from sklearn.utils import Bunch

    from dan_dice import experiments, study_data

    texts, labels = toy_texts
    bunch = Bunch(data=texts, target=labels, target_names=["a", "b"])
    monkeypatch.setattr(study_data, "load_dataset", lambda name, home: bunch)
    with pytest.warns(DeprecationWarning, match="study_data.load_split"):
        old = experiments.load_split("toy", None, experiments.Config())
    assert old.X_test == study_data.load_split("toy").X_test
