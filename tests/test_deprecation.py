"""The names moved in 0.2.0 still work from their old place, with a DeprecationWarning."""

import importlib
from pathlib import Path

import pytest
from conftest import TINY_MODEL

from dan_dice import DANClassifier, comparison, journal, machine, splits, study_data
from dan_dice.reporting import peers as peer_tables

MOVED = [
    ("dan_dice.datasets", "train_val_test_split", splits.train_val_test_split),
    ("dan_dice.datasets", "check_split_sizes", splits.check_split_sizes),
    ("dan_dice.persistence", "load_model", DANClassifier.load),
    ("dan_dice.experiments", "append_journal", journal.append_journal),
    ("dan_dice.experiments", "Split", splits.Split),
    ("dan_dice.experiments", "QUICK_SIZES", study_data.QUICK_SIZES),
    ("dan_dice.peers", "evaluate", comparison.evaluate),
    ("dan_dice.peers", "peer_methods", comparison.peer_methods),
    ("dan_dice.peers", "peer_table", peer_tables.peer_table),
    ("dan_dice.peers", "environment", machine.environment),
    ("dan_dice.duplicates", "grouped_train_val_test_split", splits.grouped_train_val_test_split),
]


@pytest.mark.parametrize(("module", "name", "new"), MOVED)
def test_old_name_warns_and_is_the_new_object(module, name, new):
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{name} moved in dan-dice 0\.2\.0"):
        old = getattr(importlib.import_module(module), name)
    assert old == new


def test_from_import_of_an_old_name_warns():
    with pytest.warns(DeprecationWarning, match=r"use dan_dice\.splits\.train_val_test_split"):
        from dan_dice.datasets import train_val_test_split
    X_train, *_ = train_val_test_split([f"t{i}" for i in range(10)], [0, 1] * 5)
    assert len(X_train) == 6


def test_load_model_reads_a_saved_model(tmp_path, toy_texts, tiny_vectors_file):
    clf = DANClassifier(embeddings=tiny_vectors_file, **TINY_MODEL).fit(*toy_texts)
    path = clf.save(tmp_path / "m.dandice")
    with pytest.warns(DeprecationWarning, match=r"use dan_dice\.DANClassifier\.load"):
        from dan_dice.persistence import load_model
    assert (load_model(path).predict(toy_texts[0]) == clf.predict(toy_texts[0])).all()


def test_unknown_names_are_still_attribute_errors():
    import dan_dice.datasets

    with pytest.raises(AttributeError, match=r"'dan_dice\.datasets' has no attribute 'nope'"):
        dan_dice.datasets.nope  # noqa: B018


def test_changelog_lists_every_moved_name():
    changelog = (Path(__file__).resolve().parent.parent / "CHANGELOG.md").read_text()
    for module, name, _ in MOVED:
        assert f"`{module}.{name}" in changelog


def test_the_old_load_split_keeps_its_signature(monkeypatch, toy_texts):
    from sklearn.utils import Bunch

    from dan_dice import experiments, study_data

    texts, labels = toy_texts
    bunch = Bunch(data=texts, target=labels, target_names=["a", "b"])
    monkeypatch.setattr(study_data, "load_dataset", lambda name, home: bunch)
    with pytest.warns(DeprecationWarning, match="study_data.load_split"):
        old = experiments.load_split("toy", None, experiments.Config())
    assert old.X_test == study_data.load_split("toy").X_test
