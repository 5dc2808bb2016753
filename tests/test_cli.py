"""The train / export / predict commands, their outputs and their one-line usage errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dan_dice.cli import main
from dan_dice.edge import EdgeClassifier

LINES = ["free prize cash now", "hello mom, lunch tomorrow?", "", "😀"]


def _write_csv(path: Path, texts, labels) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "message", "category"])
        writer.writerows(zip(range(len(texts)), texts, labels, strict=True))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def spam_csv(folder, toy_texts) -> Path:
    X, y = toy_texts
    return _write_csv(folder / "spam.csv", X, np.where(y == 1, "spam", "ham"))


@pytest.fixture(scope="module")
def model(folder, spam_csv) -> Path:
    out = folder / "spam.model"
    command = ["train", "--csv", str(spam_csv), "--text-column", "message"]
    assert main([*command, "--label-column", "category", "--out", str(out), "--epochs", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def artifact(folder, model) -> Path:
    out = folder / "spam.dan"
    assert main(["export", str(model), str(out), "--quantize", "int8"]) == 0
    return out


@pytest.fixture(scope="module")
def lines_file(folder) -> Path:
    path = folder / "lines.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_train_saves_a_loadable_model(model):
    from dan_dice.persistence import load_model

    assert list(load_model(model).classes_) == ["ham", "spam"]


def test_train_prints_scores(folder, spam_csv, capsys):
    out = folder / "again.model"
    command = ["train", "--csv", str(spam_csv), "--text-column", "message", "--label-column"]
    assert (
        main([*command, "category", "--out", str(out), "--epochs", "1", "--threshold", "tune"]) == 0
    )
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "F1" in printed and f"saved {out}" in printed


def test_export_prints_the_artifact(model, folder, capsys):
    out = folder / "fp16.dan"
    assert main(["export", str(model), str(out), "--quantize", "fp16"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert EdgeClassifier.load(out).quantization == "fp16"


def test_predict_csv_from_file(artifact, lines_file, capsys):
    assert main(["predict", "--model", str(artifact), str(lines_file)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    clf = EdgeClassifier.load(artifact)
    assert rows[0] == ["label", "probability"]
    assert [row[0] for row in rows[1:]] == clf.predict(LINES).tolist()
    np.testing.assert_allclose(
        [float(row[1]) for row in rows[1:]], clf.predict_proba(LINES)[:, 1], atol=1e-6
    )


def test_predict_jsonl_from_stdin(artifact, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(LINES) + "\n"))
    assert main(["predict", "--model", str(artifact), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == len(LINES)
    assert set(records[0]) == {"label", "probability"}


def test_predict_multiclass_has_a_column_per_class(folder, toy_texts_3class, lines_file, capsys):
    X, y = toy_texts_3class
    data = _write_csv(folder / "topics.csv", X, np.array(["sports", "food", "tech"])[y])
    model, out = folder / "topics.model", folder / "topics.dan"
    command = ["train", "--csv", str(data), "--text-column", "message", "--label-column"]
    assert main([*command, "category", "--out", str(model), "--loss", "ce", "--epochs", "1"]) == 0
    assert main(["export", str(model), str(out)]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(out), str(lines_file)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["label", "food", "sports", "tech"]
    np.testing.assert_allclose([sum(map(float, row[1:])) for row in rows[1:]], 1, atol=1e-5)


def test_train_on_a_named_dataset(folder, toy_texts):
    X, y = toy_texts
    data = folder / "sms"
    data.mkdir()
    rows = [f"{'spam' if label else 'ham'}\t{text}" for text, label in zip(X, y, strict=True)]
    (data / "SMSSpamCollection").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = folder / "sms.model"
    command = ["train", "--dataset", "sms", "--data-dir", str(data), "--out", str(out)]
    assert main([*command, "--epochs", "1", "--device", "cpu", "--seed", "3"]) == 0
    assert out.exists()


TRAIN = "train --csv {csv} --text-column message --label-column category"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("train --csv {csv} --out {tmp}/m", "needs --text-column and --label-column"),
        (
            "train --csv {csv} --text-column text --label-column category --out {tmp}/m",
            "no column 'text'",
        ),
        (
            "train --csv {tmp}/absent.csv --text-column t --label-column l --out {tmp}/m",
            "No such file",
        ),
        (TRAIN + " --out {csv}", "already exists; pass --overwrite"),
        (TRAIN + " --out {tmp}/m --loss nonsense", "nonsense"),
        ("export {csv} {tmp}/a.dan", "not a dan-dice model file"),
        ("export {model} {model}", "already exists; pass --overwrite"),
        ("predict --model {tmp}/absent.dan", "not found"),
        ("predict --model {model}", "not a dan-dice edge artifact"),
        ("predict --model {artifact} {tmp}/absent.txt", "No such file"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(
    command, message, spam_csv, model, artifact, tmp_path, capsys
):
    paths = {"csv": spam_csv, "tmp": tmp_path, "model": model, "artifact": artifact}
    assert main(command.format(**paths).split()) == 2
    error = capsys.readouterr().err
    assert error.startswith("dan-dice: error: ") and error.count("\n") == 1
    assert message in error


def test_predict_runs_as_a_module_without_torch(artifact, lines_file, tmp_path):
    """``python -m dan_dice.cli predict`` where torch, sklearn, onnx and pandas cannot load."""
    site = tmp_path / "site"
    site.mkdir()
    blocked = ["torch", "sklearn", "onnx", "pandas", "safetensors", "scipy"]
    (site / "sitecustomize.py").write_text(
        f"import sys\nsys.modules.update(dict.fromkeys({blocked}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path.cwd())])}
    command = [sys.executable, "-m", "dan_dice.cli", "predict", "--model", str(artifact)]
    result = subprocess.run(
        [*command, str(lines_file)], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["label", "probability"] and len(rows) == len(LINES) + 1
    probe = [sys.executable, "-c", "import torch"]
    assert subprocess.run(probe, env=env, capture_output=True, check=False).returncode != 0
