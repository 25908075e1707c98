"""The app's work folder, checked uploads and background jobs, all state on disk (no Gradio here).

Work folder layout (``reenactor app --workdir DIR``, default ``./reenactor_app``)::

    uploads/STAMP-HEX-NAME      checked copies of uploaded files (sanitized names)
    jobs/ID/job.json            what the job runs (kind, parameters); written once
    jobs/ID/launch.json         the app's record of each start (attempt, pid)
    jobs/ID/state.json          the runner's status (running, done, failed, cancelled), result or error
    jobs/ID/log.txt             everything the job printed (progress bars included)
    jobs/ID/out/                what the job makes: a clip store, a training run, result videos, a report

Every JSON file is written atomically (temporary name + rename), each job has its own folder, and only the
app writes ``launch.json`` and only the runner ``state.json``: two browsers (or two app processes) on one work
folder never write the same file. Job ids are made by the app and checked against :data:`JOB_ID` before any
path is built from one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.atomic import write_json

#: Upload kinds and the file suffixes each accepts.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".y4m")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
POSE_SUFFIXES = (".npz",)
UPLOAD_KINDS: dict[str, tuple[str, ...]] = {
    "video": VIDEO_SUFFIXES,
    "photo": IMAGE_SUFFIXES,
    "target": VIDEO_SUFFIXES + IMAGE_SUFFIXES,
    "driving": VIDEO_SUFFIXES + IMAGE_SUFFIXES + POSE_SUFFIXES,
}
DEFAULT_MAX_UPLOAD_MB = 500
JOB_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[a-z]+-[0-9a-f]{6}$")
KINDS = ("extract", "train", "transfer", "evaluate")
ACTIVE = ("starting", "running")


def safe_name(name: str, default: str = "file", max_len: int = 80) -> str:
    """A file name safe to create: the last path component only, ASCII letters, digits, ``._-`` (others become
    ``_``), no leading dot, at most ``max_len`` characters (the suffix kept)."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")
    base = re.sub(r"\.{2,}", ".", base)
    if not base:
        return default
    if len(base) > max_len:
        stem, dot, suf = base.rpartition(".")
        suf = suf[:12]
        base = (stem[: max_len - len(suf) - 1] + "." + suf) if dot and stem else base[:max_len]
    return base


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


#: a job process this young counts as alive even before its command line names the job (fork before exec)
LAUNCH_GRACE_S = 10.0


class Workdir:
    """The one folder the app writes to. :meth:`path` refuses any path that would leave it."""

    def __init__(self, root: str | Path, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB):
        self.root = Path(root).expanduser().resolve()
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        for sub in ("uploads", "jobs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts).resolve()
        if p != self.root and self.root not in p.parents:
            raise InputError("path leaves the work folder", p, "use a name without '..' or '/'")
        return p

    def contains(self, p: str | Path) -> bool:
        p = Path(p).resolve()
        return p == self.root or self.root in p.parents

    # ------------------------------------------------------------------ uploads
    def save_upload(self, src: str | Path, kind: str, name: str | None = None) -> Path:
        """Check an uploaded file (suffix, size, that it decodes) and copy it under ``uploads/`` with a
        sanitized, unique name. Raises :class:`InputError` with the CLI's message, naming the file as uploaded."""
        src = Path(src)
        shown = safe_name(name or src.name)
        allowed = UPLOAD_KINDS[kind]
        low = shown.lower()
        if not low.endswith(allowed):
            raise InputError(
                f"this is not a file the {kind} upload takes (suffix {Path(low).suffix or 'none'})",
                shown,
                f"upload one of: {' '.join(allowed)}",
            )
        if not src.is_file():
            raise InputError("upload not found (it may have expired); upload it again", shown)
        size = src.stat().st_size
        if size > self.max_upload_bytes:
            raise InputError(
                f"file is {size / 2**20:.0f} MB, over the app's limit of {self.max_upload_bytes / 2**20:.0f} MB",
                shown,
                "cut or re-encode it smaller, or start the app with a larger --max-upload-mb",
            )
        dest = self.path("uploads", f"{_stamp()}-{secrets.token_hex(3)}-{shown}")
        tmp = dest.with_name("." + dest.name + ".partial")
        shutil.copyfile(src, tmp)
        try:
            check_media(tmp, low)
        except InputError as e:
            tmp.unlink(missing_ok=True)
            raise InputError(str(e).replace(str(tmp), shown)) from None
        except Exception as e:  # noqa: BLE001 - any decoder failure is the same message to the user
            tmp.unlink(missing_ok=True)
            raise InputError(
                f"could not read this file ({e.__class__.__name__})",
                shown,
                "upload a video, photo or pose file",
            ) from None
        os.replace(tmp, dest)
        return dest

    def uploads(self, kinds: tuple[str, ...] = ()) -> list[Path]:
        files = sorted(
            (p for p in (self.root / "uploads").iterdir() if not p.name.startswith(".")), reverse=True
        )
        return [p for p in files if not kinds or p.name.lower().endswith(kinds)]


def check_media(path: Path, name: str) -> None:
    """Decode enough of ``path`` to know it is what its name says: a pose file loads, an image decodes, a video
    has a decodable first frame. The messages are the CLI's (:class:`InputError`)."""
    from ..io.video import iter_frames, probe

    if name.endswith(POSE_SUFFIXES):
        from ..pose.posefile import load_poses

        try:
            load_poses(path)
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001
            raise InputError(
                f"not a pose file ({e.__class__.__name__})", path, "export one with `reenactor poses export`"
            ) from None
        return
    info = probe(path)
    if name.endswith(VIDEO_SUFFIXES) and info.is_image:
        raise InputError("is a still image, not a video", path, "upload it as a photo")
    if not info.is_image:
        try:
            next(iter(iter_frames(path, 0, 1)))
        except StopIteration:
            raise InputError(
                "video has no decodable frame", path, "re-encode the video (e.g. with ffmpeg)"
            ) from None


# ---------------------------------------------------------------------------------------------- progress
_BAR = re.compile(
    r"(?P<desc>[^\r\n|]*?):?\s*(?P<pct>\d+)%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[(?P<rest>[^\]]*)\]"
)


@dataclass
class Progress:
    desc: str = ""
    n: int = 0
    total: int = 0
    postfix: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.n / self.total if self.total else 0.0


def parse_progress(text: str) -> tuple[Progress | None, list[dict[str, float]]]:
    """The last tqdm bar in a log (description, n/total, postfix values) and every distinct postfix seen with
    its step (the losses a training bar shows), in order."""
    last = None
    history: list[dict[str, float]] = []
    for m in _BAR.finditer(text):
        post: dict[str, float] = {}
        for part in m.group("rest").split(",")[2:]:
            k, eq, v = part.strip().partition("=")
            if eq:
                try:
                    post[k] = float(v)
                except ValueError:
                    pass
        last = Progress(m.group("desc").strip(), int(m.group("n")), int(m.group("total")), post)
        if post and (not history or history[-1].get("step") != last.n):
            history.append({"step": float(last.n), **post})
    return last, history


def _tail(path: Path, limit: int = 200_000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------- jobs
@dataclass
class JobView:
    """A job as the page shows it (read fresh from disk each time)."""

    id: str
    kind: str
    label: str
    params: dict[str, Any]
    status: str  # queued | starting | running | done | failed | cancelled | died
    dir: Path
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    progress: Progress | None = None
    losses: list[dict[str, float]] = field(default_factory=list)
    log: str = ""
    attempt: int = 0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def out(self) -> Path:
        return self.dir / "out"


class JobStore:
    """Start, watch, cancel and resume jobs under ``WORKDIR/jobs``. Any number of stores (app instances, page
    reloads) may look at one work folder: everything they know is read from the job folders."""

    def __init__(self, workdir: Workdir):
        self.wd = workdir
        self._procs: dict[int, subprocess.Popen] = {}

    # ------------------------------------------------------------------ start
    def create(self, kind: str, params: dict[str, Any], label: str = "") -> JobView:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        job_id = f"{_stamp()}-{kind}-{secrets.token_hex(3)}"
        d = self.wd.path("jobs", job_id)
        d.mkdir(parents=True)
        (d / "out").mkdir()
        write_json(
            d / "job.json",
            {"id": job_id, "kind": kind, "params": params, "label": label, "created": time.time()},
        )
        self._launch(d, attempt=1)
        return self.get(job_id)

    def _launch(self, d: Path, attempt: int) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "REENACTOR_JOB_ATTEMPT": str(attempt)}
        with open(d / "log.txt", "ab") as log:
            if attempt > 1:
                log.write(f"\n---- attempt {attempt} ----\n".encode())
                log.flush()
            p = subprocess.Popen(
                [sys.executable, "-m", "reenactor.app.runner", str(d)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.wd.root),
                env=env,
                start_new_session=True,  # a Ctrl-C of the app does not stop its jobs
            )
        self._procs[p.pid] = p
        write_json(d / "launch.json", {"attempt": attempt, "pid": p.pid, "launched": time.time()})

    # ------------------------------------------------------------------ read
    def _dir(self, job_id: str) -> Path:
        if not JOB_ID.match(str(job_id or "")):
            raise InputError(f"no such job {job_id!r}")
        d = self.wd.path("jobs", job_id)
        if not (d / "job.json").exists():
            raise InputError(f"no such job {job_id!r}")
        return d

    def _alive(self, pid: int, d: Path, launched: float = 0.0) -> bool:
        p = self._procs.get(pid)
        if p is not None:
            return p.poll() is None
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False  # exited, not yet reaped by the app instance that started it
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            # between fork and exec the child still shows its parent's command line: a pid launched moments
            # ago is ours; later, a pid whose command line does not name this job was reused by another process
            return str(d).encode() in cmd or time.time() - launched < LAUNCH_GRACE_S
        except (OSError, IndexError):
            pass
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return sys.platform != "linux"  # without /proc a live pid is trusted

    def get(self, job_id: str) -> JobView:
        d = self._dir(job_id)
        job = read_json(d / "job.json", {})
        launch = read_json(d / "launch.json", {}) or {}
        state = read_json(d / "state.json", {}) or {}
        attempt = int(launch.get("attempt", 0))
        if state.get("attempt") == attempt:
            status = state.get("status", "running")
        else:
            status = "starting" if launch else "queued"
        if (
            status in ACTIVE
            and launch
            and not self._alive(int(launch["pid"]), d, launch.get("launched", 0.0))
        ):
            state = read_json(d / "state.json", {}) or {}  # it may have finished just now
            status = state.get("status", "died") if state.get("attempt") == attempt else "died"
            if status in ACTIVE:
                status = "died"
        text = _tail(d / "log.txt")
        prog, losses = parse_progress(text)
        lines = [seg for ln in text.splitlines() for seg in [ln.split("\r")[-1]] if seg.strip()]
        return JobView(
            id=job["id"],
            kind=job["kind"],
            label=job.get("label", ""),
            params=job.get("params", {}),
            status=status,
            dir=d,
            result=state.get("result") or {},
            error=state.get("error")
            or ("the job's process ended without a word (see its log)" if status == "died" else None),
            progress=prog,
            losses=losses,
            log="\n".join(lines[-40:]),
            attempt=attempt,
        )

    def list(self, kind: str | None = None) -> list[JobView]:
        out = []
        for d in sorted((self.wd.root / "jobs").iterdir(), reverse=True):
            if JOB_ID.match(d.name) and (d / "job.json").exists() and (kind is None or f"-{kind}-" in d.name):
                out.append(self.get(d.name))
        return out

    # ------------------------------------------------------------------ control
    def cancel(self, job_id: str) -> JobView:
        """Interrupt a running job as Ctrl-C would (training saves a checkpoint of its finished steps); a job
        already being cancelled is killed."""
        d = self._dir(job_id)
        view = self.get(job_id)
        if not view.active:
            return view
        launch = read_json(d / "launch.json", {})
        pid = int(launch["pid"])
        again = (d / "cancel").exists()
        (d / "cancel").write_text(str(time.time()))
        try:
            os.kill(pid, signal.SIGKILL if again else signal.SIGINT)
        except ProcessLookupError:
            pass
        return self.get(job_id)

    def resume(self, job_id: str) -> JobView:
        """Start a stopped job again in its own folder: training continues from its newest checkpoint (the
        same ``reenactor train`` command on the same run folder), other jobs run again."""
        d = self._dir(job_id)
        view = self.get(job_id)
        if view.active:
            return view
        (d / "cancel").unlink(missing_ok=True)
        self._launch(d, view.attempt + 1)
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float = 600, poll: float = 0.2) -> JobView:
        end = time.monotonic() + timeout
        while True:
            v = self.get(job_id)
            if not v.active or time.monotonic() > end:
                return v
            time.sleep(poll)
