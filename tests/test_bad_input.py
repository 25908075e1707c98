"""Bad input to `reenactor extract`: one clear message naming the file and the fix, exit code != 0, and no
clip folder (finished or partial) left behind. Every file here is a real broken file."""

from __future__ import annotations

import random

import numpy as np
import pytest

from reenactor.cli import main
from reenactor.errors import InputError, NoPersonError
from reenactor.extract import extract


def _garbled(src, dst):
    """Overwrite one byte in every 500 of the coded frames (container header intact): a corrupt stream."""
    b = bytearray(src.read_bytes())
    r = random.Random(0)
    for i in range(2000, len(b) - 3000, 500):
        b[i] = r.randrange(256)
    dst.write_bytes(bytes(b))
    return dst


def _bad_files(tmp_path, carphone_path, blank_video):
    data = carphone_path.read_bytes()
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "random.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes()
    )
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.png").write_text("this is not an image\n")
    return {
        "missing": (tmp_path / "nope.mp4", "not found"),
        "zero-byte": (tmp_path / "zero.mp4", "empty"),
        "random bytes": (tmp_path / "random.mp4", "not a video"),
        "truncated": (tmp_path / "truncated.mp4", "not a video"),
        "text as png": (tmp_path / "notes.png", "not a"),
        "corrupt stream": (_garbled(carphone_path, tmp_path / "garbled.mp4"), "corrupt video stream"),
        "no person": (blank_video, "no person"),
    }


CASES = ["missing", "zero-byte", "random bytes", "truncated", "text as png", "corrupt stream", "no person"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_message_and_nothing_left(case, tmp_path, carphone_path, blank_video):
    path, words = _bad_files(tmp_path, carphone_path, blank_video)[case]
    out = tmp_path / "out" / "clip"
    with pytest.raises(InputError) as ei:
        extract(path, out, size=32, progress=False, log=lambda *_: None)
    msg = str(ei.value)
    assert path.name in msg and words in msg and "fix:" in msg
    if case == "no person":
        assert isinstance(ei.value, NoPersonError)
    assert not out.exists()
    assert not (tmp_path / "out" / "clip.partial").exists()


def test_cli_prints_one_message_and_exits_nonzero(tmp_path, capsys, blank_video):
    out = tmp_path / "clip"
    rc = main(["extract", str(blank_video), "-o", str(out), "--size", "32", "-q"])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.startswith("error: ") and "blank.mp4" in err and "fix:" in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "clip.partial").exists()
    rc = main(["extract", str(tmp_path / "missing.mov"), "-o", str(out), "-q"])
    assert rc != 0 and "missing.mov: file not found" in capsys.readouterr().err


def test_refuses_to_overwrite_a_foreign_folder(tmp_path, blank_video):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    with pytest.raises(InputError, match="not a clip store"):
        extract(blank_video, folder, size=32, progress=False)
    assert (folder / "thesis.txt").read_text() == "precious"


def test_bad_clip_folder_for_render(tmp_path, capsys):
    rc = main(["render", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.mp4")])
    assert rc != 0 and "clip folder not found" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
