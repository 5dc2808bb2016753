"""Tests for dan_dice.datafiles: data files are decoded, split into records with the line each
starts on, and read as a header and rows; every malformed file is a ``DatasetError`` (or, for
``dan-dice train --csv``, a ``ValueError``) naming the file and the line."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from dan_dice.datafiles import (
    FIELD_LIMIT,
    DatasetError,
    first_few,
    label_list,
    read_data_text,
    read_labelled_csv,
    read_records,
    read_table,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_text_of_a_file_and_of_a_zip_member(tmp_path):
    plain = write(tmp_path, "a.csv", "\ufefftext,label\nhé,1\n")
    assert read_data_text(plain) == "text,label\nhé,1\n"  # the byte-order mark read, not kept
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("folder/inner.csv", "text,label\nok,0\n")
    assert read_data_text(archive, "inner.csv") == "text,label\nok,0\n"
    with pytest.raises(DatasetError, match=r"holds no other\.csv \(found \['folder/inner"):
        read_data_text(archive, "other.csv")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", " \n\n", "is empty"),
        ("broken.zip", b"not a zip", "is not a valid zip archive"),
    ],
)
def test_unreadable_files_are_named(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with pytest.raises(DatasetError, match=message) as caught:
        read_data_text(path, "x.csv")
    assert name in str(caught.value)
    with pytest.raises(DatasetError, match="is a directory"):
        read_data_text(tmp_path)


def test_records_skip_blank_lines_and_know_the_line_each_starts_on(tmp_path):
    text = 'a,b\n\n"two\nlines",x\nlast,y\n'
    records = list(read_records(tmp_path / "f.csv", text))
    assert records == [(1, ["a", "b"]), (3, ["two\nlines", "x"]), (5, ["last", "y"])]


def test_a_field_past_the_limit_names_its_line_and_the_limit_is_restored(tmp_path):
    before = csv.field_size_limit()
    text = "a,b\nok,1\n" + '"' + "x" * (FIELD_LIMIT + 1) + '",2\n'
    with pytest.raises(DatasetError, match=r"f\.csv: malformed CSV from line 3"):
        list(read_records(tmp_path / "f.csv", text))
    assert csv.field_size_limit() == before


def test_a_table_pads_short_rows_and_refuses_long_ones(tmp_path):
    path = write(tmp_path, "t.csv", "text,label,note\nshort,1\ntrailing,0,,\n")
    header, rows = read_table(path)
    assert header == ["text", "label", "note"]
    assert rows == [(2, ["short", "1", ""]), (3, ["trailing", "0", "", ""])]
    bad = write(tmp_path, "bad.csv", "text,label\n" + "".join(f"a,b,{i}\n" for i in range(7)))
    with pytest.raises(DatasetError, match=r"7 row\(s\) .* line\(s\) 2, 3, 4, 5, 6, \.\.\."):
        read_table(bad)
    assert read_table(bad, spill=True)[1][0] == (2, ["a", "b", "0"])


def test_first_few():
    assert first_few([1, 2]) == "1, 2"
    assert first_few(list(range(9))) == "0, 1, 2, 3, 4, ..."


def test_labelled_csv_reads_two_named_columns(tmp_path):
    path = write(tmp_path, "d.csv", 'id,msg,tag\n1,"hi, you",spam\n2,yo,ham\n')
    assert read_labelled_csv(path, "msg", "tag") == (["hi, you", "yo"], ["spam", "ham"])
    lists = write(tmp_path, "m.csv", 'msg,tags\na,"joy, anger ,joy"\nb,\n')
    assert read_labelled_csv(lists, "msg", "tags", ",") == (["a", "b"], [("joy", "anger"), ()])


@pytest.mark.parametrize(
    ("content", "columns", "message"),
    [
        ("msg,tag\na,1\n", ("msg", None), "--csv needs --text-column and --label-column"),
        ("msg,tag\na,1\n", ("msg", "label"), r"has no column 'label'; found \['msg', 'tag'\]"),
        ("msg,tag\n", ("msg", "tag"), "a header but no data rows"),
        ("msg,tag\na,1\nb,\n", ("msg", "tag"), "line 3 has no 'tag' value"),
    ],
)
def test_labelled_csv_errors_name_the_problem(tmp_path, content, columns, message):
    path = write(tmp_path, "d.csv", content)
    with pytest.raises(ValueError, match=message):
        read_labelled_csv(path, *columns)


def test_label_lists():
    path = Path("m.csv")
    assert label_list(path, 2, " joy  anger joy ", " ") == ("joy", "anger")
    assert label_list(path, 2, "  ", ";") == ()
    with pytest.raises(ValueError, match=r"m.csv: line 4 has an empty label name in 'joy;;anger'"):
        label_list(path, 4, "joy;;anger", ";")
