"""Tiny synthetic clip stores for the cloning / baseline / transfer tests (shared helper, not a test file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reenactor.data.clipstore import ClipStore
from reenactor.pose.render import draw_pose
from reenactor.pose.skeleton import J


def skeleton(t: float, size: int, phase: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """A BODY_25 upper body whose right arm waves with ``t``; pixels of a ``size`` square frame."""
    s = size / 32.0 * scale
    c = size / 2.0
    body = np.zeros((25, 3), np.float32)

    def put(name, x, y):
        body[J[name]] = (c + x * s, c + y * s, 1.0)

    put("Nose", 0, -10)
    put("Neck", 0, -5)
    put("RShoulder", -5, -5)
    put("LShoulder", 5, -5)
    put("MidHip", 0, 8)
    put("RHip", -3, 8)
    put("LHip", 3, 8)
    a = np.sin(t + phase)
    put("RElbow", -9, -1 + 3 * a)
    put("RWrist", -12, 3 + 6 * a)
    put("LElbow", 9, -1)
    put("LWrist", 11, 4)
    put("REye", -1, -11)
    put("LEye", 1, -11)
    return body


def make_clip(
    root: Path,
    n: int = 12,
    size: int = 32,
    phase: float = 0.0,
    scale: float = 1.0,
    seed: int = 0,
    mask: bool = False,
) -> ClipStore:
    """A clip store whose frames are coloured stick figures of its own poses (a learnable pose -> image map)."""
    rng = np.random.default_rng(seed)
    bodies = np.stack([skeleton(0.5 * i, size, phase, scale) for i in range(n)])
    frames = np.stack([draw_pose((size, size), {"body": b}) for b in bodies])
    frames = np.clip(frames.astype(np.int16) + rng.integers(0, 20, frames.shape), 0, 255).astype(np.uint8)
    store = ClipStore.create(root, source="synthetic", fps=10.0, n_frames=n, size=[size, size])
    store.save("frames", frames, stage="extract")
    store.save("body", bodies, stage="extract")
    store.save("face", np.zeros((n, 68, 3), np.float32), stage="extract")
    store.save("hand_left", np.zeros((n, 21, 3), np.float32), stage="extract")
    store.save("hand_right", np.zeros((n, 21, 3), np.float32), stage="extract")
    store.save("person", np.ones(n, bool), stage="extract")
    if mask:  # the person mask: the drawn figure, a little dilated (like a segmentation of the body)
        import cv2

        drawn = np.stack([draw_pose((size, size), {"body": b}).max(-1) > 0 for b in bodies]).astype(np.uint8)
        store.save(
            "mask", np.stack([cv2.dilate(d, np.ones((3, 3), np.uint8)) * 255 for d in drawn]), stage="extract"
        )
    store.set_stage("extract", n_frames=n)
    return store


TINY_MODEL = {"size": 32, "generator": {"ngf": 8, "num_downs": 3}, "discriminator": {"ndf": 8, "n_layers": 2}}


def export_untrained(
    method: str, path: Path, clips: list, conf: dict | None = None, unpaired: list | None = None
) -> Path:
    """Build ``method`` at a tiny size, fit its data, export it with the trainer's save_model (no training)."""
    from reenactor.config import from_dict, to_dict
    from reenactor.methods import get_method
    from reenactor.train.checkpoint import save_model

    cls = get_method(method)
    cfg = from_dict(
        cls.Config,
        conf if conf is not None else (TINY_MODEL if method != "nearest_neighbor" else {"size": 32}),
    )
    m = cls(cfg)
    m.fit_data(m.build_dataset(clips, unpaired))
    tensors, meta = m.inference_state()
    return save_model(path, method, to_dict(cfg), tensors, meta)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny networks gain nothing from more threads, and oversubscribed threads thrash on a busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
