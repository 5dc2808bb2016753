"""Tests for dan_dice.datasets: small files written to tmp_path, plus checks on the real data."""

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from dan_dice import datasets
from dan_dice.datasets import (
    BINARY_DATASETS,
    CYBERBULLYING_TYPES,
    DATA_ENV,
    DATASETS,
    MULTILABEL_DATASETS,
    DatasetError,
    DatasetNotFoundError,
    get_data_home,
    load_cyberbullying,
    load_dataset,
    load_goemotions,
    load_sms_spam,
    load_stormfront,
)

SMS = (
    "ham\tGo until jurong point, crazy..\n"
    'spam\tFree entry! Text "WIN" to 87121, T&C\'s apply\n'
    "ham\tI'll be there \"soon\n"
    "spam\tYou won £1000, call now\n"
)
SMS_TEXTS = [
    "Go until jurong point, crazy..",
    'Free entry! Text "WIN" to 87121, T&C\'s apply',
    "I'll be there \"soon",
    "You won £1000, call now",
]
KAGGLE_SMS = (
    "v1,v2,,,\n"
    'ham,"Go until jurong point, crazy..",,,\n'
    "spam,Free entry,,,\n"
    'spam,"Text ""MIX"" to 85069. FML", PO Box 5249, MK17 92H,\n'
    "ham,Caf\xe9 at 8?,,,\n"
)
CYBER = (
    "tweet_text,cyberbullying_type\n"
    '"Nice show, well done #mkr",not_cyberbullying\n'
    '"a tweet\nover two lines",age\n'
    "NA,religion\n"
    "you are a bully,other_cyberbullying\n"
    "go back home,ethnicity\n"
    "girls can't code,gender\n"
    "null,not_cyberbullying\n"
)


STORMFRONT = {  # file_id -> (label, sentence); posts 10, 11, 12
    "10_1": ("noHate", "The booklet was downloaded often ."),
    "10_2": ("hate", "a hateful sentence about a group ."),
    "11_1": ("relation", "they are the ones who did it ."),
    "11_2": ("noHate", "Thanks for the link !"),
    "12_1": ("idk/skip", "???"),
    "12_2": ("hate", "another hateful line ."),
}


def write_stormfront(home: Path, rows: dict = STORMFRONT) -> Path:
    lines = ["file_id,user_id,subforum_id,num_contexts,label"]
    for file_id, (label, sentence) in rows.items():
        lines.append(f"{file_id},1,2,0,{label}")
        write(home / "stormfront" / "all_files" / f"{file_id}.txt", sentence + "\n")
    write(home / "stormfront" / "annotations_metadata.csv", "\n".join(lines) + "\n")
    return home


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def write_zip(path: Path, member: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, text)
        archive.writestr("readme", "SMS Spam Collection v.1")
    return path


# --- data home -------------------------------------------------------------------------------


def test_get_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert get_data_home() == tmp_path / "data"
    monkeypatch.setenv(DATA_ENV, "")
    assert get_data_home() == tmp_path / "data"
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home("rel") == tmp_path / "rel"


def test_loaders_use_env_then_cwd(tmp_path, monkeypatch):
    write(tmp_path / "env" / "SMSSpamCollection", SMS)
    write(tmp_path / "data" / "SMSSpamCollection", "ham\tfrom cwd\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert load_sms_spam().data == SMS_TEXTS
    monkeypatch.delenv(DATA_ENV)
    assert load_sms_spam().data == ["from cwd"]


# --- SMS ---------------------------------------------------------------------------------------


def test_load_sms_spam_bunch(tmp_path):
    path = write(tmp_path / "SMSSpamCollection", SMS)
    bunch = load_sms_spam(tmp_path)
    assert isinstance(bunch, Bunch)
    assert bunch.data == SMS_TEXTS  # quotes are text, not CSV quoting
    assert bunch.target.dtype == np.int64
    assert bunch.target.tolist() == [0, 1, 0, 1]
    assert bunch.target_names == ["ham", "spam"]
    assert bunch.frame.columns.tolist() == ["text", "label", "target"]
    assert bunch.frame["label"].tolist() == ["ham", "spam", "ham", "spam"]
    assert bunch.filename == str(path)
    assert "4 SMS messages, 2 of them spam" in bunch.DESCR


def test_load_sms_spam_return_X_y(tmp_path):
    write(tmp_path / "SMSSpamCollection", SMS)
    X, y = load_sms_spam(tmp_path, return_X_y=True)
    assert X == SMS_TEXTS
    assert isinstance(y, np.ndarray) and y.dtype == np.int64
    assert y.tolist() == [0, 1, 0, 1]


def test_load_sms_spam_crlf_blank_lines_and_tabs(tmp_path):
    write(tmp_path / "SMSSpamCollection", "ham\tone\r\n\r\nspam\ttwo\twith tab\r\n\n\n")
    X, y = load_sms_spam(tmp_path, return_X_y=True)
    assert X == ["one", "two\twith tab"]
    assert y.tolist() == [0, 1]


@pytest.mark.parametrize("name", ["sms+spam+collection.zip", "smsspamcollection.zip"])
def test_load_sms_spam_from_zip(tmp_path, name):
    write_zip(tmp_path / name, "SMSSpamCollection", SMS)
    assert load_sms_spam(tmp_path).data == SMS_TEXTS


def test_load_sms_spam_from_unzipped_folder(tmp_path):
    write(tmp_path / "sms+spam+collection" / "SMSSpamCollection", SMS)
    assert load_sms_spam(tmp_path).data == SMS_TEXTS


def test_load_sms_spam_kaggle_csv(tmp_path):
    write(tmp_path / "spam.csv", KAGGLE_SMS, encoding="latin-1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # latin-1 is this file's own encoding: no warning
        bunch = load_sms_spam(tmp_path)
    assert bunch.data == [
        "Go until jurong point, crazy..",
        "Free entry",
        'Text "MIX" to 85069. FML, PO Box 5249, MK17 92H',
        "Café at 8?",
    ]
    assert bunch.target.tolist() == [0, 1, 1, 0]
    assert bunch.filename == str(tmp_path / "spam.csv")


def test_latin1_sms_file_is_decoded_with_warning(tmp_path):
    path = write(tmp_path / "SMSSpamCollection", SMS, encoding="latin-1")
    with pytest.warns(UserWarning, match="not valid UTF-8.*latin-1") as record:
        X, _ = load_sms_spam(tmp_path, return_X_y=True)
    assert X == SMS_TEXTS
    assert str(record[0].message).startswith(str(path))


def test_utf8_bom_is_accepted(tmp_path):
    write(tmp_path / "cyberbullying_tweets.csv", "\ufeff" + CYBER)
    assert len(load_cyberbullying(tmp_path).data) == 7


# --- cyberbullying ------------------------------------------------------------------------------


def test_load_cyberbullying_binary(tmp_path):
    write(tmp_path / "cyberbullying_tweets.csv", CYBER)
    bunch = load_cyberbullying(tmp_path)
    assert bunch.data[1] == "a tweet\nover two lines"
    assert bunch.data[2] == "NA" and bunch.data[6] == "null"  # not read as missing values
    assert bunch.target.dtype == np.int64
    assert bunch.target.tolist() == [0, 1, 1, 1, 1, 1, 0]
    assert bunch.target_names == ["not_cyberbullying", "cyberbullying"]
    assert bunch.frame["label"].tolist()[:2] == ["not_cyberbullying", "age"]
    assert "7 tweets in 6 types, 5 of them cyberbullying" in bunch.DESCR


def test_load_cyberbullying_six_types(tmp_path):
    write(tmp_path / "cyberbullying_tweets.csv", CYBER)
    X, y = load_cyberbullying(tmp_path, binary=False, return_X_y=True)
    assert len(X) == 7
    assert [CYBERBULLYING_TYPES[code] for code in y] == [
        "not_cyberbullying",
        "age",
        "religion",
        "other_cyberbullying",
        "ethnicity",
        "gender",
        "not_cyberbullying",
    ]
    assert load_cyberbullying(tmp_path, binary=False).target_names == list(CYBERBULLYING_TYPES)
    assert CYBERBULLYING_TYPES[0] == "not_cyberbullying"


def test_load_dataset(tmp_path):
    write(tmp_path / "SMSSpamCollection", SMS)
    write(tmp_path / "cyberbullying_tweets.csv", CYBER)
    assert DATASETS == ("sms", "cyberbullying")
    assert load_dataset("sms", tmp_path).target.tolist() == [0, 1, 0, 1]
    assert load_dataset("cyberbullying", tmp_path).target.max() == 1
    assert load_dataset("cyberbullying6", tmp_path).target.max() == 5
    X, _ = load_dataset("sms", tmp_path, return_X_y=True)
    assert X == SMS_TEXTS
    with pytest.raises(
        ValueError,
        match=r"unknown dataset 'imdb'; valid names are sms, cyberbullying, cyberbullying6",
    ):
        load_dataset("imdb", tmp_path)


# --- missing files and download ---------------------------------------------------------------


def test_sms_not_found_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_sms_spam(tmp_path / "nowhere")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    for part in [str(tmp_path / "nowhere"), "SMSSpamCollection", "spam.csv", datasets.SMS_URL]:
        assert part in message
    for option in [DATA_ENV, "data_home", "download=True"]:
        assert option in message


@pytest.mark.parametrize("download", [False, True])
def test_cyberbullying_not_found_message(tmp_path, download):
    with pytest.raises(DatasetNotFoundError) as info:
        load_cyberbullying(tmp_path, download=download)
    message = str(info.value)
    for part in [str(tmp_path), "cyberbullying_tweets.csv", datasets.CYBERBULLYING_SLUG]:
        assert part in message
    for option in [DATA_ENV, "data_home", "Kaggle requires a login"]:
        assert option in message


def test_sms_download(tmp_path, monkeypatch):
    source = write_zip(tmp_path / "source.zip", "SMSSpamCollection", SMS)
    monkeypatch.setattr(datasets, "SMS_URL", source.as_uri())
    home = tmp_path / "new" / "home"
    assert load_sms_spam(home, download=True).data == SMS_TEXTS
    assert sorted(p.name for p in home.iterdir()) == ["sms+spam+collection.zip"]
    monkeypatch.setattr(datasets, "SMS_URL", (tmp_path / "gone.zip").as_uri())
    assert load_sms_spam(home, download=True).data == SMS_TEXTS  # uses the local copy


def test_sms_download_failure_leaves_nothing(tmp_path, monkeypatch):
    url = (tmp_path / "gone.zip").as_uri()
    monkeypatch.setattr(datasets, "SMS_URL", url)
    with pytest.raises(DatasetNotFoundError, match=f"could not download {url}"):
        load_sms_spam(tmp_path / "home", download=True)
    assert list((tmp_path / "home").iterdir()) == []


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("SMSSpamCollection", "", "is empty"),
        ("SMSSpamCollection", " \n\n", "is empty"),
        ("spam.csv", "", "is empty"),
        ("cyberbullying_tweets.csv", "", "is empty"),
        (
            "SMSSpamCollection",
            "ham,Hello there\nspam,Win now\n",
            r"2 of 2 lines are not 'label<TAB>text' \(first: line 1: 'ham,Hello there'\); "
            "the file must be tab-separated",
        ),
        ("SMSSpamCollection", "ham\tok\nspam\n", "1 of 2 lines .* line 2: 'spam'"),
        ("SMSSpamCollection", "ham\tok\nspam\t  \n", r"1 row\(s\) with no text, on line\(s\) 2"),
        (
            "SMSSpamCollection",
            "ham\tok\nHAM\tno\n\tnone\n",
            r"2 row\(s\) with a missing or unknown label \(line 2: 'HAM', line 3: ''\); "
            r"expected one of \['ham', 'spam'\]",
        ),
        (
            "spam.csv",
            "label,text\nham,hi\n",
            r"missing column\(s\) \['v2', 'v1'\]; expected \['v2', 'v1'\], "
            r"found \['label', 'text'\]",
        ),
        ("spam.csv", "v1,v2,,,\nham,hi,,,\nspam,,,,\n", r"with no text, on line\(s\) 3"),
        (
            "cyberbullying_tweets.csv",
            "tweet_text;cyberbullying_type\nhello;age\n",
            r"missing column\(s\) \['tweet_text', 'cyberbullying_type'\]; expected .*"
            r"found \['tweet_text;cyberbullying_type'\] \(is it comma-separated",
        ),
        ("cyberbullying_tweets.csv", "tweet_text,cyberbullying_type\n", "no data rows"),
        (
            "cyberbullying_tweets.csv",
            'tweet_text,cyberbullying_type\nok,age\n"multi\nline",\nshort\n',
            r"2 row\(s\) with a missing or unknown label \(line 3: '', line 5: ''\)",
        ),
        (
            "cyberbullying_tweets.csv",
            "tweet_text,cyberbullying_type\nok,age\nbad,sexism\n",
            r"line 3: 'sexism'\); expected one of \['not_cyberbullying', 'age'",
        ),
        (
            "cyberbullying_tweets.csv",
            'tweet_text,cyberbullying_type\nok,age\n"' + "x" * 200_000 + '",age\n',
            "malformed CSV from line 3: field larger than field limit",
        ),
        ("sms+spam+collection.zip", "not a zip", "is not a valid zip archive"),
    ],
)
def test_bad_files(tmp_path, name, content, match):
    path = write(tmp_path / name, content)
    loader = load_cyberbullying if name.startswith("cyber") else load_sms_spam
    with pytest.raises(DatasetError, match=match) as info:
        loader(tmp_path)
    assert str(info.value).startswith(str(path))


def test_many_bad_rows_are_counted_and_elided(tmp_path):
    write(tmp_path / "SMSSpamCollection", "".join(f"bad\ttext {i}\n" for i in range(8)))
    with pytest.raises(DatasetError, match=r"8 row\(s\) .*line 5: 'bad', \.\.\.\)"):
        load_sms_spam(tmp_path)


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "cyberbullying_tweets.csv").mkdir()
    with pytest.raises(DatasetError, match=r"cyberbullying_tweets\.csv is a directory"):
        load_cyberbullying(tmp_path)


def test_zip_without_sms_file(tmp_path):
    write_zip(tmp_path / "smsspamcollection.zip", "other.txt", SMS)
    with pytest.raises(DatasetError, match=r"holds no SMSSpamCollection \(found \['other.txt'"):
        load_sms_spam(tmp_path)


# --- no silent data loss in the readers -------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        ("hello, world,not_cyberbullying\nok,age\n", 2),  # the text column is not the last
        ("ok,age\nyou are, like, a bully,age\n", 3),
        ('ok,age\n"quoted, fine",age\nnot, quoted,age\n', 4),
    ],
)
def test_unquoted_comma_in_a_text_is_an_error_naming_the_line(tmp_path, rows, line):
    path = write(tmp_path / "cyberbullying_tweets.csv", "tweet_text,cyberbullying_type\n" + rows)
    with pytest.raises(
        DatasetError, match=rf"more fields than the header's 2, on line\(s\) {line};"
    ):
        load_cyberbullying(tmp_path)
    with pytest.raises(DatasetError) as info:
        load_cyberbullying(tmp_path)
    assert str(info.value).startswith(str(path))


def test_unquoted_comma_is_counted_on_every_line(tmp_path):
    rows = "".join(f"text {i}, with a comma,age\n" for i in range(7))
    write(tmp_path / "cyberbullying_tweets.csv", "tweet_text,cyberbullying_type\n" + rows)
    with pytest.raises(DatasetError, match=r"7 row\(s\) .*line\(s\) 2, 3, 4, 5, 6, \.\.\.; a text"):
        load_cyberbullying(tmp_path)


def test_empty_extra_fields_and_short_rows_lose_nothing(tmp_path):
    """A trailing comma adds an empty field: nothing is lost, so the row is read."""
    write(
        tmp_path / "cyberbullying_tweets.csv",
        'tweet_text,cyberbullying_type\nhello,age,\n"a, b",gender,,\n',
    )
    assert load_cyberbullying(tmp_path).data == ["hello", "a, b"]


def test_kaggle_spill_columns_still_join_back(tmp_path):
    """spam.csv's texts spill into trailing unnamed columns, past the header's width too."""
    write(tmp_path / "spam.csv", "v1,v2,,,\nham,one, two, three, four, five\n", "latin-1")
    assert load_sms_spam(tmp_path).data == ["one, two, three, four, five"]


def test_a_stray_byte_spoils_only_its_own_line(tmp_path):
    """One latin-1 byte in a UTF-8 file: the other lines keep their UTF-8 characters."""
    content = "ham\tcafé naïve ünïcode 😀\nspam\twin £100 now\n".encode() + b"ham\tna\xefve\n"
    path = tmp_path / "SMSSpamCollection"
    path.write_bytes(content)
    with pytest.warns(UserWarning, match=r"is not valid UTF-8 on line 3: read the invalid bytes"):
        X, _ = load_sms_spam(tmp_path, return_X_y=True)
    assert X == ["café naïve ünïcode 😀", "win £100 now", "naïve"]


def test_stray_bytes_on_many_lines_are_counted(tmp_path):
    lines = ["ham\tcafé"] + [f"spam\tbad \udcff {i}" for i in range(8)]
    raw = "\n".join(lines).encode("utf-8", "surrogateescape")
    (tmp_path / "SMSSpamCollection").write_bytes(raw)
    with pytest.warns(UserWarning, match=r"lines 2, 3, 4, 5, 6 and 3 more"):
        X, _ = load_sms_spam(tmp_path, return_X_y=True)
    assert X[0] == "café" and X[1] == "bad ÿ 0"


def test_a_legacy_spam_csv_is_read_whole_as_latin1_as_before(tmp_path):
    """Kaggle's spam.csv is latin-1 unless it is UTF-8: bytes that happen to be valid UTF-8
    (here "Ã©") are not decoded apart from the rest of the file."""
    write(tmp_path / "spam.csv", "v1,v2,,,\nham,Caf\xc3\xa9 \xe9t\xe9,,,\n", "latin-1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_sms_spam(tmp_path).data == ["CafÃ© été"]


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"]
)
def test_encodings_are_detected_from_the_byte_order_mark(tmp_path, encoding):
    """A UTF-16 file used to be blamed on its tab format; now its mark names its encoding."""

    def encode(text: str) -> bytes:
        with_bom = encoding.endswith(("le", "be"))  # these codecs write no mark of their own
        return (("\ufeff" + text) if with_bom else text).encode(encoding)

    (tmp_path / "SMSSpamCollection").write_bytes(encode(SMS))
    (tmp_path / "cyberbullying_tweets.csv").write_bytes(encode(CYBER))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_sms_spam(tmp_path).data == SMS_TEXTS
        assert load_cyberbullying(tmp_path).data[:2] == [
            "Nice show, well done #mkr",
            "a tweet\nover two lines",
        ]


def test_utf16_without_byte_order_mark_is_named_as_such(tmp_path):
    path = write(tmp_path / "SMSSpamCollection", SMS, "utf-16-le")
    with pytest.raises(DatasetError, match="looks like UTF-16 or UTF-32 without a byte-order mark"):
        load_sms_spam(tmp_path)
    with pytest.raises(DatasetError, match=f"^{path} holds NUL bytes"):
        load_sms_spam(tmp_path)


def test_invalid_utf16_names_its_line(tmp_path):
    raw = "ham\tone\nspam\ttwo\n".encode("utf-16") + b"\x00\xd8\x41"  # a lone high surrogate
    (tmp_path / "SMSSpamCollection").write_bytes(raw)
    with pytest.raises(DatasetError, match="line 3 is not valid UTF-16"):
        load_sms_spam(tmp_path)


def test_crlf_and_bom_are_stripped_from_csv_texts(tmp_path):
    content = '\ufefftweet_text,cyberbullying_type\r\nhello there,age\r\n"two\r\nlines",gender\r\n'
    write(tmp_path / "cyberbullying_tweets.csv", content)
    X = load_cyberbullying(tmp_path).data
    assert X == ["hello there", "two\r\nlines"]  # inside quotes, a line break is text


def test_field_limit_is_the_same_whatever_the_process_set(tmp_path):
    """The csv module's limit is process-wide: the loaders set theirs for each parse and put
    the caller's back, so a text of up to FIELD_LIMIT characters always loads."""
    import csv

    long = "x" * datasets.FIELD_LIMIT
    write(tmp_path / "cyberbullying_tweets.csv", f"tweet_text,cyberbullying_type\n{long},age\n")
    previous = csv.field_size_limit(1000)
    try:
        assert load_cyberbullying(tmp_path).data == [long]
        assert csv.field_size_limit() == 1000
    finally:
        csv.field_size_limit(previous)


# --- real data ---------------------------------------------------------------------------------


# --- Stormfront ------------------------------------------------------------------------------


def test_load_stormfront_leaves_out_unsure_labels(tmp_path):
    bunch = load_stormfront(write_stormfront(tmp_path))
    assert bunch.data == [
        "The booklet was downloaded often .",
        "a hateful sentence about a group .",
        "Thanks for the link !",
        "another hateful line .",
    ]
    assert bunch.target.tolist() == [0, 1, 0, 1]
    assert bunch.groups.tolist() == ["10", "10", "11", "12"]
    assert bunch.target_names == ["noHate", "hate"]
    assert "4 forum sentences from 3 posts, 2 of them hate" in bunch.DESCR


def test_load_stormfront_keep_unsure_reads_them_as_not_hate(tmp_path):
    X, y = load_stormfront(write_stormfront(tmp_path), keep_unsure=True, return_X_y=True)
    assert len(X) == 6
    assert y.tolist() == [0, 1, 0, 0, 0, 1]


def test_load_dataset_stormfront(tmp_path):
    assert len(load_dataset("stormfront", write_stormfront(tmp_path)).data) == 4


def test_stormfront_not_found_message(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="Vicomtech/hate-speech-dataset"):
        load_stormfront(tmp_path)


def test_stormfront_missing_sentence_file_names_it(tmp_path):
    write_stormfront(tmp_path)
    (tmp_path / "stormfront" / "all_files" / "11_2.txt").unlink()
    with pytest.raises(DatasetError, match=r"line 5 names '11_2'.*11_2.txt is missing"):
        load_stormfront(tmp_path)


def test_stormfront_unknown_label_is_an_error(tmp_path):
    write_stormfront(tmp_path, {"1_1": ("maybe", "text")})
    with pytest.raises(DatasetError, match=r"unknown label.*'maybe'"):
        load_stormfront(tmp_path)


# --- GoEmotions ------------------------------------------------------------------------------

EMOTIONS = "joy\nanger\nfear\nneutral\n"
GOEMOTIONS = {
    "train": 'So "happy" for you!\t0\taa1\nWhy would you do that?\t1,2\taa2\n  ok \t3\taa3\n',
    "dev": "Scary stuff\t2\tbb1\n",
    "test": "Love it, hate it\t0,1,3\tcc1\nmeh\t3\tcc2\n",
}


def write_goemotions(home: Path, files: dict | None = None, labels: str = EMOTIONS) -> Path:
    write(home / "goemotions" / "labels.txt", labels)
    for subset, text in (GOEMOTIONS if files is None else files).items():
        write(home / "goemotions" / f"{subset}.tsv", text)
    return home


def test_load_goemotions_train_bunch(tmp_path):
    bunch = load_goemotions(write_goemotions(tmp_path))
    assert isinstance(bunch, Bunch)
    assert bunch.data == ['So "happy" for you!', "Why would you do that?", "  ok "]
    assert bunch.target.dtype == np.int8
    assert bunch.target.tolist() == [[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]
    assert bunch.target_names == ["joy", "anger", "fear", "neutral"]
    assert bunch.ids.tolist() == ["aa1", "aa2", "aa3"]
    assert bunch.subset.tolist() == ["train"] * 3
    assert "3 Reddit comments (train 3), 4 labels, 1 comments with more than one" in bunch.DESCR
    assert "from joy 1 down to joy 1." in bunch.DESCR  # every count ties: the first label


def test_load_goemotions_all_concatenates_train_dev_test(tmp_path):
    bunch = load_goemotions(write_goemotions(tmp_path), subset="all")
    assert bunch.ids.tolist() == ["aa1", "aa2", "aa3", "bb1", "cc1", "cc2"]
    assert bunch.subset.tolist() == ["train"] * 3 + ["dev"] + ["test"] * 2
    assert bunch.target.shape == (6, 4)
    assert bunch.target.sum(axis=0).tolist() == [2, 2, 2, 3]
    assert "6 Reddit comments (train 3, dev 1, test 2)" in bunch.DESCR
    assert "2 comments with more than one; from neutral 3 down to joy 2" in bunch.DESCR


def test_load_goemotions_return_X_y_and_load_dataset(tmp_path):
    write_goemotions(tmp_path)
    X, Y = load_goemotions(tmp_path, subset="test", return_X_y=True)
    assert X == ["Love it, hate it", "meh"]
    assert Y.tolist() == [[1, 1, 0, 1], [0, 0, 0, 1]]
    bunch = load_dataset("goemotions", tmp_path, subset="dev")
    assert bunch.data == ["Scary stuff"] and bunch.subset.tolist() == ["dev"]
    assert MULTILABEL_DATASETS == ("goemotions",)
    assert "goemotions" not in BINARY_DATASETS


def test_load_goemotions_decodes_like_the_other_loaders(tmp_path):
    files = {"train": "\ufeffCaf\u00e9 \U0001f600\t0\tx1\r\n\r\nsecond\t1\tx2\r\n"}
    bunch = load_goemotions(write_goemotions(tmp_path, files))
    assert bunch.data == ["Caf\u00e9 \U0001f600", "second"]
    assert bunch.ids.tolist() == ["x1", "x2"]


def test_load_goemotions_refuses_an_unknown_subset(tmp_path):
    with pytest.raises(ValueError, match="unknown GoEmotions subset 'validation'; valid are"):
        load_goemotions(write_goemotions(tmp_path), subset="validation")


def test_goemotions_not_found_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_goemotions(tmp_path)
    message = str(info.value)
    assert "goemotions/labels.txt, goemotions/train.tsv" in message
    assert "data/original/ of https://github.com/monologg/GoEmotions-pytorch" in message
    assert str(tmp_path / "goemotions") in message and DATA_ENV in message


def test_goemotions_names_only_the_missing_subset_file(tmp_path):
    write_goemotions(tmp_path, {"train": GOEMOTIONS["train"], "test": GOEMOTIONS["test"]})
    assert len(load_goemotions(tmp_path).data) == 3
    with pytest.raises(DatasetNotFoundError, match=r"\(missing goemotions/dev\.tsv\)"):
        load_goemotions(tmp_path, subset="all")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("no label\taa9", "2 tab-separated field(s), expected 3"),
        ("a\ttab\t0\taa9", "4 tab-separated field(s), expected 3"),
        ("text\t4\taa9", "label id 4 is out of range (0 to 3)"),
        ("text\t-1\taa9", "label id -1 is out of range (0 to 3)"),
        ("text\tjoy\taa9", "label id 'joy' is not an integer"),
        ("text\t1.0\taa9", "label id '1.0' is not an integer"),
        ("text\t1,\taa9", "label id '' is not an integer"),
        ("text\t 1\taa9", "label id ' 1' is not an integer"),
        ("text\t\taa9", "no label id"),
        (" \t1\taa9", "no text"),
    ],
)
def test_goemotions_malformed_row_names_file_and_line(tmp_path, row, problem):
    write_goemotions(tmp_path, {"train": f"fine\t0\taa1\n\n{row}\nfine too\t1\taa2\n"})
    with pytest.raises(DatasetError) as info:
        load_goemotions(tmp_path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "goemotions" / "train.tsv"))
    assert f"1 malformed row(s) (line 3: {problem})" in message
    assert "'text<TAB>label ids, comma-separated<TAB>comment id', label ids 0 to 3" in message


def test_goemotions_counts_many_malformed_rows(tmp_path):
    write_goemotions(tmp_path, {"train": "".join(f"text {i}\t9\tx{i}\n" for i in range(7))})
    with pytest.raises(
        DatasetError, match=r"7 malformed row\(s\) \(line 1: .*line 5: .*, \.\.\.\)"
    ):
        load_goemotions(tmp_path)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ("joy\n\nfear\n", r"labels\.txt: blank line\(s\) 2 among the label names"),
        ("joy\nfear\njoy\n", r"labels\.txt: label name\(s\) joy appear more than once"),
        ("\n\n", r"labels\.txt is empty"),
    ],
)
def test_goemotions_bad_label_names(tmp_path, labels, match):
    with pytest.raises(DatasetError, match=match):
        load_goemotions(write_goemotions(tmp_path, labels=labels))


def real_home(filename: str) -> Path:
    """Folder holding the real `filename` ($DAN_DICE_DATA, else ./data); skip when absent."""
    home = get_data_home()
    if not (home / filename).is_file():
        pytest.skip(f"real {filename} not found in {home}; set {DATA_ENV} to run this test")
    return home


@pytest.mark.realdata
def test_real_sms_spam():
    X, y = load_sms_spam(real_home("SMSSpamCollection"), return_X_y=True)
    assert len(X) == 5_574
    assert y.sum() == 747
    assert all(text.strip() for text in X)


@pytest.mark.realdata
def test_real_cyberbullying():
    home = real_home("cyberbullying_tweets.csv")
    bunch = load_cyberbullying(home, binary=False)
    counts = dict(zip(bunch.target_names, np.bincount(bunch.target).tolist(), strict=True))
    assert counts == {
        "religion": 7_998,
        "age": 7_992,
        "gender": 7_973,
        "ethnicity": 7_961,
        "not_cyberbullying": 7_945,
        "other_cyberbullying": 7_823,
    }
    assert all(text.strip() for text in bunch.data)
    X, y = load_cyberbullying(home, return_X_y=True)
    assert len(X) == 47_692
    assert y.sum() == 47_692 - 7_945


@pytest.mark.realdata
def test_real_stormfront():
    home = real_home("stormfront/annotations_metadata.csv")
    bunch = load_stormfront(home)
    assert len(bunch.data) == 9_507 + 1_196
    assert bunch.target.sum() == 1_196
    assert len(set(bunch.groups)) > 4_000
    assert all(text.strip() for text in bunch.data)


@pytest.mark.realdata
def test_real_goemotions():
    """The figures of the datasets README: its 8,817 multi-label comments and its label counts
    (neutral 17,772 down to grief 96) are over train, dev and test together."""
    home = real_home("goemotions/train.tsv")
    bunch = load_goemotions(home, subset="all")
    sizes = {"train": 43_410, "dev": 5_426, "test": 5_427}
    assert {name: (bunch.subset == name).sum() for name in sizes} == sizes
    assert bunch.target.shape == (sum(sizes.values()), 28)
    X_dev, Y_dev = load_goemotions(home, subset="dev", return_X_y=True)
    assert X_dev == [
        text for text, part in zip(bunch.data, bunch.subset, strict=True) if part == "dev"
    ]
    np.testing.assert_array_equal(Y_dev, bunch.target[bunch.subset == "dev"])
    assert len(bunch.target_names) == 28
    assert bunch.target_names[0] == "admiration" and bunch.target_names[-1] == "neutral"
    assert len(set(bunch.ids)) == len(bunch.ids)
    assert (bunch.target.sum(axis=1) > 1).sum() == 8_817
    assert bunch.target.sum(axis=1).min() == 1
    counts = dict(zip(bunch.target_names, bunch.target.sum(axis=0).tolist(), strict=True))
    assert max(counts.values()) == counts["neutral"] == 17_772
    assert min(counts.values()) == counts["grief"] == 96
    train = bunch.target[bunch.subset == "train"]
    assert (train.sum(axis=1) > 1).sum() == 7_102
    assert train[:, bunch.target_names.index("neutral")].sum() == 14_219
    assert train[:, bunch.target_names.index("grief")].sum() == 77
    assert all(text.strip() for text in bunch.data)
