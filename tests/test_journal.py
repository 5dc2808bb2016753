"""The run journal (bad lines skipped, good runs kept, other code refused) and the folder lock."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import dan_dice
from dan_dice.journal import (
    JOURNAL,
    SKIPPED,
    FolderInUseError,
    JournalWarning,
    append_journal,
    code_fingerprint,
    lock_folder,
    read_journal,
    software_fingerprint,
    source_hash,
)

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = {"epochs": 2, "lrs": [0.01], "code": "0.1.0+0123456789abcdef", "torch": "2.13.0"}


def _run(seed: int, loss: str = "dice", **extra) -> dict:
    return {"dataset": "toy", "loss": loss, "seed": seed, "f1": 0.5, "config": FINGERPRINT, **extra}


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def _line(record: dict) -> bytes:
    return json.dumps(record).encode()


def test_bad_lines_are_skipped_with_file_and_line_and_every_good_run_is_kept(tmp_path):
    journal = tmp_path / JOURNAL
    good = [_run(0), _run(1), _run(2), _run(3, "bce")]
    bad = [
        b"null",
        b'{"dataset": "toy", "lo',
        b'{"dataset": "toy", "loss": "dice", "seed": 9, "f1": "caf\xe9"}',
        b'{"dataset": "toy", "loss": "dice"}',
        b"[1, 2]",
        b'{"dataset": "toy", "loss": "dice", "seed": [0], "config": {}}',
        _line(good[0]),  # the same run twice (two writers before the lock existed)
    ]
    lines = [_line(good[0]), bad[0], bad[1], _line(good[1]), bad[2], bad[3], _line(good[2])]
    _write(journal, [*lines, bad[4], bad[5], bad[6], _line(good[3])])
    with pytest.warns(JournalWarning) as caught:
        records = read_journal(journal, FINGERPRINT)
    assert records == good  # every good run, also those after the bad lines
    messages = [str(w.message) for w in caught]
    assert [m.split(":")[0] for m in messages] == [
        f"{journal}, line {n}" for n in (2, 3, 5, 6, 8, 9, 10)
    ]
    assert "not a run" in messages[0] and "null" in messages[0]
    assert "not JSON" in messages[1]
    assert "not UTF-8" in messages[2]
    assert "no seed, config" in messages[3]
    assert "seed an integer" in messages[5]
    assert "repeats the run" in messages[6]
    # repaired: the journal keeps the good lines, the skipped ones are kept aside verbatim
    assert journal.read_bytes() == b"".join(_line(r) + b"\n" for r in good)
    assert (tmp_path / SKIPPED).read_bytes() == b"".join(line + b"\n" for line in bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_journal(journal, FINGERPRINT) == good


def test_an_unfinished_last_line_is_skipped_and_the_next_append_starts_clean(tmp_path):
    journal = tmp_path / JOURNAL
    append_journal(journal, _run(0))
    with open(journal, "ab") as f:
        f.write(b'{"dataset": "toy", "lo')  # what SIGKILL mid-write would leave
    with pytest.warns(
        JournalWarning, match=rf"{re.escape(str(journal))}, line 2: skipped, unfinished"
    ):
        assert read_journal(journal, FINGERPRINT) == [_run(0)]
    append_journal(journal, _run(1))
    assert read_journal(journal, FINGERPRINT) == [_run(0), _run(1)]


def test_without_repair_the_journal_is_left_as_it_is(tmp_path):
    journal = tmp_path / JOURNAL
    _write(journal, [b"null", _line(_run(0))])
    with pytest.warns(JournalWarning, match="line 1"):
        assert read_journal(journal, FINGERPRINT, repair=False) == [_run(0)]
    assert journal.read_bytes() == b"null\n" + _line(_run(0)) + b"\n"
    assert not (tmp_path / SKIPPED).exists()


@pytest.mark.parametrize("key", ["code", "torch", "epochs"])
def test_a_journal_of_other_code_software_or_settings_is_refused(tmp_path, key):
    journal = tmp_path / JOURNAL
    append_journal(journal, _run(0))
    now = {**FINGERPRINT, key: "something else"}
    with pytest.raises(ValueError, match=rf"other settings or code .*{key} .*--fresh.*--out"):
        read_journal(journal, now)


def test_a_missing_journal_is_empty_and_an_unreadable_one_is_named(tmp_path):
    assert read_journal(tmp_path / JOURNAL, FINGERPRINT) == []
    (tmp_path / JOURNAL).mkdir()
    with pytest.raises(
        OSError, match=rf"cannot read the journal {re.escape(str(tmp_path / JOURNAL))}"
    ):
        read_journal(tmp_path / JOURNAL, FINGERPRINT)


def test_the_code_fingerprint_is_the_version_and_a_hash_of_every_source_file(tmp_path):
    version = f"{dan_dice.__version__}+"
    assert code_fingerprint().startswith(version) and len(code_fingerprint()) == len(version) + 16
    assert software_fingerprint()["code"] == code_fingerprint()
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    before = source_hash(tmp_path)
    (tmp_path / "notes.txt").write_text("not code")
    assert source_hash(tmp_path) == before
    (tmp_path / "sub" / "b.py").write_text("y = 2  # a comment is an edit too\n")
    assert source_hash(tmp_path) != before
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    assert source_hash(tmp_path) == before
    (tmp_path / "sub" / "b.py").rename(tmp_path / "b.py")
    assert source_hash(tmp_path) != before  # the path counts, not only the bytes


def _hold_lock(folder: Path) -> subprocess.Popen:
    """A process that holds ``folder``'s lock until its stdin closes (or it is killed)."""
    code = (
        "import sys; from pathlib import Path; from dan_dice.journal import lock_folder\n"
        "with lock_folder(Path(sys.argv[1]), 'python holder.py --out x'):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout.readline() == "held\n"
    return process


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_command(tmp_path):
    holder = _hold_lock(tmp_path)
    try:
        with (
            pytest.raises(
                FolderInUseError,
                match=rf"{re.escape(str(tmp_path))} is in use by pid {holder.pid} ",
            ) as refused,
            lock_folder(tmp_path),
        ):
            pass
        assert "(command 'python holder.py --out x'" in str(refused.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with lock_folder(tmp_path, "me"):  # released when the holder ended
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


def test_the_lock_dies_with_its_holder_even_by_sigkill(tmp_path):
    holder = _hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with lock_folder(tmp_path):
        pass


def test_nested_locks_in_one_process_share_the_lock(tmp_path):
    with lock_folder(tmp_path, "outer"), lock_folder(tmp_path, "inner"):
        assert json.loads((tmp_path / ".lock").read_text())["command"] == "outer"
    assert (tmp_path / ".lock").read_text() == ""  # released: nobody named


def test_a_run_schema_checks_keys_and_json_types_items_included():
    from dan_dice.journal import RunSchema

    schema = RunSchema(
        required={"f1": (float,), "names": (list[str],), "rate": (float, type(None))},
        optional={"by_lr": (dict[str, float],)},
    )
    run = _run(0, command="", worker="", names=["a"], rate=None)
    assert schema.problem(run) == ""
    assert schema.problem({**run, "f1": 1, "by_lr": {"0.1": 0.5}}) == ""  # an int is a number
    assert "missing key(s) f1; unknown key(s) f2" in schema.problem(
        {**{k: v for k, v in run.items() if k != "f1"}, "f2": 0.5}
    )
    for bad in ({"f1": True}, {"f1": "0.5"}, {"names": ["a", 1]}, {"by_lr": {"0.1": "x"}}):
        assert "has the wrong type" in schema.problem({**run, **bad}), bad
