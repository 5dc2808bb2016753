"""Loaders for the study's two public datasets, a third imbalanced binary one (Stormfront
hate speech) and a multi-label one (GoEmotions), in the style of :mod:`sklearn.datasets`.

The data are third-party and never shipped with the package: the loaders read them from a
data folder (see :func:`get_data_home`) and explain where to get them when they are missing.

Files are decoded by :func:`dan_dice.files.decode_text`: a byte-order mark names the encoding
(UTF-8, UTF-16, UTF-32) and is removed; otherwise the text is UTF-8, a file with no valid
non-ASCII UTF-8 at all is read as latin-1 with a warning (how Kaggle's ``spam.csv`` and files
re-saved by old spreadsheet tools are encoded), and the stray invalid bytes of a UTF-8 file are
read as latin-1 in their own lines only, with a warning naming them. Nothing is dropped
silently: a CSV record with more fields than its header is an error naming its line (its text
most likely holds an unquoted comma), unless those fields are empty; a field longer than
:data:`FIELD_LIMIT` characters is an error naming its line.
"""

import csv
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .datafiles import FIELD_LIMIT as FIELD_LIMIT
from .datafiles import DatasetError, first_few, read_data_text, read_records, read_table
from .deprecation import moved

DATA_ENV = "DAN_DICE_DATA"
DATASETS: tuple[str, ...] = ("sms", "cyberbullying")
"""The study's two binary datasets (the experiment grid's default)."""
BINARY_DATASETS: tuple[str, ...] = (*DATASETS, "stormfront")
"""Every binary dataset with a loader: the study's and Stormfront."""
MULTILABEL_DATASETS: tuple[str, ...] = ("goemotions",)
"""Every multi-label dataset with a loader (its target is an ``(n, L)`` 0/1 indicator)."""

SMS_URL = "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"
SMS_FILES = (
    "SMSSpamCollection",
    "sms+spam+collection/SMSSpamCollection",
    "sms+spam+collection.zip",
    "smsspamcollection.zip",
    "spam.csv",
)
CYBERBULLYING_SLUG = "andrewmvd/cyberbullying-classification"
CYBERBULLYING_FILES = ("cyberbullying_tweets.csv",)
# Fixed order of the 6 classes for ``binary=False``: the negative class first, then alphabetical.
CYBERBULLYING_TYPES = (
    "not_cyberbullying",
    "age",
    "ethnicity",
    "gender",
    "other_cyberbullying",
    "religion",
)

STORMFRONT_DIR = "stormfront"
STORMFRONT_REPO = "https://github.com/Vicomtech/hate-speech-dataset"
STORMFRONT_LABELS = ("noHate", "hate", "relation", "idk/skip")

GOEMOTIONS_DIR = "goemotions"
GOEMOTIONS_REPO = "https://github.com/monologg/GoEmotions-pytorch"
GOEMOTIONS_SUBSETS = ("train", "dev", "test")

# (line number, label, text) of one example, as read from a file.
Row = tuple[int, str, str]


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset file is missing; the message says where to put it and where to get it."""


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the data folder: `data_home`, else ``$DAN_DICE_DATA``, else ``./data``."""
    home = data_home if data_home is not None else os.environ.get(DATA_ENV) or "data"
    return Path(home).expanduser().absolute()


def load_sms_spam(
    data_home: str | os.PathLike | None = None,
    *,
    return_X_y: bool = False,
    download: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the SMS Spam Collection (target 1 = spam).

    Reads ``SMSSpamCollection`` (tab-separated, as distributed by UCI, also inside its zip) or
    Kaggle's ``spam.csv`` re-export, whose message parts that spilled into the trailing unnamed
    columns are joined back with commas. With ``download=True`` a missing file is fetched from UCI.
    """
    home = get_data_home(data_home)
    path = _find(home, SMS_FILES)
    if path is None and download:
        path = _download(SMS_URL, home / "sms+spam+collection.zip")
    if path is None:
        raise DatasetNotFoundError(
            f"SMS Spam Collection not found in {home} (looked for {', '.join(SMS_FILES)}). "
            f"Download {SMS_URL} (or Kaggle's spam.csv) into that folder, point the {DATA_ENV} "
            "environment variable or the data_home argument at the folder holding it, "
            "or pass download=True."
        )
    if path.name == "spam.csv":
        content = read_data_text(path, warn=False)
        rows = _read_csv(path, content, text="v2", label="v1", spill=True)
    else:
        rows = _read_sms(path, read_data_text(path, member="SMSSpamCollection"))
    _check(path, rows, ("ham", "spam"))
    target = np.array([label == "spam" for _, label, _ in rows], dtype=np.int64)
    descr = (
        "SMS Spam Collection v.1 (Almeida, Gómez Hidalgo & Yamakami, 2011), "
        f"UCI Machine Learning Repository id 228, CC BY 4.0: {len(rows):,} SMS messages, "
        f"{target.sum():,} of them spam (target 1)."
    )
    return _result(rows, target, ["ham", "spam"], descr, path, return_X_y)


def load_cyberbullying(
    data_home: str | os.PathLike | None = None,
    *,
    binary: bool = True,
    return_X_y: bool = False,
    download: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the Cyberbullying Classification tweets.

    With ``binary=True`` the target is 1 for every cyberbullying type and 0 for
    ``not_cyberbullying``; otherwise it indexes :data:`CYBERBULLYING_TYPES`. Kaggle needs a
    login, so ``download=True`` cannot fetch the file and only explains how to get it.
    """
    home = get_data_home(data_home)
    path = _find(home, CYBERBULLYING_FILES)
    if path is None:
        raise DatasetNotFoundError(
            f"Cyberbullying tweets not found in {home} (looked for {CYBERBULLYING_FILES[0]}). "
            f"Download it from https://www.kaggle.com/datasets/{CYBERBULLYING_SLUG} "
            f"(or `kaggle datasets download -d {CYBERBULLYING_SLUG}`) and unzip it into that "
            f"folder, or point the {DATA_ENV} environment variable or the data_home argument at "
            "the folder holding it. download=True cannot fetch it: Kaggle requires a login."
        )
    rows = _read_csv(path, read_data_text(path), text="tweet_text", label="cyberbullying_type")
    _check(path, rows, CYBERBULLYING_TYPES)
    codes = np.array([CYBERBULLYING_TYPES.index(label) for _, label, _ in rows], dtype=np.int64)
    bullying = (codes > 0).astype(np.int64)  # not_cyberbullying is code 0
    descr = (
        f"Cyberbullying Classification (Kaggle {CYBERBULLYING_SLUG}, from Wang, Fu & Lu, "
        '"SOSNet", IEEE BigData 2020; terms as listed on Kaggle): '
        f"{len(rows):,} tweets in 6 types, {bullying.sum():,} of them cyberbullying."
    )
    if binary:
        return _result(
            rows, bullying, ["not_cyberbullying", "cyberbullying"], descr, path, return_X_y
        )
    return _result(rows, codes, list(CYBERBULLYING_TYPES), descr, path, return_X_y)


def load_stormfront(
    data_home: str | os.PathLike | None = None,
    *,
    keep_unsure: bool = False,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the Stormfront hate-speech sentences (de Gibert et al., 2018; target 1 = ``hate``).

    Reads ``stormfront/annotations_metadata.csv`` and one ``stormfront/all_files/<file_id>.txt``
    sentence per row. ``relation`` (hateful only with the sentences around it) and ``idk/skip``
    are no label of the sentence itself, so they are left out unless ``keep_unsure``, which
    counts them as not hate. The Bunch's ``groups`` holds each sentence's post (the number
    before the underscore of ``file_id``): pass it to
    :func:`dan_dice.splits.train_val_test_split` so that the
    sentences of one post stay on one side of a split.
    """
    home = get_data_home(data_home)
    folder = home / STORMFRONT_DIR
    path = folder / "annotations_metadata.csv"
    if not path.is_file():
        raise DatasetNotFoundError(
            f"Stormfront hate speech not found in {home} (looked for "
            f"{STORMFRONT_DIR}/annotations_metadata.csv). Download annotations_metadata.csv and "
            f"all_files/ from {STORMFRONT_REPO} into {folder}, or point the {DATA_ENV} "
            "environment variable or the data_home argument at the folder holding stormfront/."
        )
    rows, posts = [], []
    for line, label, file_id in _read_csv(
        path, read_data_text(path), text="file_id", label="label"
    ):
        if label not in STORMFRONT_LABELS[:2] and not keep_unsure and label in STORMFRONT_LABELS:
            continue
        sentence = folder / "all_files" / f"{file_id}.txt"
        if not sentence.is_file():
            raise DatasetError(f"{path}: line {line} names {file_id!r}, but {sentence} is missing")
        rows.append((line, label, read_data_text(sentence).strip()))
        posts.append(file_id.partition("_")[0])
    _check(path, rows, STORMFRONT_LABELS)
    target = np.array([label == "hate" for _, label, _ in rows], dtype=np.int64)
    descr = (
        "Hate Speech Dataset from a White Supremacy Forum (de Gibert, Perez, García-Pablos & "
        f"Cuadros, ALW2 2018; {STORMFRONT_REPO}, CC BY-SA 3.0 ES): {len(rows):,} forum "
        f"sentences from {len(set(posts)):,} posts, {target.sum():,} of them hate (target 1)."
    )
    result = _result(rows, target, ["noHate", "hate"], descr, path, return_X_y)
    if not return_X_y:
        result.groups = np.array(posts)
    return result


def load_goemotions(
    data_home: str | os.PathLike | None = None,
    *,
    subset: str = "train",
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load GoEmotions (Demszky et al., 2020): Reddit comments, each with one or more of 27
    emotions or ``neutral``, in the authors' train / dev / test split (multi-label).

    Reads ``goemotions/labels.txt`` (the label names, one a line, in id order) and
    ``goemotions/<subset>.tsv`` (no header); ``subset="all"`` is train, dev and test in that
    order. The target is an ``(n, 28)`` int8 0/1 indicator with columns ``target_names``; the
    Bunch also holds the comment ``ids`` and the ``subset`` each row came from.
    """
    if subset not in (*GOEMOTIONS_SUBSETS, "all"):
        raise ValueError(
            f"unknown GoEmotions subset {subset!r}; valid are {', '.join(GOEMOTIONS_SUBSETS)}, all"
        )
    home = get_data_home(data_home)
    folder = home / GOEMOTIONS_DIR
    parts = GOEMOTIONS_SUBSETS if subset == "all" else (subset,)
    files = ("labels.txt", *(f"{part}.tsv" for part in parts))
    missing = [f"{GOEMOTIONS_DIR}/{name}" for name in files if not (folder / name).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"GoEmotions not found in {home} (missing {', '.join(missing)}). Download train.tsv, "
            f"dev.tsv, test.tsv and labels.txt from data/original/ of {GOEMOTIONS_REPO} into "
            f"{folder}, or point the {DATA_ENV} environment variable or the data_home argument "
            "at the folder holding goemotions/."
        )
    names = _read_label_names(folder / "labels.txt")
    read = [_read_goemotions(folder / f"{part}.tsv", len(names)) for part in parts]
    data = [text for texts, _, _ in read for text in texts]
    target = np.concatenate([part_target for _, part_target, _ in read])
    if return_X_y:
        return data, target
    sizes = [len(texts) for texts, _, _ in read]
    split = ", ".join(f"{part} {size:,}" for part, size in zip(parts, sizes, strict=True))
    counts = target.sum(axis=0)
    most, least = int(np.argmax(counts)), int(np.argmin(counts))
    descr = (
        "GoEmotions (Demszky, Movshovitz-Attias, Ko, Cowen, Nemade & Ravi, ACL 2020; Google "
        f"Research, Apache-2.0; the original split as mirrored in {GOEMOTIONS_REPO}): "
        f"{len(data):,} Reddit comments ({split}), {len(names)} labels, "
        f"{int((target.sum(axis=1) > 1).sum()):,} comments with more than one; "
        f"from {names[most]} {counts[most]:,} down to {names[least]} {counts[least]:,}."
    )
    return Bunch(
        data=data,
        target=target,
        target_names=names,
        ids=np.array([comment for _, _, ids in read for comment in ids]),
        subset=np.repeat(parts, sizes),
        DESCR=descr,
    )


def load_dataset(name: str, data_home: str | os.PathLike | None = None, **kwargs) -> Bunch:
    """Load a dataset by its short name: ``sms``, ``cyberbullying``, ``cyberbullying6``,
    ``stormfront`` or ``goemotions`` (multi-label; pass ``subset=``)."""
    loaders = {
        "sms": load_sms_spam,
        "cyberbullying": load_cyberbullying,
        "cyberbullying6": partial(load_cyberbullying, binary=False),
        "stormfront": load_stormfront,
        "goemotions": load_goemotions,
    }
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; valid names are {', '.join(loaders)}")
    return loaders[name](data_home, **kwargs)


def _find(home: Path, names: Sequence[str]) -> Path | None:
    """Return the first of `names` that exists in `home`."""
    return next((home / name for name in names if (home / name).exists()), None)


def _download(url: str, path: Path) -> Path:
    """Fetch `url` to `path` through a temporary file, so a failed download leaves nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        os.replace(part, path)
    except OSError as exc:
        raise DatasetNotFoundError(
            f"could not download {url} into {path.parent}: {exc}. Download it by hand into "
            f"that folder, or point {DATA_ENV} or data_home at a folder that holds it."
        ) from exc
    finally:
        Path(part).unlink(missing_ok=True)
    return path


def _read_sms(path: Path, text: str) -> list[Row]:
    """Parse ``label<TAB>text`` lines; quotes are message text, not CSV quoting."""
    records = list(read_records(path, text, delimiter="\t", quoting=csv.QUOTE_NONE))
    bad = [(line, record[0]) for line, record in records if len(record) < 2]
    if bad:
        line, content = bad[0]
        raise DatasetError(
            f"{path}: {len(bad)} of {len(records)} lines are not 'label<TAB>text' "
            f"(first: line {line}: {content[:60]!r}); the file must be tab-separated"
        )
    return [(line, record[0], "\t".join(record[1:])) for line, record in records]


def _read_csv(path: Path, content: str, *, text: str, label: str, spill: bool = False) -> list[Row]:
    """Parse a CSV whose header names the `text` and `label` columns.

    With `spill`, non-empty fields after the text column are joined back onto it with commas.
    """
    header, records = read_table(path, content, spill=spill)
    missing = [column for column in (text, label) if column not in header]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {missing}; expected {[text, label]}, found {header} "
            "(is it comma-separated with a header row?)"
        )
    i_text, i_label = header.index(text), header.index(label)
    rows = []
    for line, fields in records:  # short records are padded: their missing fields are empty
        message = ",".join(filter(None, fields[i_text:])) if spill else fields[i_text]
        rows.append((line, fields[i_label], message))
    if not rows:
        raise DatasetError(f"{path} has a header but no data rows")
    return rows


def _read_label_names(path: Path) -> list[str]:
    """The label names of a one-name-a-line file, in order (trailing blank lines ignored)."""
    names = [line.strip() for line in read_data_text(path).rstrip().splitlines()]
    blank = [i for i, name in enumerate(names, 1) if not name]
    if blank:
        raise DatasetError(f"{path}: blank line(s) {first_few(blank)} among the label names")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DatasetError(f"{path}: label name(s) {first_few(repeated)} appear more than once")
    return names


def _read_goemotions(path: Path, n_labels: int) -> tuple[list[str], np.ndarray, list[str]]:
    """Parse one GoEmotions TSV into texts, an ``(n, n_labels)`` int8 indicator and comment ids;
    a malformed row is an error naming its line. Quotes are comment text, not quoting."""
    records = list(read_records(path, read_data_text(path), delimiter="\t", quoting=csv.QUOTE_NONE))
    bad = [
        f"line {line}: {why}"
        for line, row in records
        if (why := _goemotions_problem(row, n_labels))
    ]
    if bad:
        raise DatasetError(
            f"{path}: {len(bad)} malformed row(s) ({first_few(bad)}); each line must be "
            f"'text<TAB>label ids, comma-separated<TAB>comment id', label ids 0 to {n_labels - 1}"
        )
    target = np.zeros((len(records), n_labels), dtype=np.int8)
    for i, (_, row) in enumerate(records):
        target[i, [int(label) for label in row[1].split(",")]] = 1
    return [row[0] for _, row in records], target, [row[2] for _, row in records]


def _goemotions_problem(row: list[str], n_labels: int) -> str | None:
    """What is wrong with one GoEmotions row, or None when nothing is."""
    if len(row) != 3:
        return f"{len(row)} tab-separated field(s), expected 3"
    if not row[0].strip():
        return "no text"
    if not row[1].strip():
        return "no label id"
    for token in row[1].split(","):
        if not (token.isascii() and token.removeprefix("-").isdigit()):
            return f"label id {token!r} is not an integer"
        if not 0 <= int(token) < n_labels:
            return f"label id {token} is out of range (0 to {n_labels - 1})"
    return None


def _check(path: Path, rows: list[Row], labels: Sequence[str]) -> None:
    """Reject rows without text or with a label outside `labels` rather than drop them."""
    empty = [line for line, _, message in rows if not message.strip()]
    if empty:
        raise DatasetError(
            f"{path}: {len(empty)} row(s) with no text, on line(s) {first_few(empty)}"
        )
    unknown = [(line, label) for line, label, _ in rows if label not in labels]
    if unknown:
        raise DatasetError(
            f"{path}: {len(unknown)} row(s) with a missing or unknown label "
            f"({first_few([f'line {line}: {label!r}' for line, label in unknown])}); "
            f"expected one of {list(labels)}"
        )


def _result(
    rows: list[Row],
    target: np.ndarray,
    target_names: list[str],
    descr: str,
    path: Path,
    return_X_y: bool,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Package parsed rows as ``(X, y)`` or as a :class:`~sklearn.utils.Bunch`."""
    data = [message for _, _, message in rows]
    if return_X_y:
        return data, target
    frame = pd.DataFrame({"text": data, "label": [label for _, label, _ in rows], "target": target})
    return Bunch(
        data=data,
        target=target,
        target_names=target_names,
        frame=frame,
        DESCR=descr,
        filename=str(path),
    )


__getattr__ = moved(
    __name__,
    "0.2.0",
    train_val_test_split="dan_dice.splits.train_val_test_split",
    check_split_sizes="dan_dice.splits.check_split_sizes",
)
