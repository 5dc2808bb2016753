#!/usr/bin/env python
"""Tokenizer benchmark: three tokenizers on the same datasets and texts, in the same run.

"before": a copy, kept here only, of the former tokenizer (``re`` on ``str.lower()`` with
``\\w``/``\\b`` and the BMP's combining marks read from ``unicodedata`` at import, a memo of
chunk ids). "after": ``dan_dice.text`` (``re`` on the committed ``TOKEN_PATTERN``, a memo of
chunks). "tokenizers": Hugging Face ``tokenizers`` on the same pattern (``Lowercase`` +
``Split`` + ``WordLevel``, built here, behind the same memo), when installed. For every dataset
in the data folder it compares their tokens, then checks every Unicode code point and the
tokenizer fingerprint under each Python interpreter it finds, and times the three on one
thread on the cyberbullying tweets. Writes ``reports/tokenizer.md``.

    python benchmarks/tokenizer.py [--data-dir ../shared/datasets] [--repeats 5]
    python benchmarks/tokenizer.py --classes       # print text.py's committed character classes
    python benchmarks/tokenizer.py --fingerprint   # this interpreter's fingerprints (stdlib only)

Only the standard library is imported at the top, so that ``--fingerprint`` runs under any
Python 3.9+ without numpy.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import types
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from statistics import fmean as mean

from tokenizer_paths import REFERENCE, ReferenceVocabulary, reference_tokenize, tokenizers_paths

ROOT = Path(__file__).resolve().parents[1]
TEXT_MODULE = ROOT / "dan_dice" / "text.py"
MIN_SHARE = 0.999
"""The share of a dataset's tokens the new tokenizer must yield as the reference did."""
INTERPRETERS = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
"""Interpreter names looked for on the PATH; pyenv's versions are looked for too."""
UNICODE_CLASSES = {
    "_ALNUM": lambda ch: unicodedata.category(ch)[0] in "LN",
    "_DIGITS": lambda ch: unicodedata.category(ch) == "Nd",
    "_MARKS": lambda ch: unicodedata.category(ch)[0] == "M",
    "_SPACES": str.isspace,
}
"""How each committed character class of ``dan_dice.text`` is made from ``unicodedata``."""
STEPS = {
    "`Vocabulary.build(min_count=2)`, cold": "build",
    "`encode_batch`, all texts, fresh vocabulary": "batch_cold",
    "`encode_batch`, all texts, again": "batch_warm",
    "`encode_batch`, batches of 1,024": "batch_1024",
    "`tokenize` per text, cold": "tokenize",
}
"""The timed steps (report label: key)."""


# --- Committed constants and fingerprints (standard library only). ------------------------------


def code_point_ranges(accept: Callable[[str], bool]) -> str:
    """The code points ``accept`` takes, as hex ranges ("41-5A 61-7A AA")."""
    spans, start = [], None
    for code in range(0x110001):
        inside = code < 0x110000 and not 0xD800 <= code <= 0xDFFF and accept(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            spans.append(f"{start:X}" if start == code - 1 else f"{start:X}-{code - 1:X}")
            start = None
    return " ".join(spans)


def print_classes() -> None:
    """Python source of the character classes committed at the end of ``dan_dice/text.py``."""
    print(f"# made under Python {platform.python_version()}, Unicode {unicodedata.unidata_version}")
    for name, accept in UNICODE_CLASSES.items():
        lines = [f'"{line}"' for line in textwrap.wrap(code_point_ranges(accept), 90)]
        if len(lines) > 1:  # implicit concatenation, a space ending every line but the last
            lines = ["(", *(f'    {line[:-1]} "' for line in lines[:-1]), f"    {lines[-1]}", ")"]
        print(f"{name} = " + "\n".join(lines))


def load_text_module_without_dependencies() -> types.ModuleType:
    """``dan_dice/text.py`` run with stand-ins for numpy and ``dan_dice.chunk_table``, which it
    only needs to encode: enough to read its committed constants (and compile its pattern)
    under any interpreter."""
    for name in ("numpy", "dan_dice", "dan_dice.chunk_table"):
        if name not in sys.modules:
            stand_in = types.ModuleType(name)
            stand_in.__getattr__ = lambda attribute: None
            sys.modules[name] = stand_in
    module = types.ModuleType("dan_dice.text")
    module.__package__ = "dan_dice"
    exec(compile(TEXT_MODULE.read_text(encoding="utf-8"), str(TEXT_MODULE), "exec"), vars(module))
    return module


def fingerprints_here() -> dict:
    """This interpreter's reference and new tokenizer fingerprints (as ``edge.py`` digests)."""
    reference = f"lower|split|{REFERENCE.pattern}|<unk>"
    new = load_text_module_without_dependencies().TOKENIZER_SPEC
    return {
        "python": platform.python_version(),
        "unicode": unicodedata.unidata_version,
        "reference": hashlib.sha256(reference.encode()).hexdigest()[:16],
        "new": hashlib.sha256(new.encode()).hexdigest()[:16],
    }


def fingerprints_everywhere() -> list[dict]:
    """:func:`fingerprints_here` under every Python found (PATH, pyenv) that runs it."""
    pyenv = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    candidates = [sys.executable, *filter(None, map(shutil.which, INTERPRETERS))]
    candidates += sorted(map(str, pyenv.glob("3.*/bin/python3")))
    found = {}
    for path in candidates:
        run = subprocess.run([path, __file__, "--fingerprint"], capture_output=True, text=True)
        if run.returncode == 0:
            row = json.loads(run.stdout)
            found.setdefault(row["python"], row)
    return sorted(found.values(), key=lambda row: tuple(map(int, row["python"].split("."))))


# --- Token comparison. ---------------------------------------------------------------------------


def datasets(data_dir: str) -> dict[str, list[str]]:
    """The texts of every dataset in ``data_dir`` (GoEmotions read as TSV: text first)."""
    from dan_dice.datasets import load_cyberbullying, load_sms_spam, load_stormfront

    found = {
        "sms": load_sms_spam(data_dir).data,
        "cyberbullying": load_cyberbullying(data_dir).data,
        "stormfront": load_stormfront(data_dir, keep_unsure=True).data,
    }
    for subset in ("train", "dev", "test"):
        path = Path(data_dir, "goemotions", f"{subset}.tsv")
        with open(path, encoding="utf-8", newline="") as lines:
            found[f"goemotions {subset}"] = [line.split("\t", 1)[0] for line in lines]
    return found


def compare(texts: list[str], old_tokenize: Callable, new_tokenize: Callable) -> dict:
    """Tokens of ``texts`` by two tokenizers: counts and the differences."""
    total = differing = 0
    differences: Counter = Counter()
    examples: dict = {}
    for text in texts:
        old, new = old_tokenize(text), new_tokenize(text)
        total += len(old)
        if old == new:
            continue
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                differing += max(i2 - i1, j2 - j1)
                key = (tuple(old[i1:i2]), tuple(new[j1:j2]))
                differences[key] += 1
                examples.setdefault(key, text)
    return {
        "texts": len(texts),
        "tokens": total,
        "differing": differing,
        "share": 1 - differing / max(total, 1),
        "top": [(key, n, examples[key]) for key, n in differences.most_common(5)],
    }


def code_point_check(old_tokenize: Callable, new_tokenize: Callable) -> Counter:
    """Code points, by Unicode category (as Python knows it), whose tokens differ between two
    tokenizers alone, between letters or between digits."""
    differing: Counter = Counter()
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        if any(old_tokenize(s) != new_tokenize(s) for s in (ch, f"a{ch}b", f"1{ch}2")):
            differing[unicodedata.category(ch)] += 1
    return differing


# --- Speed. ---------------------------------------------------------------------------------------


def seconds(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def each(function: Callable, items: Iterable) -> list:
    return [function(item) for item in items]


def latencies(encode: Callable[[str], list[int]], texts: list[str]) -> dict:
    """Microseconds of one ``encode`` call per text: p50, p99 and mean."""
    clock = time.perf_counter_ns
    times = []
    for text in texts:
        start = clock()
        encode(text)
        times.append(clock() - start)
    times = sorted(t / 1e3 for t in times)
    return {
        "p50": times[len(times) // 2],
        "p99": times[len(times) * 99 // 100],
        "mean": mean(times),
    }


def speed(texts: list[str], repeats: int, paths: dict) -> dict:
    """Every path (vocabulary class, tokenize, memo clearing), interleaved run by run, on
    ``texts``: medians in seconds, latencies in µs."""
    from dan_dice import text as new

    tokens = new.Vocabulary.build(texts, min_count=2).tokens
    batches = [texts[i : i + 1024] for i in range(0, len(texts), 1024)]
    runs = {path: {key: [] for key in STEPS.values()} for path in paths}
    for _ in range(repeats):
        for path, (vocabulary, tokenize, clear) in paths.items():
            runs[path]["build"].append(seconds(partial(vocabulary.build, texts, min_count=2)))
            fresh = vocabulary(tokens)
            runs[path]["batch_cold"].append(seconds(partial(fresh.encode_batch, texts)))
            runs[path]["batch_warm"].append(seconds(partial(fresh.encode_batch, texts)))
            runs[path]["batch_1024"].append(seconds(partial(each, fresh.encode_batch, batches)))
            clear()  # cold, as the reference's tokenize (it has no memo)
            runs[path]["tokenize"].append(seconds(partial(each, tokenize, texts)))
    result = {path: {k: statistics.median(v) for k, v in runs[path].items()} for path in paths}
    seen = [t for i, t in enumerate(texts) if i % 5]  # 80 % warm the memo (a service's past)
    for path, (vocabulary, _, _) in paths.items():
        served = vocabulary(tokens)
        served.encode_batch(seen)
        result[path]["latency_warm"] = latencies(served.encode, texts[::5])
        result[path]["latency_cold"] = latencies(vocabulary(tokens).encode, texts)
    if "tokenizers" in paths:
        result["alternatives"] = alternatives(texts, paths["tokenizers"][0](tokens).compiled)
    return result


def alternatives(texts: list[str], tokenizer) -> dict:
    """Whole texts through ``tokenizers`` without the memo: ``encode_batch_fast`` on one thread
    and on all cores (``TOKENIZERS_PARALLELISM``), and ``encode`` one text at a time."""
    sample = texts[:10_000]
    found = {}
    for threads, setting in (("one thread", "false"), ("all cores", "true")):
        os.environ["TOKENIZERS_PARALLELISM"] = setting
        runs = [seconds(partial(tokenizer.encode_batch_fast, sample)) for _ in range(2)]
        found[f"encode_batch_fast, {threads}"] = len(sample) / min(runs)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    found["encode"] = latencies(lambda t: tokenizer.encode(t).ids, sample)
    return found


# --- Report. --------------------------------------------------------------------------------------


def identity_table(compared: dict, against: str) -> list[str]:
    """Markdown rows of one token comparison per dataset."""
    out = [
        f"| dataset | texts | tokens | differing ({against}) | identical | met |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, row in compared.items():
        out.append(
            f"| {name} | {row['texts']:,} | {row['tokens']:,} | {row['differing']:,} | "
            f"{row['share']:.4%} | {'yes' if row['share'] >= MIN_SHARE else 'no'} |"
        )
    tops = [(name, *top) for name, row in compared.items() for top in row["top"]]
    out += ["", "Most common differences:\n" if tops else "No token differs on any dataset.\n"]
    if tops:
        out += ["| dataset | first | second | times | example |", "|---|---|---|---:|---|"]
        out += [
            f"| {name} | `{' '.join(old)}` | `{' '.join(new)}` | {n} | "
            f"{json.dumps(example[:80], ensure_ascii=False)} |"
            for name, (old, new), n, example in tops
        ]
        out.append("")
    return out


def render(found: dict) -> str:
    """The Markdown report of :func:`main`'s results."""
    import numpy

    from dan_dice import __version__
    from dan_dice.machine import cpu_name
    from dan_dice.text import MEMO_SIZE

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    paths = found["paths"]
    out = [
        "# Tokenizer: `re` on the committed pattern, the former regex and `tokenizers`\n",
        f"Command: `{found['command']}`  \nDate: {found['started']} (UTC)  ",
        f"Machine: {platform.platform()}, {cpu_name()}, {os.cpu_count()} CPUs, load average "
        f"{load} at the end (1, 5, 15 min)  ",
        f"Versions: dan_dice {__version__}, Python {platform.python_version()} (Unicode "
        f"{unicodedata.unidata_version}), tokenizers {found['tokenizers']}, numpy "
        f"{numpy.__version__}\n",
        "**before**: the former tokenizer, kept in this script as the reference (`re` on "
        "`str.lower()` with `\\w`/`\\b`, the BMP's combining marks read from `unicodedata` at "
        "import, a memo of chunk ids). **after**: `dan_dice.text`, `re` on `str.lower()` with "
        "`TOKEN_PATTERN`, whose classes are committed Unicode 14.0 ranges (a copy cut at U+FFFF "
        "serves chunks without characters beyond the BMP), behind a bounded memo of "
        "whitespace-separated chunks. **tokenizers**: Hugging Face `tokenizers` on the same "
        "pattern (`Lowercase` normalizer, `Split`, `WordLevel` with `<unk>`), behind the same "
        "memo: the previous `dan_dice.text`.\n",
        "## Same tokens on every dataset\n",
        "Each text tokenized by two paths; a differing token is one in a changed run of the two "
        "token sequences (difflib), counted on the longer side. Target (after against before): "
        f"at least {MIN_SHARE:.1%} identical per dataset.\n",
        "### after against before\n",
        *identity_table(found["compared"]["after"], "after vs before"),
    ]
    if "tokenizers" in paths:
        out += [
            "### tokenizers against after\n",
            *identity_table(found["compared"]["tokenizers"], "tokenizers vs after"),
        ]
    cats = {
        k: ", ".join(f"{c} {n:,}" for c, n in sorted(v.items())) or "none"
        for k, v in found["code_points"].items()
    }
    out += [
        "## Every code point\n",
        "Code points whose tokens differ, alone, between two letters or between two digits, by "
        f"Unicode category under this Python ({unicodedata.unidata_version}). After against "
        f"before: {cats['after']}. `Mn`/`Mc`: the combining marks beyond the BMP, now kept "
        "inside words as those of the BMP always were (the reference stopped at U+FFFF); `Cn`: "
        "code points unassigned in Unicode 14 that a newer `unicodedata` may class otherwise."
        + (
            f" tokenizers against after: {cats['tokenizers']} (Rust lower-cases from newer "
            "tables; beyond this scan, it maps a capital sigma to 'σ' always, `str.lower()` to "
            "'ς' at a word's end)."
            if "tokenizers" in cats
            else ""
        )
        + "\n",
        "## Fingerprint under each Python\n",
        "`dan_dice.edge.tokenizer_fingerprint()`, stored in every artifact: before, a digest of "
        "the regex made from `unicodedata` at import; after, a digest of `TOKENIZER_SPEC`, "
        "committed text only. Each row computed by that interpreter (`--fingerprint`, which "
        "also compiles the pattern with that interpreter's `re`).\n",
        "| Python | Unicode | before | after |",
        "|---|---|---|---|",
        *(
            f"| {p['python']} | {p['unicode']} | `{p['reference']}` | `{p['new']}` |"
            for p in found["fingerprints"]
        ),
    ]
    timing, n = found["timing"], found["n_texts"]
    out += [
        "",
        f"## Speed on the cyberbullying tweets ({n:,} texts)\n",
        "One thread, one process, the paths interleaved; medians of "
        f"{found['repeats']} runs. Each memo keeps {MEMO_SIZE:,} chunks at most. Latency: one "
        "`encode` call per text; 'served': every 5th text, after `encode_batch` of the other "
        "80 % (a service that has seen traffic); 'cold': the first pass over all texts with a "
        "fresh vocabulary. Edge target: p50 ≤ 20 µs per message, ≥ 300k texts/s.\n",
        "| step | "
        + " | ".join(paths)
        + " | after / before | "
        + ("tokenizers / after | " if "tokenizers" in paths else "")
        + "after, texts/s |",
        "|---|" + "---:|" * (len(paths) + 2 + ("tokenizers" in paths)),
    ]
    for label, key in STEPS.items():
        row = [f"{timing[p][key]:.3f} s" for p in paths]
        row.append(f"{timing['after'][key] / timing['before'][key]:.2f}")
        if "tokenizers" in paths:
            row.append(f"{timing['tokenizers'][key] / timing['after'][key]:.2f}")
        out.append(f"| {label} | " + " | ".join(row) + f" | {n / timing['after'][key]:,.0f} |")
    for label, key in (("served", "latency_warm"), ("cold", "latency_cold")):
        row = ["{p50:.1f} / {p99:.1f} / {mean:.1f}".format(**timing[p][key]) for p in paths]
        row.append(f"{timing['after'][key]['p50'] / timing['before'][key]['p50']:.2f} (p50)")
        if "tokenizers" in paths:
            row.append(f"{timing['tokenizers'][key]['p50'] / timing['after'][key]['p50']:.2f}")
        out.append(
            f"| `encode` one text, {label}: p50 / p99 / mean µs | " + " | ".join(row) + " | |"
        )
    if "alternatives" in timing:
        alt = timing["alternatives"]
        rates = "; ".join(f"`{k}` {v:,.0f} texts/s" for k, v in alt.items() if k != "encode")
        out.append(
            "\nWithout the memo, whole texts straight through `tokenizers` (first 10,000 texts): "
            f"{rates}; `Tokenizer.encode` of one text p50 {alt['encode']['p50']:.1f} µs, p99 "
            f"{alt['encode']['p99']:.1f} µs."
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "reports" / "tokenizer.md"))
    parser.add_argument("--classes", action="store_true", help=print_classes.__doc__)
    parser.add_argument("--fingerprint", action="store_true", help=fingerprints_here.__doc__)
    args = parser.parse_args(argv)
    if args.classes:
        return print_classes()
    if args.fingerprint:
        return print(json.dumps(fingerprints_here()))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from datetime import UTC, datetime

    from dan_dice import text as new
    from dan_dice.files import atomic_write_text
    from dan_dice.provenance import stamp

    paths = {
        "before": (ReferenceVocabulary, reference_tokenize, lambda: None),
        "after": (new.Vocabulary, new.tokenize, new._TOKENS.clear),
    }
    third = tokenizers_paths()
    if third is not None:
        paths["tokenizers"] = third
    words = " ".join(f"{a}" for a in (argv if argv is not None else sys.argv[1:]))
    found = {
        "command": f"python benchmarks/tokenizer.py {words}".strip(),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "repeats": args.repeats,
        "paths": list(paths),
        "tokenizers": __import__("tokenizers").__version__ if third else "not installed",
        "compared": {"after": {}, "tokenizers": {}},
        "code_points": {},
    }
    texts = datasets(args.data_dir)
    for name, some in texts.items():
        row = found["compared"]["after"][name] = compare(some, reference_tokenize, new.tokenize)
        print(f"{name}: {row['differing']:,} of {row['tokens']:,} tokens differ", flush=True)
        if third is not None:
            found["compared"]["tokenizers"][name] = compare(some, new.tokenize, third[1])
    found["code_points"]["after"] = code_point_check(reference_tokenize, new.tokenize)
    if third is not None:
        found["code_points"]["tokenizers"] = code_point_check(new.tokenize, third[1])
    found["fingerprints"] = fingerprints_everywhere()
    found["n_texts"] = len(texts["cyberbullying"])
    found["timing"] = speed(texts["cyberbullying"], args.repeats, paths)
    report = render(found)
    atomic_write_text(args.out, stamp(report, Path(__file__)))
    print(report)
    if any(row["share"] < MIN_SHARE for row in found["compared"]["after"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
