"""Reading the data files: their decoded text, their delimited records with the line each
starts on, a CSV's header and rows, and the texts and labels of two named columns (what
``dan-dice train --csv`` reads). The dataset loaders (:mod:`dan_dice.datasets`) and the command
line share them, so every file is read by the same rules.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .files import decode_text

FIELD_LIMIT = 131_072
"""Most characters of one CSV field (the ``csv`` module's default, set explicitly for every
file read): a longer field most often comes from an unbalanced quote swallowing the lines
after it, so it is an error naming its line, in the loaders and ``dan-dice train --csv``."""


class DatasetError(ValueError):
    """A dataset file is unreadable or malformed; the message names the file and the problem."""


def read_data_text(path: Path, member: str | None = None, *, warn: bool = True) -> str:
    """Return the decoded text of `path`, or of the file named `member` when `path` is a zip.

    Decoded by :func:`dan_dice.files.decode_text`; ``warn=False`` is for files whose own
    encoding is latin-1 unless they are UTF-8 (Kaggle's ``spam.csv``): read whole as latin-1.
    """
    if path.is_dir():
        raise DatasetError(f"{path} is a directory; expected a data file")
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if PurePosixPath(n).name == member]
                if not names:
                    raise DatasetError(f"{path} holds no {member} (found {archive.namelist()})")
                raw = archive.read(names[0])
        except zipfile.BadZipFile as exc:
            raise DatasetError(f"{path} is not a valid zip archive ({exc})") from exc
    else:
        raw = path.read_bytes()
    try:
        text = decode_text(raw, path, legacy=not warn)
    except ValueError as exc:
        raise DatasetError(str(exc)) from exc
    if not text.strip():
        raise DatasetError(f"{path} is empty")
    return text


def read_records(path: Path, text: str, **fmtparams) -> Iterator[tuple[int, list[str]]]:
    """Yield the non-blank records of a delimited `text` with the line each starts on.

    The whole text is parsed first, with fields of up to :data:`FIELD_LIMIT` characters (the
    limit is process-wide in ``csv``, so it is set for the parse and restored after it).
    """
    reader = csv.reader(io.StringIO(text, newline=""), **fmtparams)
    records, line = [], 1
    previous = csv.field_size_limit(FIELD_LIMIT)
    try:
        for record in reader:
            if record:
                records.append((line, record))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DatasetError(f"{path}: malformed CSV from line {line}: {exc}") from exc
    finally:
        csv.field_size_limit(previous)
    return iter(records)


def read_table(
    path: Path, content: str | None = None, *, spill: bool = False
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the records of a comma-separated file (``content``: its decoded text,
    read from ``path`` when None), each record with the line it starts on and padded with
    empty fields to the header's width.

    A record with more fields than the header is an error naming its line (its text most
    likely holds an unquoted comma, and the fields after it would be lost), unless those
    fields are empty (a trailing comma) or ``spill`` (the caller joins them back).
    """
    records = read_records(path, read_data_text(path) if content is None else content)
    first = next(records, None)
    if first is None:
        raise DatasetError(f"{path} is empty")
    header = first[1]
    width = len(header)
    rows, long = [], []
    for line, record in records:
        if len(record) > width and not spill and any(record[width:]):
            long.append(line)
        rows.append((line, record + [""] * (width - len(record))))
    if long:
        raise DatasetError(
            f"{path}: {len(long)} row(s) with more fields than the header's {width}, on "
            f"line(s) {first_few(long)}; a text that holds a comma must be quoted "
            '("like, this")'
        )
    return header, rows


def first_few(items: list) -> str:
    """Format the first few `items` of a possibly long list for an error message."""
    return ", ".join(map(str, items[:5])) + (", ..." if len(items) > 5 else "")


def read_labelled_csv(
    path: Path, text_column: str | None, label_column: str | None, separator: str | None = None
):
    """Texts and labels (as str) from the named columns of a CSV file with a header row.

    Read as the dataset loaders read theirs (:func:`read_table`): the
    encoding from a byte-order mark, else UTF-8; a row with more fields than the header (an
    unquoted comma) or a field over :data:`FIELD_LIMIT` characters is an
    error naming its line, never a text cut short.

    With a ``separator`` each label cell is a list of labels (a tuple of str each, white space
    around a name removed, an empty cell no label; a white-space separator splits at any run of
    white space); an empty name (``"joy,,anger"``, a trailing separator) is an error naming its
    line. Without one every row needs its label.
    """
    if text_column is None or label_column is None:
        raise ValueError("--csv needs --text-column and --label-column")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected a CSV file")
    header, records = read_table(path)
    missing = [c for c in (text_column, label_column) if c not in header]
    if missing:
        raise ValueError(f"{path} has no column {missing[0]!r}; found {header}")
    i_text, i_label = header.index(text_column), header.index(label_column)
    if not records:
        raise ValueError(f"{path} has a header but no data rows")
    texts = [fields[i_text] for _, fields in records]
    if separator is not None:
        return texts, [label_list(path, line, f[i_label], separator) for line, f in records]
    unlabelled = [line for line, fields in records if not fields[i_label]]
    if unlabelled:
        raise ValueError(f"{path}: line {unlabelled[0]} has no {label_column!r} value")
    return texts, [fields[i_label] for _, fields in records]


def label_list(path: Path, line: int, cell: str, separator: str) -> tuple[str, ...]:
    """The labels of one cell of a label-list column, each once, in their order."""
    if separator.isspace():
        return tuple(dict.fromkeys(cell.split()))
    if not cell.strip():
        return ()
    names = [name.strip() for name in cell.split(separator)]
    if not all(names):
        raise ValueError(
            f"{path}: line {line} has an empty label name in {cell!r} (labels separated by "
            f"{separator!r}); remove the extra separator"
        )
    return tuple(dict.fromkeys(names))
