"""OpenCV DIS flow and its cached clip-store stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenactor.data import flow as F
from reenactor.data.clipstore import ClipStore
from reenactor.errors import InputError
from reenactor.losses import warp

pytestmark = pytest.mark.usefixtures("one_thread")


def _photo(size: int = 96) -> np.ndarray:
    import cv2

    from reenactor.io.video import read_image
    from reenactor.samples import sample_path

    img = np.asarray(read_image(sample_path("astronaut")))[..., :3]
    return cv2.resize(img, (size + 16, size + 16), interpolation=cv2.INTER_AREA)


def _shifted_frames(n: int = 4, dx: int = 2, dy: int = 1, size: int = 96) -> np.ndarray:
    big = _photo(size)
    return np.stack([big[8 - i * dy : 8 - i * dy + size, 8 - i * dx : 8 - i * dx + size] for i in range(n)])


def test_dis_flow_recovers_translation_and_warps_back():
    fr = _shifted_frames(2)
    flow = F.dis_flow(fr[0], fr[1])
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(2.0, abs=0.25)
    assert np.median(inner[..., 1]) == pytest.approx(1.0, abs=0.25)
    # the forward flow aligns the next frame with the previous one (backward warping)
    prev = torch.from_numpy(fr[0]).permute(2, 0, 1)[None].float()
    nxt = torch.from_numpy(fr[1]).permute(2, 0, 1)[None].float()
    warped = warp(nxt, torch.from_numpy(flow).permute(2, 0, 1)[None])
    err_warped = (warped - prev)[..., 16:-16, 16:-16].abs().mean()
    err_raw = (nxt - prev)[..., 16:-16, 16:-16].abs().mean()
    assert err_warped < 0.35 * err_raw
    with pytest.raises(InputError):
        F.dis_flow(fr[0], fr[1][:50])


def test_flow_stage_cached_and_resumable(tmp_path, monkeypatch):
    fr = _shifted_frames(4)
    clip = ClipStore.create(tmp_path / "clip", n_frames=4, fps=25.0, size=[96, 96])
    clip.save("frames", fr, stage="extract")
    out = F.add_flow_stage(clip, progress=False)
    assert out.shape == (3, 96, 96, 2)
    clip2 = ClipStore.open(tmp_path / "clip")
    assert clip2.stage_done("flow") and clip2.has("flow")
    assert clip2.stage("flow")["mean_magnitude"] == pytest.approx(np.sqrt(5), abs=0.5)

    def boom(*a, **k):
        raise AssertionError("flow recomputed although cached")

    monkeypatch.setattr(F, "_dis", boom)
    cached = F.add_flow_stage(clip2, progress=False)
    np.testing.assert_array_equal(np.asarray(cached), out)
    # a clip with one frame is a clear error
    one = ClipStore.create(tmp_path / "one", n_frames=1, fps=25.0, size=[96, 96])
    one.save("frames", fr[:1], stage="extract")
    monkeypatch.undo()
    with pytest.raises(InputError, match="at least 2 frames"):
        F.add_flow_stage(one, progress=False)
