"""Atomic writes: complete or untouched files, no temporary left, usual mode."""

from __future__ import annotations

import os

import pytest

from dan_dice.files import atomic_write_text, check_writable_folder, write_atomic


def test_write_atomic_writes_and_refuses_to_overwrite_unless_asked(tmp_path):
    path = write_atomic(tmp_path / "model.bin", b"one")
    assert path.read_bytes() == b"one"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_atomic(path, b"two")
    write_atomic(path, b"two", overwrite=True)
    assert path.read_bytes() == b"two"


def test_write_atomic_needs_the_folder_unless_told_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "f", b"x")
    assert write_atomic(tmp_path / "a" / "b" / "f", b"x", make_parents=True).read_bytes() == b"x"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = atomic_write_text(tmp_path / "summary.md", "old")

    def disk_full(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_files_get_the_usual_mode(tmp_path):
    target = atomic_write_text(tmp_path / "summary.md", "text")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_check_writable_folder_creates_the_folder(tmp_path):
    folder = tmp_path / "a" / "b"
    check_writable_folder(folder)
    assert folder.is_dir() and not list(folder.iterdir())


def test_check_writable_folder_names_a_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"cannot write to the output folder .*file"):
        check_writable_folder(blocker / "reports")
