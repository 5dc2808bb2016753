"""The bad-input matrix of docs/bad-input.md: each case raises the documented message.

The table in the docs and the cases here are checked against each other, so the document
cannot drift from what users really see.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from dan_dice import DANClassifier
from dan_dice.datasets import DatasetError, DatasetNotFoundError, load_cyberbullying, load_sms_spam
from dan_dice.splits import train_val_test_split
from dan_dice.training import TrainingDivergedError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad-input.md"
X = ["free prize now", "see you at lunch"] * 10
Y = [1, 0] * 10
FAST = {"max_epochs": 1, "hidden_sizes": (8,), "random_state": 0}


def _sms(tmp: Path, content: bytes | None = None, directory: bool = False):
    path = tmp / "SMSSpamCollection"
    if directory:
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return lambda: load_sms_spam(tmp)


def _cyber(tmp: Path, content: str):
    (tmp / "cyberbullying_tweets.csv").write_text(content)
    return lambda: load_cyberbullying(tmp)


def _fit(X=X, y=Y, **params):
    return lambda: DANClassifier(**{**FAST, **params}).fit(X, y)


def _diverge(tmp):
    return _fit(loss=lambda logits, target: logits.sum() * float("nan"))


def _bad_vectors(tmp):
    path = tmp / "bad.txt"
    path.write_text("this is not\x00 a vectors file\n1 2\n")
    return _fit(embeddings=str(path))


def _cli(*args: str):
    def call():
        result = subprocess.run(
            [sys.executable, str(ROOT / "run_experiments.py"), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        raise SystemExit(result.stderr)

    return call


def _dan_dice(*args: str):
    """``dan-dice ARGS`` in this process: exit status 2, one line on stderr, no traceback,
    nothing on stdout."""

    def call():
        from dan_dice.cli import main

        stderr = io.StringIO()
        stdout = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            status = main(list(args))
        error = stderr.getvalue()
        assert status == 2 and not stdout.getvalue(), error
        assert "Traceback" not in error and error.count("\n") == 1, error
        raise SystemExit(error)

    return call


@functools.cache
def _fitted() -> DANClassifier:
    return DANClassifier(**FAST).fit(X, Y)


def _model_file(tmp: Path) -> Path:
    return _fitted().save(tmp / "model.dandice")


def _artifact(tmp: Path) -> Path:
    from dan_dice.export import export_model

    return export_model(_fitted(), tmp / "model.dan")


def _changed_model_byte(tmp):
    path = _model_file(tmp)
    data = path.read_bytes()
    assert b'\\"classes\\": [0, 1]' in data
    path.write_bytes(data.replace(b'\\"classes\\": [0, 1]', b'\\"classes\\": [0, 7]'))
    return lambda: DANClassifier.load(path)


def _truncated_model(tmp):
    path = _model_file(tmp)
    path.write_bytes(path.read_bytes()[:-100])
    return lambda: DANClassifier.load(path)


def _model_metadata(path: Path):
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return {name: f.get_tensor(name) for name in f.keys()}, dict(f.metadata())  # noqa: SIM118


def _edited_model(tmp):
    from dan_dice.persistence import _signed

    path = _model_file(tmp)
    tensors, metadata = _model_metadata(path)
    config = json.loads(metadata.pop("config"))
    config["params"]["num_threads"] = 0
    metadata.pop("sha256")
    path.write_bytes(_signed(tensors, {**metadata, "config": json.dumps(config)}))
    return lambda: DANClassifier.load(path)


def _version_1_model(tmp):
    import safetensors.torch

    from dan_dice.persistence import _digest

    path = _model_file(tmp)
    tensors, metadata = _model_metadata(path)
    config = json.loads(metadata["config"])
    config["weights_sha256"] = _digest({k: v.numpy() for k, v in tensors.items()})
    old = {"format": metadata["format"], "format_version": "1", "config": json.dumps(config)}
    safetensors.torch.save_file(tensors, path, metadata=old)
    return lambda: DANClassifier.load(path)


def _edge(path: Path):
    from dan_dice.edge import EdgeClassifier

    return lambda: EdgeClassifier.load(path)


def _changed_artifact_byte(tmp):
    path = _artifact(tmp)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def _members(path: Path, **changes) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = {**json.loads(members["meta.json"]), **changes}
    return {**members, "meta.json": json.dumps(meta).encode()}


def _resealed_artifact(tmp):
    from dan_dice.export import package

    path = _artifact(tmp)
    path.write_bytes(package(_members(path, threshold=1.5)))
    return _edge(path)


def _unreadable_zip(tmp):
    from dan_dice.edge import seal

    path = _artifact(tmp)
    data = bytearray(path.read_bytes())
    data[8] = data[data.find(b"PK\x01\x02") + 10] = 99  # meta.json's compression method
    path.write_bytes(seal(bytes(data)))
    return _edge(path)


def _version_1_artifact(tmp):
    path = _artifact(tmp)
    members = _members(path, format_version=1)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return _edge(path)


def _csv(tmp: Path, rows: str) -> Path:
    path = tmp / "data.csv"
    path.write_text("id,message,category\n" + rows)
    return path


def _train_csv(tmp: Path, data: Path, out: Path, *more: str):
    columns = ["--text-column", "message", "--label-column", "category"]
    return _dan_dice("train", "--csv", str(data), *columns, "--out", str(out), *more)


def _stray_byte_in_predict(tmp):
    """Read, with the warning as one line on stderr: no Python warning text, no source line."""
    from dan_dice.cli import main

    artifact = _artifact(tmp)
    lines = tmp / "lines.txt"
    lines.write_bytes(b"free prize\nna\xefve\n")

    def call():
        stderr = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            assert main(["predict", "--model", str(artifact), str(lines)]) == 0
        assert stderr.getvalue().startswith("dan-dice: warning: ")
        assert stderr.getvalue().count("\n") == 1 and "Warning" not in stderr.getvalue()
        raise SystemExit(stderr.getvalue())

    return call


def _tiny_study_data(tmp: Path) -> None:
    (tmp / "SMSSpamCollection").write_text("ham\thello\nspam\twin cash\n")
    (tmp / "cyberbullying_tweets.csv").write_text(
        "tweet_text,cyberbullying_type\nhi,not_cyberbullying\nyou idiot,age\n"
    )


TINY_STUDY = ("--datasets", "sms", "cyberbullying")
"""The datasets ``_tiny_study_data`` writes (the main job's default also reads Stormfront)."""


def _damaged_invocations(tmp):
    _tiny_study_data(tmp)
    (tmp / "r").mkdir()
    (tmp / "r" / "invocations.json").write_text('[{"command": "python run_exp')
    return _cli("--quick", *TINY_STUDY, "--data-dir", str(tmp), "--out", str(tmp / "r"))


def _study_run(**changes) -> dict:
    """A journal line of the study suite, as :func:`dan_dice.experiments.run_one` writes it."""
    from dan_dice.experiments import Config

    scores = dict.fromkeys(("accuracy", "f1", "macro_f1", "precision", "recall"), 0.5)
    record = {
        **{"dataset": "sms", "loss": "dice", "seed": 0, "lr": 0.001, "best_epoch": 1, **scores},
        **{"val_f1": 0.5, "per_class_f1": [0.5, 0.5], "target_names": ["ham", "spam"]},
        **{"majority_share": 0.5, "positive_rate": 0.2, "train_seconds": 1.0, "history": []},
        **{"tuning_seconds": 1.0, "val_f1_by_lr": {"0.001": 0.5}, "threshold": 0.5},
        **{"config": Config().fingerprint(), "command": "python run_experiments.py"},
        **{"worker": "host (cpu)"},
    }
    for key, value in changes.items():
        record.pop(key) if value is None else record.update({key: value})
    return record


def _damaged_journal_line(tmp, **changes):
    """A journal of one good run and one damaged by ``changes`` (a key: None removes it)."""
    from dan_dice.experiments import Config, read_journal

    path = tmp / "runs.jsonl"
    lines = [_study_run(seed=0), _study_run(seed=1, **changes)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def call():
        assert read_journal(path, Config(), repair=True) == json.loads(json.dumps(lines[:1]))

    return call


def _silent_scheduler(tmp):
    """A port on 127.0.0.1 that accepts TCP connections (the kernel does, into the backlog)
    and never speaks: the handshake must time out, in about ``scheduler_timeout``."""
    from dan_dice.dispatch import dispatch

    server = socket.create_server(("127.0.0.1", 0))
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

    def call():
        start = time.perf_counter()
        with server:
            try:
                list(dispatch(divmod, [(0, (7, 2))], scheduler=address, scheduler_timeout=1))
            finally:
                assert time.perf_counter() - start < 15

    return call


def _malformed_scheduler(tmp):
    """In a process of its own, to see what it prints as it exits: one line, at once."""
    code = (
        "import sys; from dan_dice.cli import run_guarded; from dan_dice.dispatch import "
        "dispatch; sys.exit(run_guarded(lambda: list(dispatch(divmod, [(0, (7, 2))], "
        "scheduler='tcp://'))))"
    )

    def call():
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
        )
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        raise SystemExit(result.stderr)

    return call


def _unwritable(tmp):
    _tiny_study_data(tmp)
    (tmp / "a-file").write_text("")
    return _cli(
        "--quick", *TINY_STUDY, "--data-dir", str(tmp), "--out", str(tmp / "a-file" / "reports")
    )


ML_X = ["pizza pasta", "football goal", "pizza football", "code laptop"] * 6
ML_Y = [["food/drink"], ["sports"], ["food/drink", "sports"], []] * 6


def _ml_indicator() -> np.ndarray:
    """``ML_Y`` as a 0/1 indicator: columns food/drink and sports."""
    return np.array([["food/drink" in row, "sports" in row] for row in ML_Y], dtype=int)


@functools.cache
def _ml_fitted() -> DANClassifier:
    return DANClassifier(**FAST).fit(ML_X, ML_Y)


def _ml_model_file(tmp):
    from dan_dice.persistence import _signed

    path = _ml_fitted().save(tmp / "multi.dandice")
    tensors, metadata = _model_metadata(path)
    config = json.loads(metadata.pop("config"))
    config["threshold"] = config["threshold"][:1]
    metadata.pop("sha256")
    path.write_bytes(_signed(tensors, {**metadata, "config": json.dumps(config)}))
    return lambda: DANClassifier.load(path)


def _ml_artifact(tmp: Path) -> Path:
    from dan_dice.export import export_model

    return export_model(_ml_fitted(), tmp / "multi.dan")


def _ml_artifact_as_version_2(tmp):
    from dan_dice.export import package

    path = _ml_artifact(tmp)
    path.write_bytes(package(_members(path, format_version=2)))
    return _edge(path)


def _ml_train(tmp: Path, rows: str, *more: str):
    data = _csv(tmp, rows)
    return _train_csv(tmp, data, tmp / "m", "--label-separator", ",", *more)


def _ml_rare_label(tmp):
    """Iterative stratification sends a rare label to the training part first: a split that
    does not is simulated."""
    from unittest import mock

    def split(X, Y, random_state):
        rare = np.flatnonzero(Y[:, 0])
        rest = np.setdiff1d(np.arange(len(Y)), rare)
        return [X[i] for i in rest], [], [X[i] for i in rare], Y[rest], Y[:0], Y[rare]

    call = _ml_train(tmp, "0,hi,joy\n1,ho,joy\n2,hu,anger\n")

    def patched():
        with mock.patch("dan_dice.splits.train_val_test_split", split):
            call()

    return patched


CASES = {
    "missing file": (DatasetNotFoundError, lambda t: _sms(t)),
    "directory instead of file": (DatasetError, lambda t: _sms(t, directory=True)),
    "empty file": (DatasetError, lambda t: _sms(t, b"")),
    "wrong delimiter (comma-separated SMS)": (DatasetError, lambda t: _sms(t, b"ham,hi\nspam,x\n")),
    "wrong or missing columns": (DatasetError, lambda t: _cyber(t, "text,label\nhi,age\n")),
    "row with missing text": (DatasetError, lambda t: _sms(t, b"ham\t\nspam\twin\n")),
    "latin-1 file where UTF-8 is expected": (
        UserWarning,
        lambda t: _sms(t, "ham\tcafé\nspam\twin\n".encode("latin-1")),
    ),
    "a stray non-UTF-8 byte in a UTF-8 file": (
        UserWarning,
        lambda t: _sms(t, "ham\tcafé\n".encode() + b"spam\twin \xa3100\n"),
    ),
    "UTF-16 or UTF-32 file without a byte-order mark": (
        DatasetError,
        lambda t: _sms(t, "ham\thi\nspam\twin\n".encode("utf-16-le")),
    ),
    "unquoted comma in a text that is not the last column": (
        DatasetError,
        lambda t: _cyber(t, "tweet_text,cyberbullying_type\nyou, idiot,age\n"),
    ),
    "CSV field over 131,072 characters (an unbalanced quote, mostly)": (
        DatasetError,
        lambda t: _cyber(t, 'tweet_text,cyberbullying_type\n"hi,age\n' + "x" * 131_072 + "\n"),
    ),
    "NaN among texts": (ValueError, lambda t: _fit(X=["a", float("nan")], y=[0, 1])),
    "None among texts": (ValueError, lambda t: _fit(X=["a", None], y=[0, 1])),
    "number among texts": (ValueError, lambda t: _fit(X=["a", 3], y=[0, 1])),
    "bytes among texts": (ValueError, lambda t: _fit(X=["a", b"x"], y=[0, 1])),
    "a single string instead of a list": (ValueError, lambda t: _fit(X="free prize", y=[1])),
    "2-D X": (ValueError, lambda t: _fit(X=np.array(X).reshape(-1, 2), y=Y[:10])),
    "no text at all in `fit`": (ValueError, lambda t: _fit(X=[], y=[])),
    "a single class in y": (ValueError, lambda t: _fit(y=[1] * 20)),
    "NaN / None among labels": (ValueError, lambda t: _fit(y=[0.0, np.nan] * 10)),
    "y of another length than X": (ValueError, lambda t: _fit(y=Y[:-1])),
    "predict before fit": (NotFittedError, lambda t: lambda: DANClassifier().predict(X)),
    "a label never seen in fit (for `score`)": (
        ValueError,
        lambda t: lambda: _fitted().score(X[:2], [0, 7]),
    ),
    "one-class `validation_data`": (
        ValueError,
        lambda t: lambda: DANClassifier(**FAST).fit(X, Y, validation_data=(X[:3], [0, 0, 0])),
    ),
    "labels holding a surrogate pair as two code points (`save`, export)": (
        ValueError,
        lambda t: lambda: DANClassifier(**FAST).fit(X, ["\ud83d\ude00", "b"] * 10).save(t / "m"),
    ),
    "unknown loss name": (ValueError, lambda t: _fit(loss="nope")),
    "zero or negative learning rate": (ValueError, lambda t: _fit(lr=0)),
    "zero batch size": (ValueError, lambda t: _fit(batch_size=0)),
    "dropout of 1 or more": (ValueError, lambda t: _fit(dropout=1.0)),
    "threshold outside (0, 1)": (ValueError, lambda t: _fit(threshold=1.5)),
    '`verbose` that is no integer >= 0 (`"yes"`)': (ValueError, lambda t: _fit(verbose="yes")),
    '`device="cuda"` without a GPU': (ValueError, lambda t: _fit(device="cuda")),
    "unreadable GloVe / word2vec file": (ValueError, _bad_vectors),
    "missing GloVe / word2vec file": (FileNotFoundError, lambda t: _fit(embeddings=str(t / "x"))),
    "loss becomes NaN or infinite while training": (TrainingDivergedError, _diverge),
    "output folder that cannot be written (`--out`)": (SystemExit, _unwritable),
    "experiment data missing (`run_experiments.py`)": (
        SystemExit,
        lambda t: _cli("--quick", "--data-dir", str(t), "--out", str(t / "r")),
    ),
    "unknown loss on the command line": (
        SystemExit,
        lambda t: _cli("--losses", "nope", "--out", str(t / "r")),
    ),
    "`--threshold` neither 'tune' nor in (0, 1)": (
        SystemExit,
        lambda t: _cli("--threshold", "1.5", "--out", str(t / "r")),
    ),
    "`train --out` in a missing folder (checked before training)": (
        SystemExit,
        lambda t: _train_csv(t, _csv(t, "0,hi,ham\n1,win,spam\n"), t / "missing" / "m"),
    ),
    "`--out` that is a folder": (
        SystemExit,
        lambda t: _train_csv(t, _csv(t, "0,hi,ham\n1,win,spam\n"), t),
    ),
    "`--out` that is the input file, with `--overwrite`": (
        SystemExit,
        lambda t: _train_csv(t, _csv(t, "0,hi,ham\n"), t / "data.csv", "--overwrite"),
    ),
    "`train --csv` row with an unquoted comma": (
        SystemExit,
        lambda t: _train_csv(t, _csv(t, "0,hi,ham\n1,win, cash,spam\n"), t / "m"),
    ),
    "`train --csv` field over 131,072 characters": (
        SystemExit,
        lambda t: _train_csv(t, _csv(t, '0,"' + "x" * 131_073 + '",ham\n'), t / "m"),
    ),
    "a stray non-UTF-8 byte in `predict`'s input": (SystemExit, _stray_byte_in_predict),
    "an abbreviated option (`--multi` for `--multilabel`)": (
        SystemExit,
        lambda t: _cli("--multi", "--out", str(t / "r")),
    ),
    "`dan-dice experiments` with its options (data missing)": (
        SystemExit,
        lambda t: _dan_dice("experiments", "--quick", "--data-dir", str(t), "--out", str(t / "r")),
    ),
    "a damaged `invocations.json` (checked before training)": (SystemExit, _damaged_invocations),
    "a journal line with a key renamed by damage": (
        UserWarning,
        lambda t: _damaged_journal_line(t, f1=None, f2=0.5),
    ),
    "a journal line with a value of the wrong type": (
        UserWarning,
        lambda t: _damaged_journal_line(t, f1="0.5"),
    ),
    "a `--scheduler` that accepts TCP but never speaks Dask": (OSError, _silent_scheduler),
    "a malformed `--scheduler` address": (SystemExit, _malformed_scheduler),
    "a `predict` input that is a folder (nothing written)": (
        SystemExit,
        lambda t: _dan_dice("predict", "--model", str(_artifact(t)), str(t)),
    ),
    "a changed byte in a model file (a label, a token, the threshold...)": (
        ValueError,
        _changed_model_byte,
    ),
    "a truncated model file": (ValueError, _truncated_model),
    "an edited model file checksummed again (`num_threads` 0)": (ValueError, _edited_model),
    "a changed byte in an edge artifact (meta.json, the graph, the zip itself)": (
        ValueError,
        lambda t: _edge(_changed_artifact_byte(t)),
    ),
    "edited artifact metadata sealed again (threshold 1.5)": (ValueError, _resealed_artifact),
    "a zip that zipfile cannot read (unknown compression, encryption...)": (
        ValueError,
        _unreadable_zip,
    ),
    "a model file of format version 1 (no whole-file checksum)": (UserWarning, _version_1_model),
    "an edge artifact of format version 1 (not sealed)": (UserWarning, _version_1_artifact),
    "a corrupt artifact given to `dan-dice predict`": (
        SystemExit,
        lambda t: _dan_dice("predict", "--model", str(_changed_artifact_byte(t))),
    ),
    "multi-label y with fewer than two labels": (ValueError, lambda t: _fit(y=[["joy"]] * 20)),
    "an indicator matrix holding values other than 0 and 1": (
        ValueError,
        lambda t: _fit(y=np.array([[0, 2], [1, 0]] * 10)),
    ),
    "`class_weight` with multi-label y": (
        ValueError,
        lambda t: _fit(X=ML_X, y=ML_Y, class_weight="balanced"),
    ),
    "a single-label loss with multi-label y (`wbce`)": (
        ValueError,
        lambda t: _fit(X=ML_X, y=ML_Y, loss="wbce"),
    ),
    "a label list with a label never seen in fit (`score`)": (
        ValueError,
        lambda t: lambda: _ml_fitted().score(ML_X[:2], [["sports"], ["nope"]]),
    ),
    "`train --label-separator` without `--csv`": (
        SystemExit,
        lambda t: _dan_dice("train", "--dataset", "sms", "--label-separator", ",", "--out", "m"),
    ),
    "`train --label-separator` naming a missing label column": (
        SystemExit,
        lambda t: _dan_dice(
            *("train", "--csv", str(_csv(t, "0,hi,joy\n")), "--text-column", "message"),
            *("--label-column", "emotions", "--label-separator", ",", "--out", str(t / "m")),
        ),
    ),
    "a label list with an empty label name (`joy,,anger`)": (
        SystemExit,
        lambda t: _ml_train(t, '0,hi,"joy,,anger"\n1,ho,joy\n'),
    ),
    "a label column with fewer than two distinct labels": (
        SystemExit,
        lambda t: _ml_train(t, "0,hi,joy\n1,ho,\n"),
    ),
    "a label that never reaches the training part": (SystemExit, _ml_rare_label),
    "`predict --label-separator` with a single-label artifact": (
        SystemExit,
        lambda t: _dan_dice("predict", "--model", str(_artifact(t)), "--label-separator", ","),
    ),
    "a label holding `predict`'s separator (CSV output)": (
        SystemExit,
        lambda t: _dan_dice("predict", "--model", str(_ml_artifact(t)), "--label-separator", "/"),
    ),
    "an edited multi-label model file checksummed again (one threshold for two labels)": (
        ValueError,
        _ml_model_file,
    ),
    "a multi-label artifact edited to format version 2 and sealed again": (
        ValueError,
        _ml_artifact_as_version_2,
    ),
    "a bare string among label lists (`fit`)": (
        ValueError,
        lambda t: _fit(X=ML_X[:3], y=[["sports"], "food/drink", []]),
    ),
    "a bare string among label lists (`train_val_test_split`)": (
        ValueError,
        lambda t: lambda: train_val_test_split(ML_X[:3], [["sports"], "food/drink", []]),
    ),
    "a multi-label DataFrame whose columns repeat a name": (
        ValueError,
        lambda t: _fit(X=ML_X, y=pd.DataFrame(_ml_indicator(), columns=["joy", "joy"])),
    ),
    "multi-label `validation_data` without any positive": (
        ValueError,
        lambda t: (
            lambda: DANClassifier(**FAST).fit(ML_X, ML_Y, validation_data=(ML_X[:2], [[], []]))
        ),
    ),
    "a label without a positive in multi-label `validation_data`": (
        UserWarning,
        lambda t: (
            lambda: DANClassifier(**FAST).fit(
                ML_X, ML_Y, validation_data=(ML_X[:2], [["sports"], []])
            )
        ),
    ),
    "2-D texts in `validation_data`": (
        ValueError,
        lambda t: (
            lambda: DANClassifier(**FAST).fit(
                X, Y, validation_data=(np.array(X).reshape(-1, 2), Y[:10])
            )
        ),
    ),
}


def _documented() -> dict[str, str]:
    """case -> message excerpt, from the tables of docs/bad-input.md."""
    rows = re.findall(r"^\| (.+?) \| .+? \| (.+?) \|$", DOC.read_text(), flags=re.MULTILINE)
    return {case: message for case, message in rows if case != "case"}


def test_every_case_is_documented_and_every_documented_case_is_tested():
    if cuda_available():
        pytest.skip("the cuda case needs a machine without a GPU")
    assert set(_documented()) == set(CASES)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_the_documented_message(case, tmp_path):
    if case.startswith("`device") and cuda_available():
        pytest.skip("a GPU is present")
    error, make = CASES[case]
    call = make(tmp_path)
    if error is UserWarning:
        with pytest.warns(UserWarning) as caught:
            call()
        message = " ".join(str(w.message) for w in caught)
    else:
        with pytest.raises(error) as caught:
            call()
        message = str(caught.value)
    for part in _documented()[case].split("…"):
        assert part.strip() in message, f"{case!r}: {part.strip()!r} not in {message!r}"


@pytest.fixture(scope="module")
def fitted() -> DANClassifier:
    return DANClassifier(**FAST).fit(X, Y)


def test_odd_but_legitimate_texts_are_predicted(fitted):
    odd = ["", "   ", "😀😀", "qwxzv blorp", "free " * 200_000]
    proba = fitted.predict_proba(odd)
    assert proba.shape == (5, 2)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(1), 1)
    # no token, and only unknown tokens, both read as the unknown word: the same prediction
    np.testing.assert_allclose(proba[0], proba[1])
    np.testing.assert_allclose(proba[1], proba[2])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=5))
def test_predict_never_fails_on_random_unicode(fitted, texts):
    proba = fitted.predict_proba(texts)
    assert proba.shape == (len(texts), 2)
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    assert set(fitted.predict(texts)) <= {0, 1}


def _shuffled(values, seed: int) -> pd.Series | pd.DataFrame:
    """``values`` as pandas data whose index is a permutation, not 0..n-1."""
    index = np.random.default_rng(seed).permutation(len(values))
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return pd.DataFrame(values, index=index, columns=["food/drink", "sports"])
    return pd.Series(list(values), index=index)


def _same_fit(X_fit, y_fit, **fit) -> DANClassifier:
    return DANClassifier(**FAST).fit(X_fit, y_fit, **fit)


@pytest.mark.parametrize(
    "entry", ["fit", "fit (label lists)", "fit (DataFrame)", "validation_data", "score"]
)
def test_the_estimator_pairs_pandas_inputs_by_position(entry):
    """Series and DataFrames with shuffled indexes (X's unlike y's) pair each text with the
    label at its position, as scikit-learn does: the same model as from lists."""
    multilabel = entry != "fit" and entry != "score" and entry != "validation_data"
    texts, labels = (ML_X, ML_Y) if multilabel else (X, Y)
    if entry == "fit (DataFrame)":
        labels = _ml_indicator()
    X_pd, y_pd = _shuffled(texts, 0), _shuffled(labels, 1)
    if entry == "validation_data":
        plain = _same_fit(X, Y, validation_data=(X[:6], Y[:6]))
        paired = _same_fit(X, Y, validation_data=(X_pd[:6], y_pd[:6]))
    elif entry == "score":
        plain = paired = _fitted()
        assert paired.score(X_pd, y_pd) == plain.score(texts, labels)
    else:
        plain, paired = _same_fit(texts, labels), _same_fit(X_pd, y_pd)
    assert paired.history_ == plain.history_
    np.testing.assert_array_equal(paired.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("kind", ["plain", "groups", "indicator", "label lists"])
def test_train_val_test_split_pairs_pandas_inputs_by_position(kind):
    """Each text keeps its own label (and group) in every part, whatever the indexes."""
    n = 60
    texts = [f"text {i}" for i in range(n)]
    labels = {
        "plain": np.arange(n) % 2,
        "groups": np.arange(n) % 2,
        "indicator": np.array([[i % 2, i % 3 == 0] for i in range(n)], dtype=int),
        "label lists": [["a"] if i % 2 else ["a", "b"] for i in range(n)],
    }[kind]
    groups = _shuffled(np.arange(n) // 2, 2) if kind == "groups" else None
    parts = train_val_test_split(_shuffled(texts, 0), _shuffled(labels, 1), groups=groups)
    expected = dict(zip(texts, map(str, _rows(labels)), strict=True))
    for texts_part, labels_part in zip(parts[:3], parts[3:], strict=True):
        assert len(texts_part) and list(map(str, _rows(labels_part))) == [
            expected[text] for text in texts_part
        ]


def _rows(labels) -> list:
    return np.asarray(labels).tolist() if hasattr(labels, "ndim") else list(labels)


def test_nested_0_1_lists_are_an_indicator_as_in_scikit_learn():
    """``Y.tolist()`` (rows of one length, only 0 and 1) is read as type_of_target reads it."""
    from sklearn.utils.multiclass import type_of_target

    Y_list = _ml_indicator().tolist()
    assert type_of_target(Y_list) == "multilabel-indicator"
    clf = DANClassifier(**FAST).fit(ML_X, Y_list)
    assert clf.y_type_ == "multilabel-indicator" and clf.classes_.tolist() == [0, 1]
    assert isinstance(clf.predict(ML_X[:2]), np.ndarray)
    assert 0 <= clf.score(ML_X, Y_list) <= 1
    ragged = DANClassifier(**FAST).fit(ML_X, [[1], [0, 1], [], [0]] * 6)
    assert ragged.y_type_ == "multilabel-sequences"


@pytest.mark.parametrize(
    ("task", "advised", "not_advised"),
    [
        ("binary", "class_weight='balanced'", "distribution_balanced"),
        ("multilabel", "loss='distribution_balanced'", "class_weight"),
    ],
)
def test_collapse_advice_is_valid_for_its_case(task, advised, not_advised):
    from dan_dice.estimator import _collapse_message

    clf = _fitted() if task == "binary" else _ml_fitted()
    epoch = {"val_majority_share": 1.0, "epoch": 1, "val_f1": 0.0}
    message = _collapse_message(epoch, clf)
    assert advised in message and not_advised not in message
    weighted = DANClassifier(class_weight="balanced")
    weighted.y_type_ = "binary"
    assert "class_weight" not in _collapse_message(epoch, weighted)


def test_class_weight_comes_back_with_its_labels(tmp_path):
    """JSON keys are text: ``{1: 3.0}`` is read back as ``{1: 3.0}``, not ``{'1': 3.0}``, also
    from files written before this was done; the loaded model refits."""
    from dan_dice.persistence import _signed

    clf = DANClassifier(**FAST, class_weight={1: 3.0}).fit(X, Y)
    path = clf.save(tmp_path / "m")
    assert DANClassifier.load(path).get_params()["class_weight"] == {1: 3.0}
    tensors, metadata = _model_metadata(path)
    config = json.loads(metadata.pop("config"))
    assert config["params"]["class_weight"] == {"1": 3.0}  # as every file has it
    metadata.pop("sha256")
    path.write_bytes(_signed(tensors, {**metadata, "config": json.dumps(config)}))
    loaded = DANClassifier.load(path)
    assert loaded.get_params()["class_weight"] == {1: 3.0}
    assert loaded.fit(X, Y).class_weight == {1: 3.0}


def test_predict_reads_standard_input_for_a_dash(tmp_path, monkeypatch, capsys):
    """``-`` is standard input, as for Unix tools, not a file named ``-``."""
    from dan_dice.cli import main

    artifact = _artifact(tmp_path)
    monkeypatch.chdir(tmp_path)  # where a file named - would be looked for
    monkeypatch.setattr(sys, "stdin", io.StringIO("free prize\nsee you\n"))
    assert main(["predict", "--model", str(artifact), "-"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "label,probability" and len(out.splitlines()) == 3, err


def test_dan_dice_experiments_takes_the_options_of_run_experiments(capsys):
    from dan_dice.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["experiments", "--help"])
    assert exited.value.code == 0 and "--quick" in capsys.readouterr().out
