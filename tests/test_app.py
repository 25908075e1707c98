"""``reenactor app`` without a browser: names, uploads, job state on disk, and a training job that outlives the
app instance that started it (a page reload / app restart is a new JobStore on the same work folder)."""

from __future__ import annotations

import time

import pytest

from reenactor.app.jobs import JobStore, Workdir, parse_progress, safe_name
from reenactor.errors import InputError


@pytest.mark.parametrize(
    "name, want",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
        (".hidden.mp4", "hidden.mp4"),
        ("my video (1).MP4", "my_video_1_.MP4"),
        ("été.png", "ete.png"),
        ("", "file"),
        ("..", "file"),
        ("a" * 300 + ".mp4", "a" * 76 + ".mp4"),
    ],
)
def test_safe_name(name, want):
    assert safe_name(name) == want


def test_workdir_refuses_paths_outside(tmp_path):
    wd = Workdir(tmp_path / "wd")
    assert wd.path("jobs", "x").parent == wd.root / "jobs"
    with pytest.raises(InputError):
        wd.path("..", "elsewhere")
    assert not wd.contains(tmp_path / "other")


def test_upload_checks(tmp_path):
    from reenactor.samples import sample_path

    wd = Workdir(tmp_path / "wd", max_upload_mb=1)
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video\n" * 10)
    with pytest.raises(InputError, match="not a video or image file") as e:
        wd.save_upload(fake, "driving")
    assert "holiday.mp4" in str(e.value) and "fix:" in str(e.value) and str(tmp_path) not in str(e.value)
    with pytest.raises(InputError, match="suffix .exe"):
        wd.save_upload(fake, "driving", "tool.exe")
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (2 * 2**20))
    with pytest.raises(InputError, match="over the app's limit"):
        wd.save_upload(big, "photo")
    saved = wd.save_upload(sample_path("astronaut"), "photo", "../../My Photo.png")
    assert saved.parent == wd.root / "uploads" and saved.name.endswith("-My_Photo.png")
    assert wd.uploads() == [saved]  # nothing else (no partial copy) was left behind


def test_parse_progress():
    log = (
        "render:  10%|#         | 2/20 [00:01<00:09,  2.0frame/s]\r"
        "train pix2pix:  50%|#####     | 5/10 [00:02<00:02,  2.1step/s, g=0.5, d=0.25]\r"
        "train pix2pix:  60%|######    | 6/10 [00:03<00:02,  2.1step/s, g=0.4, d=0.2]\n"
    )
    last, hist = parse_progress(log)
    assert (last.desc, last.n, last.total) == ("train pix2pix", 6, 10)
    assert last.postfix == {"g": 0.4, "d": 0.2}
    assert hist == [{"step": 5.0, "g": 0.5, "d": 0.25}, {"step": 6.0, "g": 0.4, "d": 0.2}]


def test_bad_job_ids_are_refused(tmp_path):
    store = JobStore(Workdir(tmp_path / "wd"))
    for bad in ("../x", "", "20260101-000000-train-zzzzzz", "20260101-000000-train-abcdef"):
        with pytest.raises(InputError, match="no such job"):
            store.get(bad)


STEPS = 120


@pytest.mark.slow
def test_training_job_survives_a_reload_cancel_and_resume(tmp_path, carphone_clip):
    """A per-person training job started through the app's job API keeps running and is found (with its
    progress and losses) by a new app instance on the same work folder; cancel keeps a checkpoint and resume
    continues from it to the end."""
    wd = Workdir(tmp_path / "wd")
    first = JobStore(wd)
    params = {
        "target": str(carphone_clip.root),
        "method": "pix2pix",
        # enough steps that the job is still running when the test cancels it, however fast the machine is
        "steps": STEPS,
        "size": 64,
        "set": ["trainer.log_every=20", "trainer.checkpoint_every=5", "trainer.image_every=10"],
    }
    job = first.create("train", params, label="pix2pix on carphone")
    del first  # the page that started it is gone

    again = JobStore(Workdir(tmp_path / "wd"))  # a reload / a restarted app: everything comes from disk
    assert [v.id for v in again.list("train")] == [job.id]
    end = time.monotonic() + 300
    v = again.get(job.id)
    while time.monotonic() < end and not (
        v.progress and v.progress.desc.startswith("train") and v.progress.n >= 3
    ):
        assert v.status in ("starting", "running"), (v.status, v.error, v.log)
        time.sleep(0.3)
        v = again.get(job.id)
    assert v.status == "running" and v.progress.total == STEPS, v.log
    v = again.cancel(job.id)
    v = again.wait(job.id, 120)
    assert v.status == "cancelled", (v.status, v.log)
    assert list((v.out / "run" / "checkpoints").glob("step_*")), "cancel kept no checkpoint"
    stopped_at = v.progress.n

    third = JobStore(Workdir(tmp_path / "wd"))
    v = third.resume(job.id)
    assert v.attempt == 2
    v = third.wait(job.id, 300)
    assert v.status == "done", (v.status, v.error, v.log)
    assert (v.out / "run" / "model.safetensors").exists() and v.result["model"].endswith("model.safetensors")
    assert "resumed from" in (v.dir / "log.txt").read_text(errors="replace")
    assert v.progress.n == STEPS and stopped_at < STEPS
    assert v.losses and {"step"} < set(v.losses[-1])
    from reenactor.modelfile import model_info

    assert model_info(v.result["model"])["method"] == "pix2pix"
