"""Atomic file writes, and the decoding of text files users give.

Writes: readers see the old file or the complete new one, never a partial one. Every file the
project writes (model files, edge artifacts, reports, figures, the experiment journal's
rewrites) goes through :func:`write_atomic`, so a crash or a kill never leaves a half-written
file behind.

Reads: :func:`decode_text` and :func:`decode_line` turn the bytes of a text file into ``str``
the same way for the dataset loaders, ``dan-dice train --csv`` and ``dan-dice predict``: a
byte-order mark names the encoding (UTF-8, UTF-16 or UTF-32) and is removed; without one the
text is UTF-8, and a byte that is not is read as its latin-1 character in its own line only,
with a warning naming the line. No valid line is ever decoded differently because of another.
This module imports nothing heavy: the torch-free ``predict`` command uses it.
"""

from __future__ import annotations

import codecs
import os
import secrets
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path


def write_atomic(
    path: str | os.PathLike, data: bytes, *, overwrite: bool = False, make_parents: bool = False
) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it.

    An existing ``path`` is an error unless ``overwrite``; a missing folder is created only with
    ``make_parents``. The file gets the usual mode (``0o666`` less the umask).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` (creating its folder) with ``text`` in UTF-8, atomically."""
    return write_atomic(path, text.encode("utf-8"), overwrite=True, make_parents=True)


BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
LATIN1_FALLBACK = "dan_dice.latin1"
"""Decoding error handler: each byte that is not UTF-8 becomes its latin-1 character."""

codecs.register_error(
    LATIN1_FALLBACK,
    lambda exc: (exc.object[exc.start : exc.end].decode("latin-1"), exc.end),
)


def sniff_bom(head: bytes) -> tuple[str | None, int]:
    """The encoding a byte-order mark at the start of ``head`` names, and the mark's length;
    ``(None, 0)`` without one."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    return None, 0


def decode_text(raw: bytes, name: str | os.PathLike, *, legacy: bool = False) -> str:
    """The text of the file ``name`` from its bytes ``raw``, without its byte-order mark.

    * A UTF-16 or UTF-32 mark names the encoding; a byte sequence invalid in it is a
      ``ValueError`` naming its line.
    * Otherwise the text is UTF-8. A file holding no valid non-ASCII UTF-8 at all but bytes
      that are not UTF-8 is in a legacy one-byte encoding: it is read as latin-1 as a whole,
      with a warning. In a UTF-8 file, each invalid byte is read as its latin-1 character in
      its own line only, with a warning naming the lines: the rest is UTF-8.
    * ``legacy=True`` is for files whose own encoding is latin-1 unless they are UTF-8 (such
      as Kaggle's ``spam.csv``): one that is not valid UTF-8 is read as latin-1 as a whole,
      without a warning.
    * Many NUL bytes and no mark: UTF-16 or UTF-32 without a byte-order mark, a
      ``ValueError`` (decoding it as UTF-8 would garble every character).
    """
    encoding, skip = sniff_bom(raw[:4])
    if encoding is not None and encoding != "utf-8":
        body = raw[skip:]
        try:
            return body.decode(encoding)
        except UnicodeDecodeError as exc:
            line = body[: exc.start].decode(encoding, errors="replace").count("\n") + 1
            raise ValueError(
                f"{name}: line {line} is not valid {encoding.upper()[:6]} ({exc.reason}), "
                "although the file starts with its byte-order mark"
            ) from exc
    raw = raw[skip:]
    head = raw[: 1 << 16]
    if head and head.count(b"\0") > len(head) // 10:
        raise ValueError(
            f"{name} holds NUL bytes ({head.count(0):,} in its first {len(head):,}): it looks "
            "like UTF-16 or UTF-32 without a byte-order mark, or a binary file; save it as UTF-8"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        first = raw[: exc.start].count(b"\n") + 1
        reason = f"line {first}: {exc.reason}, byte 0x{raw[exc.start]:02x}"
    if legacy:
        return raw.decode("latin-1")
    lines = raw.split(b"\n")
    bad, utf8 = [], False
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            bad.append(number)
    if not utf8:
        warnings.warn(f"{name} is not valid UTF-8 ({reason}); read it as latin-1", stacklevel=3)
        return raw.decode("latin-1")
    warnings.warn(
        f"{name} is not valid UTF-8 on {_lines(bad)}: read the invalid bytes of "
        f"{'that line' if len(bad) == 1 else 'those lines'} as latin-1, the rest as UTF-8",
        stacklevel=3,
    )
    return raw.decode("utf-8", errors=LATIN1_FALLBACK)


def decode_line(line: bytes) -> tuple[str, bool]:
    """One line of UTF-8 text, and whether it was: its invalid bytes are read as latin-1."""
    try:
        return line.decode("utf-8"), True
    except UnicodeDecodeError:
        return line.decode("utf-8", errors=LATIN1_FALLBACK), False


def read_lines(source: Iterable[bytes], name: str) -> Iterator[str]:
    """The lines of a UTF-8 byte stream (a file opened ``"rb"``, ``sys.stdin.buffer``) as
    texts, as the universal newlines of text mode split them (``\\n``, ``\\r\\n`` or ``\\r``)
    and without them, nor the byte-order mark of the first line.

    A UTF-16 or UTF-32 mark on the first line is decoded as it says. Lines that are not valid
    UTF-8 are read with their invalid bytes as latin-1, and one warning at the end names them.
    """
    source = iter(source)
    first = next(source, b"")
    encoding, skip = sniff_bom(first[:4])
    if encoding is not None and encoding != "utf-8":
        yield from _wide_lines(first + b"".join(source), name)
        return
    bad = []
    for number, line in enumerate(_chain_first(first[skip:], source), start=1):
        if line.endswith(b"\n"):
            line = line[:-1]
        text, valid = decode_line(line.removesuffix(b"\r"))
        if not valid:
            bad.append(number)
        yield from text.split("\r")
    if bad:
        warnings.warn(
            f"{name} is not valid UTF-8 on {_lines(bad)}: read the invalid bytes of "
            f"{'that line' if len(bad) == 1 else 'those lines'} as latin-1",
            stacklevel=2,
        )


def _chain_first(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _wide_lines(raw: bytes, name: str) -> Iterator[str]:
    """The lines of a UTF-16 or UTF-32 file (read whole: such files are rare and small)."""
    text = decode_text(raw, name)
    if text:
        yield from text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n").split("\n")


def _lines(numbers: list[int]) -> str:
    """``line 3`` or ``lines 3, 8, 9, 12, 40 and 7 more``."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    shown = ", ".join(map(str, numbers[:5]))
    return f"lines {shown}" + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")


def json_text(value: object, **kwargs) -> str:
    """``json.dumps(value, ensure_ascii=False)`` that always encodes to UTF-8: lone surrogates
    (texts decoded with ``surrogateescape``, broken UTF-16) are written as ``\\udcxx``
    escapes, which ``json.loads`` reads back as the same lone surrogates.

    A high surrogate followed by a low one within a string would be read back as one character
    (that is how JSON writes characters beyond the BMP), so it is a ``ValueError``.
    """
    import json
    import re

    text = json.dumps(value, ensure_ascii=False, **kwargs)
    pair = re.search("[\ud800-\udbff][\udc00-\udfff]", text)
    if pair:
        raise ValueError(
            f"cannot store {text[max(0, pair.start() - 30) : pair.end() + 30]!r}: it holds a "
            "high surrogate followed by a low one, two code points that JSON reads back as one "
            "character; decode such texts properly (or drop the surrogates) first"
        )
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line of at most ``limit`` characters, for an error that
    names a file: readers of corrupt bytes can say a lot (a header's raw bytes, several lines),
    and the command line prints one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args and " " not in str(exc.args[0]):
        text = f"missing {text}"  # a KeyError's message is the missing key alone
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed, or raise a ``ValueError`` naming it when no file can be
    written there: checked before any training, so no run is lost to it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_folder(folder)
    except OSError as exc:
        raise ValueError(f"cannot write to the output folder {folder}: {exc.strerror}") from exc


def check_writable_file(path: Path, overwrite: bool, inputs: Sequence[Path | None] = ()) -> None:
    """Fail before any long work if ``path`` would be refused at the end: an existing file
    without ``overwrite``, a folder, one of the command's ``inputs``, or a folder that is
    missing or where no file can be created (:func:`probe_folder`)."""
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; name a file in it")
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")
        for source in filter(None, inputs):
            if source.exists() and os.path.samefile(source, path):
                raise ValueError(f"cannot write {path}: it is the input file; name another one")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: folder {folder} {problem}")
    try:
        probe_folder(folder)
    except OSError as exc:
        raise PermissionError(
            f"cannot write {path}: no file can be created in folder {folder} ({exc.strerror})"
        ) from exc


def probe_folder(folder: Path) -> None:
    """Create a temporary file in ``folder`` and remove it at once; the ``OSError`` if no file
    can be created there."""
    handle, probe = tempfile.mkstemp(dir=folder, prefix=".probe.")
    os.close(handle)
    os.unlink(probe)
