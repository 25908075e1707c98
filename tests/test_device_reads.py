"""The trainer's step of the methods whose device path lives in their ``prepare_batch`` or in shared code
(cloning, pix2pix, scgan, psgan; remot, single_shot and upper_body have the same test in their own files): a
step that is not a logging step reads nothing back from the device and makes no data-dependent shape, so on a
GPU the host never waits for it (issue 30)."""

from __future__ import annotations

import pytest
import torch

from device_reads import device_reads
from reenactor.methods import get_method
from reenactor.train.config import build_run_config, method_config
from reenactor.train.trainer import Trainer, _to_device

pytestmark = pytest.mark.usefixtures("one_thread")


def _dataset(method, name: str, clip, tmp_path):
    from reenactor.data.clipstore import ClipStore

    if name in ("cloning", "pix2pix"):
        store = ClipStore.open(clip.root)
        return method.build_dataset([store], [store] if name == "cloning" else None)
    if name == "psgan":
        from reenactor.data.actions import open_actions
        from reenactor.synthetic.actions import rest_poses_from_clip, write_action_data

        write_action_data(tmp_path / "actions", rest_poses_from_clip(ClipStore.open(clip.root)), per_action=2)
        return method.build_dataset(open_actions([tmp_path / "actions"], log=lambda *_: None))
    from reenactor.data.clips import open_clips

    return method.build_dataset(open_clips([clip.root], log=lambda *_: None), pairs=None)


@pytest.mark.parametrize("name", ["cloning", "pix2pix", "scgan", "psgan"])
def test_a_trainer_step_never_waits_for_the_device(name, carphone_clip, tmp_path, monkeypatch):
    cls = get_method(name)
    model = {} if name == "psgan" else {"size": 64}
    run = build_run_config(
        {
            "method": name,
            "model": model,
            "trainer": {"batch_size": 2, "progress": False, "tensorboard": False, "image_every": 0},
        }
    )
    method = cls(method_config(cls, run.model))
    ds = _dataset(method, name, carphone_clip, tmp_path)
    tr = Trainer(method, run, None)
    tr.method.fit_data(ds)
    if hasattr(tr.method, "schedule"):
        tr.method.schedule(0.5)  # cloning: both branches on
    batches = tr.make_loader(ds, 0)
    tr._step([tr.next_batch(batches)])  # noqa: SLF001 - first step: optimizer state, EMA
    tr.step = 1  # not a logging step
    items = next(batches)

    def step():
        with torch.no_grad():  # as Trainer.next_batch calls it
            batch = method.prepare_batch(_to_device(items, tr.device))
        tr._step([batch])  # noqa: SLF001

    assert device_reads(step, monkeypatch) == []
