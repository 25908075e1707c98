"""The command line a newcomer meets (issue 23): one vocabulary across every command's --help, values checked when
parsed (argparse exits 2 naming the flag and the allowed range), and outputs that are checked before any work and
never overwritten without --force (one message naming the path and the fix, exit 2, no traceback, nothing made).

Fast: nothing here decodes a video or runs a network."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from reenactor.cli import COMMANDS, build_parser, main
from reenactor.commands._args import NORMALIZATIONS, PRECISIONS


# ------------------------------------------------------------------------------------------ helpers
def _parsers(parser: argparse.ArgumentParser, name: str = "reenactor"):
    """(name, parser) for the parser and every sub-command under it, nested ones included."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _subcommand_helps(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield choice.dest, choice.help


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _parse_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _refused(argv: list[str], capsys, root: Path, *names: str) -> str:
    """``main(argv)`` returns 2 with one ``error: PATH: message`` + ``fix:`` and creates nothing under ``root``."""
    before = _tree(root)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error: ") and "\n  fix: " in err and "Traceback" not in err, err
    for n in names:
        assert n in err, (n, err)
    assert _tree(root) == before
    return err


# ------------------------------------------------------------------------------------------ one vocabulary
def test_every_command_speaks_the_shared_vocabulary():
    """Walk the whole parser (nested sub-commands included): every output is -o/--output, every progress switch is
    --no-progress, every --device defaults to auto, every --precision offers the same three, the confidence
    threshold is --min-confidence, normalization is --normalization with one set of choices, every output comes
    with --force, and no option, argument or sub-command is without help."""
    problems: list[str] = []
    for name, p in _parsers(build_parser()):
        for sub, text in _subcommand_helps(p):
            if not text:
                problems.append(f"{name} {sub}: sub-command without help")
        dests = {a.dest for a in p._actions}
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                continue
            opts = list(a.option_strings)
            where = f"{name} {'/'.join(opts) or a.dest}"
            if a.help == argparse.SUPPRESS:  # a hidden alias of a shown option: it must have one
                if not any(b.dest == a.dest and b.help != argparse.SUPPRESS for b in p._actions):
                    problems.append(f"{where}: hidden option without a shown one")
                continue
            if not a.help or not a.help.strip():
                problems.append(f"{where}: no help")
            if a.dest == "output" or {"-o", "--out", "--output"} & set(opts):
                if opts != ["-o", "--output"] or a.dest != "output":
                    problems.append(f"{where}: the output is -o/--output")
            if a.dest in ("quiet", "no_progress") or {"-q", "--quiet", "--no-progress"} & set(opts):
                if not opts or opts[0] != "--no-progress" or a.dest != "no_progress":
                    problems.append(f"{where}: progress is --no-progress (-q/--quiet as aliases)")
            if a.dest == "device" or "--device" in opts:
                if opts != ["--device"] or a.default != "auto":
                    problems.append(f"{where}: --device with default auto (got default {a.default!r})")
            if a.dest == "precision" or "--precision" in opts:
                if opts != ["--precision"] or tuple(a.choices or ()) != PRECISIONS:
                    problems.append(f"{where}: --precision with choices {PRECISIONS}")
                elif "fp16 is for GPUs" not in a.help or not ("refuse" in a.help or "training" in a.help):
                    problems.append(
                        f"{where}: --precision's help says who refuses it (or that training applies "
                        "it to every method) and what fp16 is for"
                    )
            if a.dest == "normalization" or {"--normalize", "--normalization"} & set(opts):
                if opts != ["--normalization"] or tuple(a.choices or ()) != NORMALIZATIONS:
                    problems.append(f"{where}: --normalization with choices {NORMALIZATIONS}")
            if any("thresh" in o or "confidence" in o for o in opts) or a.dest in ("thresh", "conf_thresh"):
                if opts != ["--min-confidence"] or a.dest != "min_confidence":
                    problems.append(f"{where}: the confidence threshold is --min-confidence")
        if "output" in dests and "force" not in dests:
            problems.append(f"{name}: writes an output but has no --force")
    assert not problems, "\n".join(problems)


def test_normalizations_are_the_library_s():
    from reenactor.transfer import NORMALIZATIONS as LIBRARY

    assert NORMALIZATIONS == LIBRARY


def test_help_lists_commands_in_workflow_order(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    listed = [m.group(1) for line in out.splitlines() if (m := re.match(r"^    ([a-z][a-z-]*)(\s|$)", line))]
    assert listed == COMMANDS
    assert COMMANDS[:2] == ["samples", "extract"] and COMMANDS[-1] == "info"


def test_old_spellings_still_work():
    p = build_parser()
    a = p.parse_args(["evaluate", "--pred", "a.mp4", "--gt", "b.mp4", "--out", "rep", "--quiet"])
    assert a.output == "rep" and a.no_progress
    a = p.parse_args(["render", "clip", "-o", "x.mp4", "--thresh", "0.3", "-q"])
    assert a.min_confidence == 0.3 and a.no_progress
    a = p.parse_args(["render", "clip", "-o", "x.mp4"])
    assert a.min_confidence == 0.05 and not a.no_progress
    a = p.parse_args(["extract", "in.mp4", "-o", "c", "--quiet"])
    assert a.no_progress and a.min_confidence == 0.5
    a = p.parse_args(["transfer", "--driving", "d.mp4", "-o", "o.mp4", "--no-progress", "--device", "cpu"])
    assert a.no_progress and a.device == "cpu"


def test_evaluate_still_needs_an_output(capsys):
    err = _parse_error(["evaluate", "--pred", "a.mp4", "--gt", "b.mp4"], capsys)
    assert "-o/--output" in err


def test_device_auto_and_train_keeps_the_config_s_device():
    from reenactor.commands._args import given
    from reenactor.devices import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    a = build_parser().parse_args(["train", "--method", "pix2pix"])
    assert a.device == "auto" and not given(a.device)  # the config's trainer.device stays in charge
    a = build_parser().parse_args(["train", "--method", "pix2pix", "--device", "auto"])
    assert given(a.device)
    a = build_parser().parse_args(["evaluate", "--pred", "a", "--gt", "b", "-o", "r"])
    assert a.device == "auto"


def test_cuda_refused_with_a_message_where_there_is_none(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    err = _parse_error(["transfer", "--driving", "d.mp4", "-o", "o.mp4", "--device", "cuda"], capsys)
    assert "argument --device" in err and "CUDA is not available" in err and "--device cpu" in err


# ------------------------------------------------------------------------------------------ values checked
BAD_VALUES = [
    # (argv, flag, what the message says is allowed)
    (["train", "--method", "pix2pix", "--size", "0"], "--size", ">= 16"),
    (["train", "--method", "pix2pix", "--size", "-64"], "--size", ">= 16"),
    (["train", "--method", "pix2pix", "--steps", "-1"], "--steps", ">= 1"),
    (["train", "--method", "pix2pix", "--batch-size", "0"], "--batch-size", ">= 1"),
    (["train", "--method", "pix2pix", "--budget", "0"], "--budget", "> 0"),
    (["train", "--method", "pix2pix", "--budget", "-5"], "--budget", "> 0"),
    (["train", "--method", "pix2pix", "--device", "gpu"], "--device", "auto, cpu, cuda"),
    (["extract", "in.mp4", "-o", "c", "--size", "8"], "--size", ">= 16"),
    (["extract", "in.mp4", "-o", "c", "--workers", "-1"], "--workers", ">= 0"),
    (["extract", "in.mp4", "-o", "c", "--min-confidence", "5"], "--min-confidence", "in [0, 1]"),
    (["extract", "in.mp4", "-o", "c", "--margin", "-2"], "--margin", "in [0, 2]"),
    (["extract", "in.mp4", "-o", "c", "--margin", "nan"], "--margin", "in [0, 2]"),
    (["extract", "in.mp4", "-o", "c", "--chunk", "0"], "--chunk", ">= 1"),
    (["extract", "in.mp4", "-o", "c", "--max-gap", "-1"], "--max-gap", ">= 0"),
    (["extract", "in.mp4", "-o", "c", "--size", "big"], "--size", "integer >= 16"),
    (["render", "clip", "-o", "x.mp4", "--min-confidence", "1.5"], "--min-confidence", "in [0, 1]"),
    (["render", "clip", "-o", "x.mp4", "--thresh", "-0.1"], "--thresh", "in [0, 1]"),
    (["evaluate", "--pred", "a", "--gt", "b", "-o", "r", "--batch-size", "0"], "--batch-size", ">= 1"),
    (["evaluate", "--pred", "a", "--gt", "b", "-o", "r", "--threads", "0"], "--threads", ">= 1"),
    (["evaluate", "--pred", "a", "--gt", "b", "-o", "r", "--worst", "-1"], "--worst", ">= 0"),
    (["benchmark", "self-reenactment", "--budget", "0"], "--budget", "> 0"),
    (["benchmark", "self-reenactment", "--budget", "-1"], "--budget", "> 0"),
    (["benchmark", "self-reenactment", "--train-frames", "1"], "--train-frames", ">= 2"),
    (["benchmark", "self-reenactment", "--test-frames", "0"], "--test-frames", ">= 1"),
    (["benchmark", "self-reenactment", "--size", "0"], "--size", ">= 16"),
    (["benchmark", "self-reenactment", "--repeats", "0"], "--repeats", ">= 1"),
    (["benchmark", "self-reenactment", "--threads", "0"], "--threads", ">= 1"),
    (["benchmark", "self-reenactment", "--lr", "0"], "--lr", "> 0"),
    (
        ["benchmark", "expression", "--model", "m", "--driving", "d", "--target", "t", "--max-frames", "0"],
        "--max-frames",
        ">= 1",
    ),
    (
        ["benchmark", "expression", "--model", "m", "--driving", "d", "--target", "t", "--hold", "0"],
        "--hold",
        ">= 1",
    ),
    (["benchmark", "single-image", "--size", "0"], "--size", ">= 16"),
    (["benchmark", "single-image", "--reference-frame", "-1"], "--reference-frame", ">= 0"),
    (["demo", "--train-steps", "0"], "--train-steps", ">= 1"),
    (["demo", "--train-frames", "1"], "--train-frames", ">= 2"),
    (["demo", "--size", "0"], "--size", ">= 16"),
    (["demo", "--model-size", "8"], "--model-size", ">= 16"),
    (["demo", "--threads", "-1"], "--threads", ">= 0"),
    (["transfer", "--driving", "d", "-o", "o.mp4", "--batch-size", "0"], "--batch-size", ">= 1"),
    (["transfer", "--driving", "d", "-o", "o.mp4", "--max-frames", "0"], "--max-frames", ">= 1"),
    (["transfer", "--driving", "d", "-o", "o.mp4", "--hold", "0"], "--hold", ">= 1"),
    (["transfer", "--driving", "d", "-o", "o.mp4", "--size", "0"], "--size", ">= 16"),
    (["transfer", "--driving", "d", "-o", "o.mp4", "--device", "gpu"], "--device", "auto, cpu, cuda"),
    (["poses", "export", "clip", "-o", "p.poses.npz", "--start", "-1"], "--start", ">= 0"),
    (["poses", "export", "clip", "-o", "p.poses.npz", "--stop", "0"], "--stop", ">= 1"),
]


@pytest.mark.parametrize(
    "argv,flag,allowed", BAD_VALUES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_bad_value_refused_when_parsed(argv, flag, allowed, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = _parse_error(argv, capsys)
    last = err.strip().splitlines()[-1]  # after the usage: one line naming the flag, the range and the value
    assert f": error: argument {flag}: must be" in last and allowed in last, err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ outputs are safe
@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep.txt").write_text("mine\n")
    return tmp_path


def test_extract_into_a_file(work, capsys):
    err = _refused(["extract", "sample:carphone", "-o", "notes.txt", "-q"], capsys, work, "notes.txt")
    assert "is a file" in err
    assert (work / "notes.txt").read_text() == "mine\n"
    # --force replaces clips, never a file
    _refused(["extract", "sample:carphone", "-o", "notes.txt", "-q", "--force"], capsys, work, "notes.txt")


@pytest.mark.parametrize(
    "argv",
    [
        ["extract", "sample:carphone", "-q"],
        ["train", "--method", "pix2pix"],
        ["evaluate", "--pred", "a.mp4", "--gt", "b.mp4"],
        ["demo"],
        ["benchmark", "self-reenactment"],
    ],
)
def test_a_folder_output_named_like_a_file(argv, work, capsys):
    err = _refused([*argv, "-o", "out.mp4"], capsys, work, "out.mp4", "-o out")
    assert "writes a folder" in err


def test_extract_under_a_file(work, capsys):
    err = _refused(["extract", "sample:carphone", "-o", "notes.txt/clip", "-q"], capsys, work, "notes.txt")
    assert "cannot be made" in err


def test_extract_into_a_foreign_folder(work, capsys):
    # not a clip store and not empty: extraction itself refuses it (after the cheap checks), nothing is touched
    err = _refused(["extract", "sample:carphone", "-o", "folder", "-q"], capsys, work, "folder")
    assert "not a clip store" in err


def test_train_into_a_file(work, capsys):
    err = _refused(
        ["train", "--method", "pix2pix", "--target", "clip", "-o", "notes.txt"], capsys, work, "notes.txt"
    )
    assert "is a file" in err


def test_train_into_a_foreign_folder(work, capsys):
    err = _refused(
        ["train", "--method", "pix2pix", "--target", "clip", "-o", "folder"],
        capsys,
        work,
        "folder",
        "--force",
    )
    assert "not empty" in err
    # with --force it goes on to the next check (here: the target clip is missing), still nothing made
    before = _tree(work)
    assert main(["train", "--method", "pix2pix", "--target", "clip", "-o", "folder", "--force"]) == 2
    assert "not empty" not in capsys.readouterr().err and _tree(work) == before
    # a run folder is train's own: continued or refused by the trainer (here: again the missing target)
    (work / "run").mkdir()
    (work / "run" / "config.yaml").write_text("method: pix2pix\n")
    (work / "run" / "notes.txt").write_text("mine\n")
    before = _tree(work)
    assert main(["train", "--method", "pix2pix", "--target", "clip", "-o", "run"]) == 2
    assert "not empty" not in capsys.readouterr().err and _tree(work) == before


def test_evaluate_into_a_file_or_an_earlier_report(work, capsys):
    base = ["evaluate", "--pred", "sample:carphone", "--gt", "sample:carphone", "-q"]
    err = _refused([*base, "-o", "notes.txt"], capsys, work, "notes.txt")
    assert "is a file" in err
    err = _refused([*base, "-o", "folder"], capsys, work, "folder", "--force")
    err = _refused([*base, "--out", "notes.txt/r"], capsys, work, "notes.txt")  # the old spelling, same check
    assert "cannot be made" in err


@pytest.mark.parametrize("command", ["render", "transfer"])
def test_video_outputs(command, work, capsys):
    argv = (
        ["render", "clip"]
        if command == "render"
        else ["transfer", "--method", "pose_warp", "--target-image", "sample:astronaut", "--driving", "clip"]
    )
    (work / "old.mp4").write_bytes(b"old")
    assert "is a folder" in _refused([*argv, "-o", "folder"], capsys, work, "folder", "fix")
    for name in ("r.png", "x.avi"):
        err = _refused([*argv, "-o", name], capsys, work, name)
        assert "reenactor writes .mp4" in err
    assert "exists" in _refused([*argv, "-o", "old.mp4"], capsys, work, "old.mp4", "--force")
    assert "cannot be made" in _refused([*argv, "-o", "notes.txt/o.mp4"], capsys, work, "notes.txt")
    assert (work / "old.mp4").read_bytes() == b"old"


def test_pose_file_output(work, capsys):
    assert "is a folder" in _refused(["poses", "export", "clip", "-o", "folder"], capsys, work, "folder")


@pytest.mark.parametrize(
    "protocol",
    [
        ["self-reenactment"],
        ["single-image"],
        ["expression", "--model", "m", "--driving", "d", "--target", "t"],
    ],
)
def test_benchmark_outputs(protocol, work, capsys):
    base = ["benchmark", *protocol, "--no-progress"]
    assert "is a file" in _refused([*base, "-o", "notes.txt"], capsys, work, "notes.txt")
    (work / "folder" / "results.json").write_text("{}")
    err = _refused([*base, "-o", "folder"], capsys, work, "folder", "--force")
    assert "results.json" in err


def test_demo_outputs(work, capsys):
    assert "is a file" in _refused(["demo", "-o", "notes.txt", "-q"], capsys, work, "notes.txt")
    assert "not empty" in _refused(["demo", "-o", "folder", "-q"], capsys, work, "folder", "--force")


def test_check_output_dir_semantics(tmp_path):
    from reenactor.commands._output import check_output_dir
    from reenactor.errors import InputError

    new = tmp_path / "a" / "b"
    assert check_output_dir(new) == new and not new.exists()  # checked, not made
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(InputError):
        check_output_dir(full)
    check_output_dir(full, force=True)
    check_output_dir(full, own=lambda p: (p / "x").exists())
    check_output_dir(full, results=("results.json",))  # no earlier results in it
    (full / "results.json").write_text("{}")
    with pytest.raises(InputError, match="results.json"):
        check_output_dir(full, results=("results.json",))


def test_library_log_lines_show_on_stdout_while_a_command_runs(capsys):
    """The library logs (INFO and above, under ``reenactor``); the CLI shows those lines plainly on stdout, where the
    library printed them before, and only while a command runs."""
    import logging

    from reenactor.cli import report_on_terminal

    log = logging.getLogger("reenactor.some.module")
    with report_on_terminal():
        log.info("[x] a step")
        log.warning("[x] WARNING: a fall-back")
        log.debug("[x] detail")
    log.info("[x] after the command")
    assert capsys.readouterr().out == "[x] a step\n[x] WARNING: a fall-back\n"
    assert not logging.getLogger("reenactor").handlers and logging.getLogger("reenactor").propagate


def test_ctrl_c_works_when_started_with_sigint_ignored():
    """A command started in the background by a script or CI inherits SIGINT ignored; the CLI takes it back so
    Ctrl-C / the app's cancel stop extract and train cleanly."""
    import signal
    import subprocess
    import sys

    code = (
        "import signal; before = signal.getsignal(signal.SIGINT); from reenactor.cli import take_ctrl_c; "
        "take_ctrl_c(); print(before == signal.SIG_IGN, signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert out.stdout.split() == ["True", "True"], out
