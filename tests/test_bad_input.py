"""The bad-input matrix of docs/bad-input.md: each case raises the documented message.

The table in the docs and the cases here are checked against each other, so the document
cannot drift from what users really see.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from dan_dice import DANClassifier
from dan_dice.datasets import DatasetError, DatasetNotFoundError, load_cyberbullying, load_sms_spam
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


def _unwritable(tmp):
    (tmp / "SMSSpamCollection").write_text("ham\thello\nspam\twin cash\n")
    (tmp / "cyberbullying_tweets.csv").write_text(
        "tweet_text,cyberbullying_type\nhi,not_cyberbullying\nyou idiot,age\n"
    )
    (tmp / "a-file").write_text("")
    return _cli("--quick", "--data-dir", str(tmp), "--out", str(tmp / "a-file" / "reports"))


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
        lambda t: lambda: DANClassifier(**FAST).fit(X, Y).score(X[:2], [0, 7]),
    ),
    "unknown loss name": (ValueError, lambda t: _fit(loss="nope")),
    "zero or negative learning rate": (ValueError, lambda t: _fit(lr=0)),
    "zero batch size": (ValueError, lambda t: _fit(batch_size=0)),
    "dropout of 1 or more": (ValueError, lambda t: _fit(dropout=1.0)),
    "threshold outside (0, 1)": (ValueError, lambda t: _fit(threshold=1.5)),
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
