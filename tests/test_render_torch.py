"""The batched torch stick-figure renderer against the OpenCV one (:func:`reenactor.pose.render.draw_pose`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from reenactor.pose import render_torch
from reenactor.pose.render import draw_pose
from reenactor.pose.render_torch import draw_pose_batch

pytestmark = pytest.mark.usefixtures("one_thread")

KEYS = ("body", "face", "hand_left", "hand_right")
# Where thick strokes (width > 1: 128 px and up) leave the image, OpenCV 5 also clips the filled polygon's sides,
# which this renderer does not reproduce; everything else is pixel-exact (test_strokes_inside_the_image_...).
# Measured worst image (share of its pixels / of the figure's drawn pixels) and share of all drawn pixels:
#   carphone (shoulders out of frame everywhere) 64 px: 0 / 0 / 0; 128 px: 0.20 % / 3.9 % / 1.9 %;
#   256 px: 0.11 % / 2.1 % / 0.9 %;  synthetic people 64 px: exact; 128 px: 0.19 % / 3.5 % / 0.3 %;
#   256 px: 0.21 % / 4.3 % / 0.4 %.
MAX_IMAGE_SHARE = 0.004
MAX_DRAWN_SHARE = 0.06
MAX_TOTAL_DRAWN_SHARE = 0.03  # over all images of a test


def _template() -> np.ndarray:
    """A standing person's 25 BODY_25 joints in unit coordinates."""
    return np.array([
        (.50, .12), (.50, .20), (.40, .20), (.35, .33), (.32, .45), (.60, .20), (.65, .33), (.68, .45),
        (.50, .50), (.45, .50), (.44, .68), (.43, .86), (.55, .50), (.56, .68), (.57, .86), (.48, .10),
        (.52, .10), (.46, .11), (.54, .11), (.60, .90), (.61, .89), (.56, .88), (.40, .90), (.39, .89),
        (.44, .88),
    ])  # fmt: skip


def synthetic_people(n: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` random people (T-pose template moved, scaled, turned and jittered; a ring of 68 face points at the
    nose; fans of finger points at the wrists), ~10 % of the points missing, some parts out of the frame."""
    rng = np.random.default_rng(seed)
    body = np.repeat(_template()[None], n, 0) + rng.normal(0, 0.02, (n, 25, 2))
    ang = rng.uniform(-0.5, 0.5, (n, 1, 1))
    rot = np.concatenate([np.cos(ang), -np.sin(ang), np.sin(ang), np.cos(ang)], -1).reshape(n, 2, 2)
    scale, shift = rng.uniform(0.6, 1.4, (n, 1, 1)), rng.uniform(-0.25, 0.25, (n, 1, 2))
    body = (body - 0.5) @ rot * scale + 0.5 + shift
    theta = np.linspace(0, 2 * np.pi, 68)[None, :, None] + rng.normal(0, 0.1, (n, 68, 1))
    rad = scale * rng.uniform(0.02, 0.06, (n, 68, 1))
    face = body[:, :1] + rad * np.concatenate([np.cos(theta), np.sin(theta)], -1)
    hands = []
    for wrist in (7, 4):
        d = rng.uniform(0, 2 * np.pi, (n, 1, 1, 1)) + np.linspace(-0.6, 0.6, 5)[None, :, None, None]
        k = np.arange(1, 5)[None, None, :, None] * scale[..., None] * 0.015
        fingers = body[:, wrist, None, None] + k * np.concatenate([np.cos(d), np.sin(d)], -1)
        hands.append(np.concatenate([body[:, wrist : wrist + 1], fingers.reshape(n, 20, 2)], 1))
    out = {}
    for key, xy in zip(KEYS, (body, face, *hands)):
        conf = np.where(rng.random(xy.shape[:2]) < 0.1, 0.0, rng.uniform(0.06, 1.0, xy.shape[:2]))
        out[key] = np.concatenate([xy * size, conf[..., None]], -1).astype(np.float32)
    return out


def _compare(kp: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Per image: the share of pixels that differ from :func:`draw_pose`, of the image and of the figure's
    drawn pixels; over all images: the share of drawn pixels that differ. Asserts the same colours appear."""
    n = kp["body"].shape[0]
    want = np.stack([draw_pose((size, size), {k: v[i] for k, v in kp.items()}) for i in range(n)])
    got = draw_pose_batch({k: torch.from_numpy(v) for k, v in kp.items()}, (size, size))
    assert got.shape == (n, 3, size, size) and got.dtype == torch.uint8
    got = got.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        assert set(map(tuple, got[i].reshape(-1, 3))) == set(map(tuple, want[i].reshape(-1, 3))), i
    diff = (got != want).any(-1).reshape(n, -1)
    drawn = (want.any(-1) | got.any(-1)).reshape(n, -1)
    return diff.mean(1), diff.sum(1) / drawn.sum(1).clip(1), float(diff.sum() / drawn.sum())


@pytest.mark.parametrize("size", [64, 128, 256])
def test_matches_draw_pose_on_carphone(carphone_clip, size):
    """Real poses (the bundled clip, body + face + hands, scaled from its 128 px extraction)."""
    sx, sy = size / carphone_clip.size[1], size / carphone_clip.size[0]
    kp = {
        k: np.asarray(carphone_clip.load(k), np.float32) * [sx, sy, 1] for k in KEYS if carphone_clip.has(k)
    }
    assert set(kp) == set(KEYS)
    kp = {k: v[::3].astype(np.float32) for k, v in kp.items()}
    image, drawn, total = _compare(kp, size)
    assert (
        image.max() <= MAX_IMAGE_SHARE and drawn.max() <= MAX_DRAWN_SHARE and total <= MAX_TOTAL_DRAWN_SHARE
    )
    if size == 64:  # one-pixel lines and circles only: exact
        assert image.max() == 0


@pytest.mark.parametrize("size", [64, 128, 256])
def test_matches_draw_pose_on_synthetic_people(size):
    kp = synthetic_people(48, size, seed=size)
    image, drawn, total = _compare(kp, size)
    assert (
        image.max() <= MAX_IMAGE_SHARE and drawn.max() <= MAX_DRAWN_SHARE and total <= MAX_TOTAL_DRAWN_SHARE
    )
    assert (drawn == 0).mean() > 0.4  # about half the figures are pixel-exact


@pytest.mark.parametrize("thickness", [1, 2, 3, 4, 5, 8])
def test_strokes_inside_the_image_are_opencv_exactly(thickness):
    """Random strokes (horizontal, vertical, points included) that stay in the image are OpenCV's pixels, and
    1-pixel lines are even where they leave it (``cv::clipLine``)."""
    rng = np.random.default_rng(thickness)
    s, n = 48, 200
    lo, hi = (-30, s + 30) if thickness == 1 else (5, s - 5)
    p, q = rng.integers(lo, hi, (n, 2)), rng.integers(lo, hi, (n, 2))
    q[::5, 1], q[::7, 0], q[::11] = p[::5, 1], p[::7, 0], p[::11]
    want = np.zeros((n, s, s), np.uint8)
    for i in range(n):
        cv2.line(
            want[i], (int(p[i, 0]), int(p[i, 1])), (int(q[i, 0]), int(q[i, 1])), 1, thickness, cv2.LINE_8
        )
    # one limb (neck -> mid-hip) per image, no joints
    body = np.zeros((n, 25, 3), np.float32)
    body[:, 1, :2], body[:, 8, :2], body[:, [1, 8], 2] = p, q, 1.0
    got = draw_pose_batch({"body": torch.from_numpy(body)}, (s, s), thickness=thickness)
    joints = np.zeros((n, s, s), bool)
    r = max(1, round(thickness * 0.9))
    for i in range(n):
        for c in (p[i], q[i]):
            cv2.circle(joints[i].view(np.uint8), (int(c[0]), int(c[1])), r, 1, -1)
    limb = got.any(1).numpy() & ~joints
    assert (limb == (want.astype(bool) & ~joints)).all()


def test_joint_circles_parts_and_switches():
    kp = synthetic_people(6, 96, seed=1)
    for opts in ({"face": False}, {"hands": False}, {"body": False}, {"thickness": 3}):
        want = np.stack([draw_pose((96, 96), {k: v[i] for k, v in kp.items()}, **opts) for i in range(6)])
        got = draw_pose_batch({k: torch.from_numpy(v) for k, v in kp.items()}, (96, 96), **opts)
        assert (got.permute(0, 2, 3, 1).numpy() != want).any(-1).mean() < MAX_IMAGE_SHARE, opts
    only_face = {"face": torch.from_numpy(kp["face"])}  # a missing key is a missing part
    want = np.stack([draw_pose((96, 96), {"face": f}) for f in kp["face"]])
    assert (draw_pose_batch(only_face, (96, 96)).permute(0, 2, 3, 1).numpy() == want).all()
    nobody = {k: torch.zeros(2, len(v[0]), 3) for k, v in kp.items()}  # no confident point: black
    assert not draw_pose_batch(nobody, (40, 30)).any() and draw_pose_batch(nobody, (40, 30)).shape == (
        2,
        3,
        40,
        30,
    )
    with pytest.raises(ValueError):
        draw_pose_batch({}, (8, 8))


def test_rounding_and_threshold_follow_draw_pose():
    """End points round half to even (Python's ``round``); a point at exactly ``thresh`` is missing."""
    body = np.zeros((1, 25, 3), np.float32)
    body[0, 1] = (10.5, 4.5, 1.0)  # -> (10, 4)
    body[0, 8] = (11.5, 30.5, 0.05)  # -> (12, 30), but not drawn at thresh 0.05
    body[0, 2] = (20.5, 4.5, 0.06)  # -> (20, 4), drawn
    for thresh in (0.05, 0.01):
        want = draw_pose((40, 40), {"body": body[0]}, thresh=thresh)
        got = draw_pose_batch({"body": torch.from_numpy(body)}, (40, 40), thresh=thresh)[0].permute(1, 2, 0)
        assert (got.numpy() == want).all(), thresh


def test_long_pieces_come_in_bounded_blocks(monkeypatch):
    """Far-out points (clipped lines) and a small block size draw the same figures."""
    kp = synthetic_people(4, 64, seed=3)
    kp["body"][0, 4, :2] = (-5000.0, 9000.0)
    full = draw_pose_batch({k: torch.from_numpy(v) for k, v in kp.items()}, (64, 64))
    monkeypatch.setattr(render_torch, "BLOCK", 64)
    assert torch.equal(draw_pose_batch({k: torch.from_numpy(v) for k, v in kp.items()}, (64, 64)), full)


@pytest.mark.parametrize("size", [64, 256])
def test_static_lengths_draw_the_same_pixels_without_host_syncs(size):
    """``exact_lengths=False`` (the GPU default) sizes every pixel list by a bound from the image size and the
    stroke width instead of reading lengths back: the same images, and no read of a device value (no
    ``_local_scalar_dense``, no ``nonzero``) during the call. Long thick strokes across and far outside the image
    included, where the bounds are tightest."""
    kp = synthetic_people(24, size, seed=5)
    rng = np.random.default_rng(size)
    far = rng.uniform(-3 * size, 4 * size, (6, 2, 2)).astype(np.float32)
    kp["body"][:6, 2, :2], kp["body"][:6, 3, :2] = far[:, 0], far[:, 1]  # right shoulder -> elbow
    kp["body"][6, 1, :2], kp["body"][6, 8, :2] = (0.0, 0.0), (size - 1.0, size - 1.0)  # the image's diagonal
    kp["body"][7, 1, :2], kp["body"][7, 8, :2] = (-10.0, size / 2), (size + 10.0, size / 2 + 1)  # across
    kp["body"][6:8, [1, 8], 2] = 1.0
    tensors = {k: torch.from_numpy(v) for k, v in kp.items()}
    for thickness in (None, 1, 5):
        want = draw_pose_batch(tensors, (size, size), thickness=thickness, exact_lengths=True)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            got = draw_pose_batch(tensors, (size, size), thickness=thickness, exact_lengths=False)
        assert torch.equal(got, want), thickness
        reads = {e.name for e in prof.events()} & {"aten::_local_scalar_dense", "aten::nonzero", "aten::item"}
        assert not reads, (thickness, reads)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        draw_pose_batch(tensors, (size, size))  # on a CPU the default reads the exact lengths back
    assert "aten::_local_scalar_dense" in {e.name for e in prof.events()}


def record_calls(monkeypatch, module, name: str) -> list:
    """Patch ``module.name`` to keep what each call returns (for tests that the synthesizer draws its input with
    the training batches' renderer)."""
    got: list = []
    fn = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: got.append(fn(*a, **k)) or got[-1])
    return got


def synthesizer_of(method, reference):
    """``method``'s synthesizer from its current weights, set to ``reference``."""
    tensors, meta = method.inference_state()
    synth = type(method).synthesizer(method.cfg, tensors, meta)
    synth.set_reference(reference)
    return synth
