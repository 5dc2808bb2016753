"""The train / export / predict commands, their outputs and their one-line usage errors."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
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
    from dan_dice import DANClassifier

    assert list(DANClassifier.load(model).classes_) == ["ham", "spam"]


def test_train_prints_scores(folder, spam_csv, capsys):
    out = folder / "again.model"
    command = ["train", "--csv", str(spam_csv), "--text-column", "message", "--label-column"]
    assert (
        main([*command, "category", "--out", str(out), "--epochs", "1", "--threshold", "tune"]) == 0
    )
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "F1" in printed and f"saved {out}" in printed


def test_train_three_classes_with_every_default(folder, toy_texts_3class, capsys):
    """A 3-class CSV of string labels and no option but the columns: the default loss takes
    three classes, and the model tells the topics apart (not a majority-class predictor)."""
    X, y = toy_texts_3class
    topics = np.array(["sports", "food", "tech"])[y]
    data = _write_csv(folder / "defaults.csv", X, topics)
    out = folder / "defaults.model"
    command = ["train", "--csv", str(data), "--text-column", "message"]
    assert main([*command, "--label-column", "category", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and "warning" not in printed
    from dan_dice import DANClassifier

    clf = DANClassifier.load(out)
    predicted = clf.predict(X)
    assert set(predicted) == {"sports", "food", "tech"}
    assert np.mean(predicted == topics) >= 0.9


def test_train_prints_the_collapse_warning(folder, toy_texts, capsys):
    X, y = toy_texts
    noise = np.random.default_rng(0).permutation(np.where(y == 1, "spam", "ham"))
    data = _write_csv(folder / "noise.csv", X, noise)
    out = folder / "noise.model"
    command = ["train", "--csv", str(data), "--text-column", "message", "--label-column"]
    command += ["category", "--out", str(out), "--lr", "1e-7", "--epochs", "2", "--threshold"]
    assert main([*command, "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "warning: the fitted model predicts one class" in printed
    assert f"saved {out}" in printed


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


# Reliability: readers that lose nothing, outputs checked before the work, corrupt files


def _fails(command: list[str], capsys) -> str:
    """Run ``command``; it must fail with one line on stderr and exit status 2."""
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.startswith("dan-dice: error: ") and error.count("\n") == 1, error
    assert "Traceback" not in error
    return error


def _train_args(data: Path, out: Path) -> list[str]:
    columns = ["--text-column", "message", "--label-column", "category", "--epochs", "1"]
    return ["train", "--csv", str(data), *columns, "--out", str(out)]


def test_train_csv_with_an_unquoted_comma_names_the_line(tmp_path, capsys):
    """The text column is not the last one: an unquoted comma would cut the text short."""
    data = tmp_path / "data.csv"
    data.write_text("id,message,category\n0,hello there,ham\n1,free, cash now,spam\n")
    error = _fails(_train_args(data, tmp_path / "m"), capsys)
    assert "more fields than the header's 3, on line(s) 3" in error


def test_train_csv_field_over_the_limit_is_a_one_line_error(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text('id,message,category\n0,hi,ham\n1,"' + "x" * 131_073 + '",spam\n')
    error = _fails(_train_args(data, tmp_path / "m"), capsys)
    assert "malformed CSV from line 3: field larger than field limit (131072)" in error


def test_read_csv_keeps_every_line_whatever_the_encoding(tmp_path):
    from dan_dice.datafiles import read_labelled_csv

    rows = 'id,message,category\r\n0,"café, naïve",ham\r\n1,win £100,spam\r\n'
    for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-32"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(rows.encode(encoding))
        assert read_labelled_csv(path, "message", "category") == (
            ["café, naïve", "win £100"],
            ["ham", "spam"],
        )
    path = tmp_path / "stray.csv"
    path.write_bytes(rows.encode() + b"2,na\xefve,ham\n")
    with pytest.warns(UserWarning, match="not valid UTF-8 on line 4"):
        texts, _ = read_labelled_csv(path, "message", "category")
    assert texts == ["café, naïve", "win £100", "naïve"]


def test_read_csv_names_the_line_of_a_missing_label(tmp_path):
    from dan_dice.datafiles import read_labelled_csv

    path = tmp_path / "data.csv"
    path.write_text('id,message,category\n0,"two\nlines",ham\n1,no label,\n')
    with pytest.raises(ValueError, match="line 4 has no 'category' value"):
        read_labelled_csv(path, "message", "category")


@pytest.fixture
def no_training(monkeypatch):
    """Make fitting fail loudly: the commands below must stop before it."""
    from dan_dice.estimator import DANClassifier

    def fit(*args, **kwargs):
        raise AssertionError("fit was called: the output path was not checked first")

    monkeypatch.setattr(DANClassifier, "fit", fit)


@pytest.mark.parametrize(
    ("out", "overwrite", "message"),
    [
        ("{tmp}/missing_folder/m.dandice", False, "folder {tmp}/missing_folder does not exist"),
        ("{tmp}/a_file/m.dandice", False, "folder {tmp}/a_file is not a folder"),
        ("{tmp}", False, "cannot write {tmp}: it is a folder"),
        ("{csv}", True, "cannot write {csv}: it is the input file"),
    ],
    ids=["missing-folder", "file-as-folder", "folder", "input"],
)
def test_train_checks_the_output_before_training(
    spam_csv, tmp_path, capsys, no_training, out, overwrite, message
):
    (tmp_path / "a_file").write_text("")
    paths = {"tmp": tmp_path, "csv": spam_csv}
    command = _train_args(spam_csv, Path(out.format(**paths)))
    error = _fails(command + ["--overwrite"] * overwrite, capsys)
    assert message.format(**paths) in error


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_train_checks_the_folder_is_writable(spam_csv, tmp_path, capsys, no_training):
    folder = tmp_path / "read_only"
    folder.mkdir(mode=0o500)
    try:
        error = _fails(_train_args(spam_csv, folder / "m.dandice"), capsys)
    finally:
        folder.chmod(0o700)
    assert "no file can be created in folder" in error


def test_train_checks_the_folder_is_writable_even_as_root(
    spam_csv, tmp_path, capsys, no_training, monkeypatch
):
    """Root writes in a read-only folder, but not on a read-only file system: simulated."""
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    error = _fails(_train_args(spam_csv, tmp_path / "m.dandice"), capsys)
    assert f"no file can be created in folder {tmp_path} (Read-only file system)" in error


def test_the_writability_probe_leaves_nothing(spam_csv, tmp_path, monkeypatch):
    from dan_dice.files import check_writable_file

    check_writable_file(tmp_path / "m.dandice", overwrite=False, inputs=[spam_csv])
    assert list(tmp_path.iterdir()) == []


def test_export_checks_the_output_before_reading(model, tmp_path, capsys):
    error = _fails(["export", str(model), str(tmp_path / "missing" / "a.dan")], capsys)
    assert "does not exist" in error
    error = _fails(["export", str(model), str(model), "--overwrite"], capsys)
    assert "it is the input file" in error


def _predict_rows(command: list[str], capsys) -> list[list[str]]:
    assert main(command) == 0
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]


def test_predict_strips_a_byte_order_mark_from_a_file(artifact, tmp_path, capsys):
    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    marked.write_text("\n".join(LINES) + "\n", encoding="utf-8-sig")
    expected = _predict_rows(["predict", "--model", str(artifact), str(plain)], capsys)
    assert _predict_rows(["predict", "--model", str(artifact), str(marked)], capsys) == expected
    for encoding in ("utf-16", "utf-32"):
        wide = tmp_path / f"{encoding}.txt"
        wide.write_text("\r\n".join(LINES) + "\r\n", encoding=encoding)
        assert _predict_rows(["predict", "--model", str(artifact), str(wide)], capsys) == expected


def test_predict_strips_a_byte_order_mark_from_stdin(artifact, monkeypatch, capsys):
    command = ["predict", "--model", str(artifact)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(LINES) + "\n"))
    expected = _predict_rows(command, capsys)
    binary = io.BytesIO(("\ufeff" + "\r\n".join(LINES) + "\r\n").encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(binary, encoding="utf-8"))
    assert _predict_rows(command, capsys) == expected
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ufeff" + "\n".join(LINES) + "\n"))
    assert _predict_rows(command, capsys) == expected


def test_predict_line_ends_are_those_of_text_mode(artifact, tmp_path, capsys):
    path = tmp_path / "ends.txt"
    path.write_bytes(b"free prize\r\nhello mom\rcash now\n\nlast line")
    rows = _predict_rows(["predict", "--model", str(artifact), str(path)], capsys)
    clf = EdgeClassifier.load(artifact)
    texts = ["free prize", "hello mom", "cash now", "", "last line"]
    assert [row[0] for row in rows] == clf.predict(texts).tolist()


def test_predict_reads_a_stray_byte_in_its_line_alone(artifact, tmp_path, capsys):
    path = tmp_path / "stray.txt"
    path.write_bytes("café prize\n".encode() + b"na\xefve lunch\nhello mom\n")
    assert main(["predict", "--model", str(artifact), str(path)]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert re.fullmatch(r"dan-dice: warning: .*stray\.txt is not valid UTF-8 on line 2.*\n", err)
    clf = EdgeClassifier.load(artifact)
    np.testing.assert_allclose(
        [float(row[1]) for row in rows],
        clf.predict_proba(["café prize", "naïve lunch", "hello mom"])[:, 1],
        atol=1e-6,
    )


def test_corrupt_artifacts_and_models_exit_2(artifact, model, tmp_path, capsys):
    from dan_dice.edge import seal

    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x10
    flipped = tmp_path / "flipped.dan"
    flipped.write_bytes(bytes(data))
    assert "checksum" in _fails(["predict", "--model", str(flipped)], capsys)
    data = bytearray(artifact.read_bytes())
    with zipfile.ZipFile(artifact) as archive:
        offset = archive.getinfo("meta.json").header_offset
    data[offset + 8] = 99  # an unknown compression method: NotImplementedError in zipfile
    data[data.find(b"PK\x01\x02") + 10] = 99
    odd = tmp_path / "odd.dan"
    odd.write_bytes(seal(bytes(data)))
    assert "not a dan-dice edge artifact" in _fails(["predict", "--model", str(odd)], capsys)
    data = bytearray(model.read_bytes())
    data[-7] ^= 0x01  # a weight
    broken = tmp_path / "broken.model"
    broken.write_bytes(bytes(data))
    error = _fails(["export", str(broken), str(tmp_path / "a.dan")], capsys)
    assert f"{broken} is corrupted" in error


# Multi-label: label lists in a CSV column, GoEmotions, label sets out of predict

TOPICS = np.array(["sports", "food", "tech"])  # the label columns of the multi-label toy task


@pytest.fixture(scope="module")
def topics_csv(folder, toy_multilabel) -> Path:
    """Label lists joined by "," (", " on every third row), and ten texts with no label."""
    X, Y = toy_multilabel
    cells = [(", " if i % 3 else ",").join(TOPICS[np.flatnonzero(r)]) for i, r in enumerate(Y)]
    texts = [*X, *["you the now", "call today please"] * 5]
    return _write_csv(folder / "topics_lists.csv", texts, [*cells, *[""] * 10])


@pytest.fixture(scope="module")
def multilabel_model(folder, topics_csv) -> Path:
    out = folder / "topics_lists.model"
    command = ["train", "--csv", str(topics_csv), "--text-column", "message", "--label-column"]
    command += ["category", "--label-separator", ",", "--out", str(out), "--lr", "1e-2"]
    assert main([*command, "--epochs", "5"]) == 0
    return out


@pytest.fixture(scope="module")
def multilabel_artifact(folder, multilabel_model) -> Path:
    out = folder / "topics_lists.dan"
    assert main(["export", str(multilabel_model), str(out)]) == 0
    return out


def test_train_multilabel_csv(folder, topics_csv, capsys):
    from dan_dice import DANClassifier

    out = folder / "lists.model"
    command = ["train", "--csv", str(topics_csv), "--text-column", "message", "--label-column"]
    command += ["category", "--label-separator", ",", "--epochs", "2", "--threshold"]
    assert main([*command, "tune_global", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test micro-F1" in printed and "macro-F1" in printed and "3 labels" in printed
    clf = DANClassifier.load(out)
    assert clf.y_type_ == "multilabel-sequences"
    assert clf.classes_.tolist() == ["food", "sports", "tech"]
    assert len(set(clf.threshold_)) == 1  # tune_global: one threshold for every label


def test_predict_multilabel_writes_label_sets_and_probabilities(
    multilabel_artifact, lines_file, capsys
):
    clf = EdgeClassifier.load(multilabel_artifact)
    command = ["predict", "--model", str(multilabel_artifact), str(lines_file)]
    rows = _csv_rows(_run(command, capsys))
    assert rows[0] == ["labels", "p_food", "p_sports", "p_tech"]
    assert [row[0] for row in rows[1:]] == [",".join(s) for s in clf.predict(LINES)]
    probabilities = [[float(p) for p in row[1:]] for row in rows[1:]]
    np.testing.assert_allclose(probabilities, clf.predict_proba(LINES), atol=1e-6)
    rows = _csv_rows(_run([*command, "--label-separator", " | "], capsys))
    assert [row[0] for row in rows[1:]] == [" | ".join(s) for s in clf.predict(LINES)]
    records = [
        json.loads(line) for line in _run([*command, "--format", "jsonl"], capsys).splitlines()
    ]
    assert [tuple(r["labels"]) for r in records] == clf.predict(LINES)
    assert list(records[0]) == ["labels", "p_food", "p_sports", "p_tech"]


def test_predict_finds_the_topics_of_texts(multilabel_artifact, tmp_path, capsys):
    path = tmp_path / "topics.txt"
    path.write_text("pizza pasta cheese\nfootball goal team\nlaptop software pizza pasta\n")
    rows = _csv_rows(_run(["predict", "--model", str(multilabel_artifact), str(path)], capsys))
    assert [set(row[0].split(",")) for row in rows[1:]] == [{"food"}, {"sports"}, {"tech", "food"}]


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _run(command: list[str], capsys) -> str:
    assert main(command) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_train_on_goemotions_uses_its_split(folder, toy_multilabel, capsys):
    X, Y = toy_multilabel
    data = folder / "ge" / "goemotions"
    data.mkdir(parents=True)
    (data / "labels.txt").write_text("sports\nfood\ntech\n")
    for name, part in (
        ("train", slice(0, 160)),
        ("dev", slice(160, 200)),
        ("test", slice(200, 240)),
    ):
        rows = [
            f"{text}\t{','.join(map(str, np.flatnonzero(row)))}\tid{i}"
            for i, (text, row) in enumerate(zip(X[part], Y[part], strict=True))
        ]
        (data / f"{name}.tsv").write_text("\n".join(rows) + "\n")
    out = folder / "ge.model"
    command = ["train", "--dataset", "goemotions", "--data-dir", str(data.parent), "--epochs"]
    printed = _run([*command, "1", "--out", str(out)], capsys)
    assert "test micro-F1" in printed and "on 40 texts" in printed
    from dan_dice import DANClassifier

    assert DANClassifier.load(out).classes_.tolist() == ["food", "sports", "tech"]


def test_read_csv_label_lists(tmp_path):
    from dan_dice.datafiles import read_labelled_csv

    path = _write_csv(tmp_path / "lists.csv", ["a", "b", "c"], ["joy, anger", "", "joy;fear,joy"])
    assert read_labelled_csv(path, "message", "category", ",")[1] == [
        ("joy", "anger"),
        (),
        ("joy;fear", "joy"),
    ]
    assert read_labelled_csv(path, "message", "category", " ")[1] == [
        ("joy,", "anger"),
        (),
        ("joy;fear,joy",),
    ]
    assert read_labelled_csv(path, "message", "category", ";")[1] == [
        ("joy, anger",),
        (),
        ("joy", "fear,joy"),
    ]


@pytest.mark.parametrize(
    ("rows", "separator", "message"),
    [
        (
            ["joy,,anger"],
            ",",
            "line 2 has an empty label name in 'joy,,anger' (labels separated by ','",
        ),
        (["joy,"], ",", "line 2 has an empty label name in 'joy,'"),
        (["joy", "joy", ""], ",", "column 'category' holds 1 distinct label(s) ['joy']"),
        (["joy"], "", "--label-separator must not be empty"),
    ],
)
def test_train_label_list_errors(rows, separator, message, tmp_path, capsys):
    data = _write_csv(tmp_path / "data.csv", [f"text {i}" for i in range(len(rows))], rows)
    command = [*_train_args(data, tmp_path / "m"), "--label-separator", separator]
    assert message in _fails(command, capsys)


def test_train_label_separator_needs_a_csv(tmp_path, capsys):
    command = ["train", "--dataset", "sms", "--label-separator", ",", "--out", str(tmp_path / "m")]
    assert "--label-separator applies to --csv" in _fails(command, capsys)


def test_train_label_separator_with_a_missing_label_column(topics_csv, tmp_path, capsys):
    command = ["train", "--csv", str(topics_csv), "--text-column", "message", "--label-column"]
    command += ["emotions", "--label-separator", ",", "--out", str(tmp_path / "m")]
    assert "has no column 'emotions'" in _fails(command, capsys)


def test_labels_that_miss_the_training_part_are_refused(monkeypatch):
    """Iterative stratification sends rare labels to the training part first; were one left
    out of it all the same, the model could not know it: an error naming it."""
    import dan_dice.splits
    from dan_dice.cli import _multilabel_split

    def swapped(X, Y, random_state):  # the training part gets the rows without "rare"
        rare = np.flatnonzero(Y[:, 1])
        rest = np.setdiff1d(np.arange(len(Y)), rare)
        return [X[i] for i in rest], [], [X[i] for i in rare], Y[rest], Y[:0], Y[rare]

    monkeypatch.setattr(dan_dice.splits, "train_val_test_split", swapped)
    labels = [("joy",)] * 8 + [("rare", "joy")]
    with pytest.raises(ValueError, match=r"label\(s\) \['rare'\] never reach the training part"):
        _multilabel_split([f"t{i}" for i in range(9)], labels, "category")


def test_predict_label_separator_errors(artifact, multilabel_model, tmp_path, capsys, monkeypatch):
    command = ["predict", "--model", str(artifact), "--label-separator", ","]
    assert "--label-separator applies to multi-label artifacts" in _fails(command, capsys)
    from dan_dice import DANClassifier
    from dan_dice.export import export_model

    clf = DANClassifier.load(multilabel_model)
    clf.classes_ = np.array(["fo,od", "sports", "tech"])
    odd = export_model(clf, tmp_path / "odd.dan")
    error = _fails(["predict", "--model", str(odd)], capsys)
    assert "label 'fo,od' holds the separator ','" in error
    for more in (["--format", "jsonl"], ["--label-separator", ";"]):  # unambiguous
        monkeypatch.setattr(sys, "stdin", io.StringIO("pizza\n"))
        assert "fo,od" in _run(["predict", "--model", str(odd), *more], capsys)


@pytest.mark.realdata
@pytest.mark.slow
def test_goemotions_end_to_end(tmp_path, capsys):
    """One epoch on the real GoEmotions: 28 labels, scores printed, the artifact's per-label
    probabilities those of the torch model."""
    from dan_dice import DANClassifier
    from dan_dice.datasets import get_data_home, load_goemotions

    home = get_data_home()
    if not (home / "goemotions" / "train.tsv").is_file():
        pytest.skip(f"GoEmotions missing from {home} (set DAN_DICE_DATA)")
    model, artifact = tmp_path / "ge.model", tmp_path / "ge.dan"
    command = ["train", "--dataset", "goemotions", "--data-dir", str(home), "--epochs", "1"]
    printed = _run([*command, "--out", str(model)], capsys)
    assert re.search(r"test micro-F1 0\.\d+, macro-F1 0\.\d+, .* 28 labels", printed)
    assert main(["export", str(model), str(artifact)]) == 0
    texts = load_goemotions(home, subset="test").data[:300]
    expected = DANClassifier.load(model).predict_proba(texts)
    proba = EdgeClassifier.load(artifact).predict_proba(texts)
    np.testing.assert_allclose(proba, expected, atol=1e-5)


@pytest.mark.parametrize("suite", [[], ["--multilabel"]])
def test_experiments_hands_every_option_to_its_suite(suite, capsys):
    with pytest.raises(SystemExit) as done:
        main(["experiments", *suite, "--quick", "--help"])
    assert done.value.code == 0
    assert "usage: run_experiments.py" in capsys.readouterr().out


def test_experiments_bad_options_are_the_suites_usage_errors(tmp_path, capsys):
    assert main(["experiments", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_explain_prints_the_strongest_tokens_and_json_gives_every_pair(model, capsys):
    from dan_dice.estimator import DANClassifier

    text = "free prize you win hello"
    assert main(["explain", "--model", str(model), text, "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == text and len(lines) == 3
    assert main(["explain", "--model", str(model), text, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    expected = DANClassifier.load(model).explain([text])[0]
    assert record["text"] == text
    assert [tuple(pair) for pair in record["contributions"]] == expected
    strongest = max(expected, key=lambda pair: abs(pair[1]))
    assert lines[1].split() == [f"{strongest[1]:+.4f}", strongest[0]]


def test_explain_names_an_unknown_label(model, capsys):
    assert main(["explain", "--model", str(model), "hello", "--label", "eggs"]) != 0
    assert "not one of the model's classes" in capsys.readouterr().err
