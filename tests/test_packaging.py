"""The wheel carries what an installed reenactor needs: the method configs and the console script. Built from
this checkout, installed with --no-deps into a fresh virtual environment that borrows this environment's
packages (torch, MediaPipe, ...; the README's pins), then used from a folder without the checkout's configs/."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_the_configs_and_trains_from_them(tmp_path, carphone_clip):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = wheels.glob("reenactor-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    for cfg in ("trainer.yaml", "cloning/default.yaml", "upper_body/small.yaml", "pose_warp/default.yaml"):
        assert f"reenactor/configs/{cfg}" in names, cfg
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # this environment's third-party packages, but not its editable reenactor (.pth files here are not read)
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    py = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--ignore-installed",
            str(whl),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONNOUSERSITE": "1", "PYTHONPATH": ""}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(venv / "bin" / "reenactor"), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    where = subprocess.run(
        [str(py), "-c", "import reenactor; print(reenactor.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in where and str(ROOT / "src") not in where
    h = run("train", "--method", "cloning", "--help")
    assert h.returncode == 0 and "--budget" in h.stdout
    r = run(
        "train",
        "--config",
        "cloning/default",
        "--target",
        str(carphone_clip.root),
        "--size",
        "32",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "-o",
        "run",
        "--set",
        "trainer.progress=false",
        "--set",
        "trainer.tensorboard=false",
        "--set",
        "trainer.image_every=0",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "run" / "model.safetensors").exists()
    info = run("info", "run/model.safetensors")
    assert info.returncode == 0 and "kind:        per-person" in info.stdout
