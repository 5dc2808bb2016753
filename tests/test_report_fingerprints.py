"""Every committed report names the source that made it, and a report made by older code is
listed as such in the README (:mod:`dan_dice.provenance`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dan_dice.provenance import FINGERPRINT, fingerprint_line, source_fingerprint, stamp

ROOT = Path(__file__).resolve().parent.parent
REPORTS = sorted((ROOT / "reports").glob("*.md"))
OLDER_CODE = "## Reports made by older code"


def older_code_section(readme: str) -> str:
    """The README's section listing the reports made by older code ("" if it has none)."""
    _, found, rest = readme.partition(OLDER_CODE + "\n")
    return rest.split("\n## ", 1)[0] if found else ""


def stale_reports(reports: list[Path], readme: str, root: Path = ROOT) -> list[str]:
    """What is wrong with ``reports``: one without a fingerprint, or one whose fingerprint is
    not its current source's and that the README's older-code section does not list with it."""
    listed = older_code_section(readme).splitlines()
    problems = []
    for report in reports:
        name = report.relative_to(root).as_posix()
        found = FINGERPRINT.search(report.read_text(encoding="utf-8"))
        if found is None:
            problems.append(f"{name} has no source fingerprint")
            continue
        recorded, script = found.groups()
        current = source_fingerprint(root / script if script else None, root)
        if recorded != current and not any(name in line and recorded in line for line in listed):
            problems.append(
                f"{name} was made by other code ({recorded}, source now {current}): "
                f"regenerate it, or list it with {recorded} under '{OLDER_CODE}' in README.md"
            )
    return problems


def test_committed_reports_are_current_or_listed_as_older():
    assert REPORTS, "no committed report found"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert stale_reports(REPORTS, readme) == []


def test_a_report_without_fingerprint_or_unlisted_is_caught(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("print('made')\n")
    current = tmp_path / "current.md"
    current.write_text(stamp("# Current\n\nfigures\n", script))
    old = tmp_path / "old.md"
    old.write_text("# Old\n\nSource fingerprint: `0123456789abcdef` (dan_dice/*.py)\n")
    bare = tmp_path / "bare.md"
    bare.write_text("# Bare\n\nfigures\n")
    readme = f"# Tool\n\n{OLDER_CODE}\n\n- `old.md`: `0123456789abcdef`\n\n## Next\n"
    assert stale_reports([current, old], readme, tmp_path) == []
    problems = stale_reports([current, old, bare], readme.replace("0123", "9999"), tmp_path)
    assert [p.split()[0] for p in problems] == ["old.md", "bare.md"]


def test_fingerprint_follows_the_script_and_is_greppable(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("x = 1\n")
    before = source_fingerprint(script, tmp_path)
    script.write_text("x = 2\n")
    assert source_fingerprint(script, tmp_path) != before
    assert source_fingerprint() != before and len(before) == 16
    line = fingerprint_line()
    assert FINGERPRINT.fullmatch(line).groups() == (source_fingerprint(), None)


@pytest.mark.parametrize("text", ["# Title\n\nbody\n", "# Title"])
def test_stamp_puts_the_line_under_the_title(text):
    stamped = stamp(text)
    assert stamped.startswith("# Title\n\n" + fingerprint_line() + "\n")
    assert stamped.endswith(text.partition("\n")[2])
