"""The suites' shared runner: a suite's runs journaled once each, its options, its folder."""

from __future__ import annotations

import argparse

import pytest

from dan_dice.journal import LOCK, FolderInUseError, RunSchema, lock_folder
from dan_dice.runner import HANDED_ON, IN_PROCESS, Dispatch, Suite, add_run_options, suite_folder

FINGERPRINT = {"suite": "toy", "code": "x"}


def square(x: int) -> dict:
    return {"value": float(x * x)}


SUITE = Suite("toy_runs.jsonl", RunSchema(required={"value": (float,)}), square, str)


def plan_for(xs):
    made = []

    def plan(done: set) -> list[tuple]:
        todo = [(("toy", "square", x), (x,)) for x in xs if ("toy", "square", x) not in done]
        made.extend(key for key, _ in todo)
        return todo

    return plan, made


def test_a_suite_makes_each_run_once_and_resumes(tmp_path, capsys):
    plan, made = plan_for([1, 2, 3])
    records = SUITE.run(tmp_path, FINGERPRINT, plan, IN_PROCESS, "cmd")
    assert [(r["seed"], r["value"]) for r in records] == [(1, 1.0), (2, 4.0), (3, 9.0)]
    assert records[0]["command"] == "cmd" and records[0]["config"] == FINGERPRINT
    assert capsys.readouterr().out.count("'value'") == 3  # described as each arrives
    plan, made = plan_for([1, 2, 3, 4])
    records = SUITE.run(tmp_path, FINGERPRINT, plan, verbose=False)
    assert made == [("toy", "square", 4)]  # the journal's three are not made again
    assert len(records) == 4 and capsys.readouterr().out == ""
    with pytest.raises(ValueError):  # a journal of other settings or code is refused
        SUITE.run(tmp_path, {"suite": "toy", "code": "y"}, plan, verbose=False)


def test_a_suite_refuses_a_folder_another_process_holds(tmp_path):
    import multiprocessing

    ready, done = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(tmp_path, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(FolderInUseError, match="other command"):
            SUITE.run(tmp_path, FINGERPRINT, plan_for([1])[0], verbose=False)
    finally:
        done.set()
        holder.join(30)
    assert not (tmp_path / SUITE.journal).exists()


def _hold(folder, ready, done):
    with lock_folder(folder, "other command"):
        ready.set()
        done.wait(30)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    add_run_options(parser, "discard the toy journal")
    return parser.parse_args(argv)


def test_run_options_and_what_all_hands_on():
    args = parse(["--jobs", "3", "--scheduler", "tcp://h:1", "--quick"])
    assert Dispatch.from_args(args) == Dispatch(3, "tcp://h:1", IN_PROCESS.scheduler_timeout)
    assert (args.out, args.quick, args.fresh, args.portable) == ("reports", True, False, False)
    options = {a.option_strings[-1] for a in _parser_actions()} - {"--help"}
    assert options == set(HANDED_ON["values"]) | set(HANDED_ON["flags"])


def _parser_actions():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    add_run_options(parser, "")
    return parser._actions


def test_suite_folder_locks_and_discards_only_under_fresh(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jsonl").write_text("old\n")
    (out / "keep.md").write_text("mine\n")
    with suite_folder(parse(["--out", str(out)]), ["--quick"], ["a.jsonl"]) as (folder, command):
        assert folder == out and command == "python run_experiments.py --quick"
        assert "python run_experiments.py --quick" in (out / LOCK).read_text()
        assert (out / "a.jsonl").exists()
    with suite_folder(parse(["--out", str(out), "--fresh"]), [], ["a.jsonl"]):
        assert not (out / "a.jsonl").exists()
    assert (out / "keep.md").read_text() == "mine\n"
