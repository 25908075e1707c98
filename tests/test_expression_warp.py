"""Expression warps (reenactor.face.expression_warp): pixels go where the points go, the rest of the frame stays,
and each mode raises the action unit it is named for when the face mesh moves with it."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.face.expression_warp import ExpressionField, ExpressionWarpConfig, draw_expression
from reenactor.face.faup import AU_NAMES, clip_neutral, faup_from_mesh

FRAME = 60  # carphone: mouth open, face frontal


def _au(faup: np.ndarray, name: str) -> float:
    return float(faup[AU_NAMES.index(name)])


@pytest.fixture(scope="module")
def face(carphone_clip) -> np.ndarray:
    f = np.asarray(carphone_clip.load("face"), np.float32)[FRAME]
    assert (f[:, 2] > 0).all()
    return f


def _blobs(shape: tuple[int, int], pts: np.ndarray, sigma: float = 1.2) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w), np.float32)
    for x, y in pts:
        img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return img


def _centroid(img: np.ndarray, near: np.ndarray, r: int = 4) -> np.ndarray:
    x, y = np.round(near).astype(int)
    win = img[y - r : y + r + 1, x - r : x + r + 1]
    yy, xx = np.mgrid[y - r : y + r + 1, x - r : x + r + 1]
    return np.array([(win * xx).sum(), (win * yy).sum()]) / win.sum()


def test_pixels_follow_the_points_and_the_rest_stays(face):
    amp = {"smile": 0.25, "jaw": 0.2, "brow": 0.1}
    for mode, pts in (("smile", (48, 54)), ("jaw", (8, 57)), ("brow", (19, 24))):
        one = ExpressionField(face, {mode: amp[mode]})
        got = np.hypot(*one.at(face[list(pts), :2]).T)
        # the blend with the still neighbours (lip centre, eyes, nose) shrinks a point's move, never enlarges it
        assert (got > 0.25 * amp[mode] * one.iod).all() and (got <= amp[mode] * one.iod + 1e-4).all(), (
            mode,
            got,
        )
    field = ExpressionField(face, amp)
    assert field.ok and field.iod > 5
    moved = field.move_points(face)
    assert np.array_equal(moved[:, 2], face[:, 2])
    shift = np.hypot(*(moved[:, :2] - face[:, :2]).T)
    assert shift[27:48].max() < 0.03 * field.iod  # eyes and nose stay
    # each mode alone: lip corners go up (image y falls), the chin down, the brows up
    up = {m: ExpressionField(face, {m: amp[m]}).move_points(face)[:, 1] - face[:, 1] for m in amp}
    assert up["smile"][48] < -1 and up["smile"][54] < -1 and up["jaw"][8] > 2 and up["brow"][19] < -0.5
    # a blob under a point lands where the point lands (the backward resampling inverts the forward move)
    probe = [48, 54, 8, 57, 19, 24]
    src = _blobs((128, 128), face[probe, :2])
    out = field.warp_image(src[..., None].repeat(3, 2))[..., 0]
    for i in probe:
        got = _centroid(out, moved[i, :2])
        assert np.hypot(*(got - moved[i, :2])) < 0.3, (i, got, moved[i, :2])
    # far from the face nothing moves
    d_face = np.hypot(
        *(np.mgrid[0:128, 0:128][::-1].reshape(2, -1).T[:, None] - face[None, :, :2]).transpose(2, 0, 1)
    )
    far = (d_face.min(1) > 3 * field.sigma + 2 + shift.max()).reshape(128, 128)
    noise = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    warped = field.warp_image(noise)
    assert far.sum() > 1000 and np.array_equal(warped[far], noise[far]) and not np.array_equal(warped, noise)


def test_no_warp_without_amplitude_or_eyes(face):
    img = np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    still = ExpressionField(face, {"smile": 0.0, "jaw": 0.0, "brow": 0.0})
    assert np.array_equal(still.warp_image(img), img) and np.allclose(still.move_points(face), face)
    blind = face.copy()
    blind[36:42, 2] = 0  # right eye missing: no face frame to warp in
    f = ExpressionField(blind, {"smile": 0.25})
    assert not f.ok and np.array_equal(f.warp_image(img), img) and np.array_equal(f.move_points(face), face)
    assert draw_expression(ExpressionWarpConfig(prob=0.0)) is None
    np.random.seed(0)
    amps = [draw_expression(ExpressionWarpConfig(prob=1.0, smile=0.2, jaw=0.3, brow=0.1)) for _ in range(200)]
    sm = np.array([a["smile"] for a in amps])
    assert sm.min() >= -0.1 and sm.max() <= 0.2 and (sm < 0).any() and (sm > 0.15).any()
    assert all(0 <= a["jaw"] <= 0.3 and -0.05 <= a["brow"] <= 0.1 for a in amps)


@pytest.mark.parametrize(
    "mode,au,amp",
    [
        ("smile", "AU12", 0.25),
        ("smile", "AU12", -0.12),
        ("jaw", "AU26", 0.25),
        ("brow", "AU2", 0.1),
        ("brow", "AU1", -0.05),
    ],
)
def test_each_mode_moves_its_action_unit(carphone_clip, face, mode, au, amp):
    """The mesh moved with the field (as the training set moves it) reads as the action unit the mode is named
    for, up or down with the amplitude's sign by a clear margin; the other modes' units hardly move."""
    mesh = np.asarray(carphone_clip.load("face_raw"), np.float32)[FRAME]
    neutral = clip_neutral(carphone_clip)
    field = ExpressionField(face, {mode: amp})
    moved = mesh.copy()
    moved[:, :2] += field.at(mesh[:, :2])  # the clip is stored at model size: same pixels
    before, after = faup_from_mesh(mesh, neutral), faup_from_mesh(moved, neutral)
    assert np.sign(amp) * (_au(after, au) - _au(before, au)) > 0.15, (au, _au(before, au), _au(after, au))
    others = {"smile": ("AU1", "AU2"), "jaw": ("AU1", "AU2", "AU12"), "brow": ("AU25", "AU26", "AU12")}[mode]
    for o in others:
        assert abs(_au(after, o) - _au(before, o)) < 0.1, (o, _au(before, o), _au(after, o))


def test_fit_expression_recovers_amplitudes_and_stays_in_range():
    """The transfer-time fit: an AU change made of known column weights gives back their amplitudes; one beyond
    the columns' full extent is cut at it; no change or a non-finite one gives no warp."""
    from reenactor.face.expression_warp import BASIS_COLUMNS, fit_expression

    cfg = ExpressionWarpConfig()
    rng = np.random.RandomState(0)
    basis = np.abs(rng.normal(0.0, 0.1, (17, len(BASIS_COLUMNS))))
    basis[11, 0], basis[15, 2], basis[0, 3] = (
        0.3,
        0.55,
        0.2,
    )  # smile -> one unit, jaw -> another, brow -> a third
    w = np.array([0.6, 0.0, 0.4, 0.0, 0.5])  # smile lift 0.6, jaw 0.4, brow lowering 0.5 of their extents
    amp = fit_expression(basis, basis @ w, cfg)
    assert amp["smile"] == pytest.approx(0.6 * cfg.smile, abs=1e-5)
    assert amp["jaw"] == pytest.approx(0.4 * cfg.jaw, abs=1e-5)
    assert amp["brow"] == pytest.approx(-0.5 * 0.5 * cfg.brow, abs=1e-5)
    big = fit_expression(basis, basis @ np.array([3.0, 0.0, 0.0, 0.0, 0.0]), cfg)
    assert 0.5 * cfg.smile < big["smile"] <= cfg.smile + 1e-9 and 0.0 <= big["jaw"] <= cfg.jaw + 1e-9
    assert fit_expression(basis, np.zeros(17), cfg) == {"smile": 0.0, "jaw": 0.0, "brow": 0.0}
    assert fit_expression(basis, np.full(17, np.nan), cfg) == {"smile": 0.0, "jaw": 0.0, "brow": 0.0}
