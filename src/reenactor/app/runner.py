"""One app job, run in its own process: ``python -m reenactor.app.runner JOB_DIR``.

Reads ``JOB_DIR/job.json``, calls the library the way the CLI does, and writes ``JOB_DIR/state.json``
(atomically) as it goes: ``running``, then ``done`` with a result, ``failed`` with the CLI's message, or
``cancelled`` (SIGINT, as Ctrl-C: training keeps a checkpoint of its finished steps). Progress bars and log
lines go to stdout, which the app points at ``JOB_DIR/log.txt``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..io.atomic import write_json
from .jobs import read_json


def _cli(argv: list[str]) -> None:
    """Run a CLI command's own ``run`` on parsed arguments (the same defaults, checks and messages)."""
    from ..cli import build_parser
    from ..commands._args import check_required

    args = build_parser(argv[0]).parse_args(argv)
    check_required(args)
    rc = args.func(args)
    if rc:
        raise SystemExit(rc)


def run_extract(p: dict, out: Path) -> dict:
    from ..extract import extract
    from ..samples import resolve_input

    store = extract(
        resolve_input(p["input"]), out / "clip", size=int(p.get("size", 256)), progress=True, log=print
    )
    return {"clip": str(out / "clip"), "n_frames": int(store.n_frames)}


def run_train(p: dict, out: Path) -> dict:
    """Extract the target video (a finished clip store is reused at once, an interrupted one continues), then
    ``reenactor train`` into ``out/run`` (the same command on the same folder continues from its checkpoint)."""
    target = p.get("target")
    if not target:
        from ..extract import extract
        from ..samples import resolve_input

        size = int(p.get("size") or 256)
        extract(resolve_input(p["video"]), out / "clip", size=size, progress=True, log=print)
        target = str(out / "clip")
    run_dir = out / "run"
    argv = ["train", "--method", p["method"], "--target", target, "-o", str(run_dir)]
    argv += ["--steps", str(int(p.get("steps", 200)))]
    if p.get("budget"):
        argv += ["--budget", str(float(p["budget"]))]
    if p.get("size"):
        argv += ["--size", str(int(p["size"]))]
    for kv in p.get("set", []):
        argv += ["--set", str(kv)]
    print("reenactor " + " ".join(argv), flush=True)
    _cli(argv)
    return {"run": str(run_dir), "model": str(run_dir / "model.safetensors")}


def run_transfer(p: dict, out: Path) -> dict:
    from ..devices import resolve_device
    from ..io.video import VideoWriter, mux_audio
    from ..transfer import TransferOptions, transfer

    opts = TransferOptions(
        side_by_side=True,
        normalization=p.get("normalization") or "auto",
        device=resolve_device(p.get("device") or "auto"),
        max_frames=p.get("max_frames") or None,
        size=p.get("size") or None,
        method=p.get("method") or None,
        target_image=p.get("target_image") or None,
        background=p.get("background") or None,
        progress=True,
    )
    sbs = out / "side_by_side.mp4"
    result = out / "result.mp4"
    writer: dict[str, Any] = {}

    def sink(frame) -> None:  # the generated frames alone, into result.mp4
        if "w" not in writer:
            writer["w"] = VideoWriter(result, fps=writer["fps"], threads=1).__enter__()
        writer["w"].write(frame)

    from ..driving import open_driving

    src = open_driving(p["driving"], opts.max_frames, opts.person)
    writer["fps"] = float(src.fps)
    src.close()
    try:
        res = transfer(p.get("model") or None, p["driving"], sbs, opts, frame_sink=sink)
    finally:
        if "w" in writer:
            writer["w"].__exit__(*sys.exc_info())
    sound = Path(str(p["driving"]))
    if sound.is_file() and not sound.name.lower().endswith((".npz", ".png", ".jpg", ".jpeg")):
        try:
            mux_audio(result, sound, duration=res.n_frames / res.fps)
        except Exception as e:  # noqa: BLE001 - the side-by-side keeps the sound either way
            print(f"[app] result.mp4 is silent: {e}")
    norm = read_json(res.normalizer_path, {}) if res.normalizer_path else {}
    return {
        "result": str(result),
        "side_by_side": str(sbs),
        "n_frames": res.n_frames,
        "fps": res.fps,
        "normalizer": res.normalizer,
        "normalizer_file": str(res.normalizer_path) if res.normalizer_path else None,
        "normalizer_detail": norm.get("normalizer"),
        "coverage": res.coverage,
        "render_fps": res.render_fps,
    }


def run_evaluate(p: dict, out: Path) -> dict:
    report = out / "report"
    argv = ["evaluate", "--pred", p["pred"], "--gt", p["gt"], "-o", str(report), "--force"]
    if p.get("fast", True):
        argv.append("--fast")
    print("reenactor " + " ".join(argv), flush=True)
    _cli(argv)
    return {"report": str(report)}


TASKS = {"extract": run_extract, "train": run_train, "transfer": run_transfer, "evaluate": run_evaluate}


class _Notes(logging.Handler):
    """Keeps the library's log lines (the normalization that ran, the coverage verdict, warnings) for the page."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().strip())


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else argv
    from ..cli import take_ctrl_c

    take_ctrl_c()  # cancel is a SIGINT, also when the app was started in the background
    d = Path(argv[0]).resolve()
    job = read_json(d / "job.json")
    attempt = int(os.environ.get("REENACTOR_JOB_ATTEMPT", "1"))
    base = {"attempt": attempt, "pid": os.getpid(), "started": time.time()}

    def state(status: str, **extra: Any) -> None:
        write_json(d / "state.json", {**base, "status": status, "updated": time.time(), **extra})

    state("running")
    from ..cli import report_on_terminal
    from ..errors import ReenactorError

    notes = _Notes()
    logging.getLogger("reenactor").addHandler(notes)
    try:
        with report_on_terminal():
            result = TASKS[job["kind"]](job["params"], d / "out")
    except KeyboardInterrupt:
        state(
            "cancelled", result={"notes": notes.lines}, error="cancelled; resume continues where it stopped"
        )
        return 130
    except ReenactorError as e:
        print(f"error: {e}", flush=True)
        state("failed", result={"notes": notes.lines}, error=str(e))
        return 2
    except SystemExit as e:
        state(
            "failed",
            result={"notes": notes.lines},
            error=f"the command stopped with exit status {e.code} (see the log)",
        )
        return 2
    except BaseException as e:  # noqa: BLE001 - shown in the page; the traceback is in the log
        traceback.print_exc()
        state("failed", result={"notes": notes.lines}, error=f"{e.__class__.__name__}: {e}")
        return 1
    result["notes"] = notes.lines
    state("done", result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
