"""The upper_body method (Liu et al. 2019): dataset windows, landmark + frame generators with temporal smoothing,
eq. 2 / eq. 4 losses, export -> synthesizer, and train -> save -> load -> transfer at tiny size on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from device_reads import step_reads
from reenactor.data.augment import AugmentConfig
from reenactor.face.faup import FAUP_DIM, faup_sequence
from reenactor.methods.upper_body import UpperBodyConfig, UpperBodyMethod
from reenactor.methods.upper_body.config import FrameGenConfig, LandmarkGenConfig
from reenactor.methods.upper_body.images import face_centre, landmark_crops, paste, ubkp_images
from reenactor.methods.upper_body.method import frame_input_nc, generate_window

S, C = 32, 16


def tiny_cfg(**kw) -> UpperBodyConfig:
    return UpperBodyConfig(
        size=S,
        landmark=LandmarkGenConfig(
            crop=C, cell=1, ngf=4, n_downsampling=2, n_blocks=1, ndf=4, n_layers=1, num_D=2
        ),
        frame=FrameGenConfig(
            past=2, ngf=8, n_downsampling=2, n_blocks=1, ndf=4, n_layers=2, num_D=2, lambda_l1=1.0
        ),
        **kw,
    )


def tiny_run(clip, steps: int, batch_size: int) -> dict:
    """A run config (as `reenactor train` builds it) of the tiny model on ``clip``, checkpointed at the end."""
    cfg = tiny_cfg()
    model = {"size": S, "landmark": vars(cfg.landmark), "frame": vars(cfg.frame)}
    return {
        "method": "upper_body",
        "model": model,
        "data": {"target": [str(clip.root)]},
        "trainer": {
            "steps": steps,
            "batch_size": batch_size,
            "device": "cpu",
            "ema": 0.0,
            "tensorboard": False,
            "image_every": 0,
            "checkpoint_every": steps,
            "progress": False,
        },
    }


@pytest.fixture(scope="module")
def method() -> UpperBodyMethod:
    torch.manual_seed(0)
    return UpperBodyMethod(tiny_cfg())


@pytest.fixture
def dataset(method, clip_copy):
    ds = method.build_dataset([clip_copy])
    method.fit_data(ds)
    return ds


def _batch(ds, idx=(0, 7)) -> dict[str, torch.Tensor]:
    """Items ``idx`` collated and prepared as the trainer does (drawn and converted to [-1, 1] on the device)."""
    from reenactor.methods.upper_body.dataset import prepare_window_batch

    return prepare_window_batch(torch.utils.data.default_collate([ds[i] for i in idx]), ds.cfg)


def _item(ds, i: int) -> dict[str, torch.Tensor]:
    """Item ``i`` as the networks see it (a prepared batch of one)."""
    return {k: v[0] for k, v in _batch(ds, (i,)).items()}


def _crop(face: np.ndarray) -> torch.Tensor:
    """The (3, C, C) landmark crop of one (68, 3) face, as prepare_window_batch draws it."""
    return landmark_crops(torch.from_numpy(face)[None], C)[0]


def _ubkp(kp: dict[str, np.ndarray]) -> torch.Tensor:
    """The (3, S, S) UBKP image of one pose, as prepare_window_batch draws it."""
    return ubkp_images({k: torch.from_numpy(v)[None] for k, v in kp.items()}, (S, S))[0]


def test_dataset_windows(dataset, clip_copy):
    L = 2
    item = _item(dataset, 5)
    assert item["x"].shape == (L + 1, 6, S, S) and item["x_pre"].shape == (L, 6, S, S)
    assert item["image"].shape == (L + 1, 3, S, S) and item["lm"].shape == (L + 1, 3, C, C)
    assert item["faup"].shape == (L + 1, 1, C, C)
    for k in ("x", "image", "lm"):
        assert item[k].min() >= -1 and item[k].max() <= 1
    # the landmark crop shows the face (drawn pixels), the FL channels hold it pasted into the frame
    assert (item["lm"] > -1).any() and (item["x"][:, 3:] > -1).any()
    # the faup stage was computed into the clip store on the way
    assert clip_copy.stage_done("faup") and clip_copy.load("faup").shape == (clip_copy.n_frames, FAUP_DIM)
    # the first window's past inputs before the clip start are zeros
    first = _item(dataset, 0)
    assert torch.all(first["x_pre"] == 0)


def test_expression_warp_moves_frame_landmarks_and_faup_together(clip_copy):
    """model.expression (reenactor.face.expression_warp): one drawn expression warps every frame of the window
    with its own landmarks; the UBKP-FL inputs and the landmark generator's pair (FAUP image -> landmark crop) are
    those of the warped face, the body stays; a lifted lip line reads as more AU12 in the pair's FAUP; ``image_src``
    keeps the unwarped frames (the face refiner's warp loss)."""
    from reenactor.face.expression_warp import ExpressionField, ExpressionWarpConfig, draw_expression
    from reenactor.face.faup import AU_NAMES, faup_image

    expr = ExpressionWarpConfig(prob=1.0, smile=0.25, jaw=0.1, brow=0.1)
    cfg = tiny_cfg(augment=AugmentConfig(prob=0.0), expression=expr)
    cfg.frame.face_refine = 4  # the refiner's warp loss needs the unwarped frames (``image_src``)
    ds = UpperBodyMethod(cfg).build_dataset([clip_copy])
    ref = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0))).build_dataset([clip_copy])
    seed = next(k for k in range(50) if np.random.seed(k) or draw_expression(expr)["smile"] > 0.15)
    i = 58
    np.random.seed(seed)
    item = _item(ds, i)
    np.random.seed(seed)
    amp = draw_expression(expr)  # the same draw
    plain = _item(ref, i)
    _, t = ds.index[i]
    au12 = AU_NAMES.index("AU12")
    frames = clip_copy.frames()
    for j, s in enumerate(range(t - 2, t + 1)):
        field = ExpressionField(ds.kp[0]["face"][s], amp, expr.sigma)
        lm = _crop(field.move_points(ds.kp[0]["face"][s]))
        assert torch.equal(item["lm"][j], lm) and not torch.equal(lm, plain["lm"][j])
        assert torch.equal(item["x"][j, 3:], paste(lm[None], item["centre"][j][None], (S, S))[0])
        assert torch.equal(item["x"][j, :3], plain["x"][j, :3])  # the body
        img = np.round((item["image"][j].numpy().transpose(1, 2, 0) + 1) * 127.5)
        assert np.abs(img - field.warp_image(ds._image(0, s))).max() <= 1
        assert not torch.equal(item["image"][j], plain["image"][j])
        assert torch.equal(item["image_src"][j], plain["image"][j])
        assert np.array_equal(frames[s], np.asarray(clip_copy.frames()[s]))  # the clip itself is untouched
        faup = ds._warped_faup(0, s, field)
        assert faup[au12] > ds.faup[0][s][au12] + 0.1, (faup[au12], ds.faup[0][s][au12])
        assert np.allclose(item["faup"][j].numpy(), faup_image(faup, (C, C), 1))
    # the transfer-time clamp range covers the warped FAUP too (as many as real ones at prob 0.5 ... here prob 1:
    # capped), drawn without touching the global generator the trainer seeds
    state = np.random.get_state()[1].copy()
    seen, own = ds.training_faup(max_warped=60), ref.training_faup()
    assert np.array_equal(np.random.get_state()[1], state)
    assert (
        np.array_equal(own, ref.faup[0])
        and np.array_equal(seen[: len(own)], own)
        and len(seen) == len(own) + 60
    )
    assert np.percentile(seen[:, au12], 99) > np.percentile(own[:, au12], 99) + 0.05
    # the past inputs carry the same expression
    s = t - 3
    field = ExpressionField(ds.kp[0]["face"][s], amp, expr.sigma)
    lm = _crop(field.move_points(ds.kp[0]["face"][s]))
    centre = torch.from_numpy(face_centre(ds.kp[0]["body"][s], ds.offset, ds.fallback))
    assert torch.equal(item["x_pre"][-1, 3:], paste(lm[None], centre[None], (S, S))[0])


def test_body_jitter_moves_only_the_body_input(clip_copy):
    """model.body_jitter: one offset per body joint (the head's excepted) and per hand for the whole window, on
    the UBKP channels only; the face channels, frames, landmark pair and paste centres stay."""
    from reenactor.methods.upper_body.dataset import HEAD_JOINTS

    ds = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0), body_jitter=2.0)).build_dataset(
        [clip_copy]
    )
    ref = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0))).build_dataset([clip_copy])
    i = 30
    np.random.seed(5)
    item = _item(ds, i)
    np.random.seed(5)
    jit = ds._draw_jitter()
    plain = _item(ref, i)
    assert np.abs(jit["body"][list(HEAD_JOINTS)]).max() == 0 and np.abs(jit["body"]).max() > 0.5
    for k in ("image", "lm", "faup", "centre"):
        assert torch.equal(item[k], plain[k])
    assert torch.equal(item["x"][:, 3:], plain["x"][:, 3:]) and not torch.equal(
        item["x"][:, :3], plain["x"][:, :3]
    )
    _, t = ds.index[i]
    for j, s in enumerate(range(t - 2, t + 1)):
        kp = {n: v[s].copy() for n, v in ds.kp[0].items()}
        kp["body"][:, :2] += jit["body"]
        for h in ("hand_left", "hand_right"):
            kp[h][:, :2] += jit[h]
        assert torch.equal(item["x"][j, :3], _ubkp(kp))


def test_pose_augmentation_moves_the_whole_window_not_the_landmark_pair(clip_copy):
    """model.augment (reenactor.data.augment): one transform per window moves the UBKP-FL inputs of frames
    t-2L .. t and the frames t-L .. t (the person over the clip's background plate); the landmark generator's
    pair (FAUP image -> the real landmark crop) stays as extracted."""
    import cv2

    from reenactor.data.augment import AugmentConfig, affine_keypoints
    from reenactor.methods.upper_body.images import NOSE

    aug = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=1.0, shift=0.12, scale=0.1, rotate=12)))
    off = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0)))
    ds, ref = aug.build_dataset([clip_copy]), off.build_dataset([clip_copy])
    assert ds.mover.plates[0] is not None and ref.mover.plates == [None]
    masks, frames = clip_copy.load("mask"), clip_copy.frames()
    i = 20
    np.random.seed(3)
    item = _item(ds, i)
    np.random.seed(3)
    m = ds.mover.draw(0)  # the same draw
    assert m is not None and not np.allclose(m, [[1, 0, 0], [0, 1, 0]])
    plain = _item(ref, i)
    _, t = ds.index[i]
    for k in ("lm", "faup"):
        assert torch.equal(item[k], plain[k])
    assert not torch.equal(item["x"], plain["x"]) and not torch.equal(item["image"], plain["image"])
    for j, s in enumerate(range(t - 2, t + 1)):
        kp = {n: affine_keypoints(v[s], m) for n, v in ds.kp[0].items()}
        # the body channels are the stick figure of the moved keypoints; the face square follows the moved nose
        assert torch.equal(item["x"][j, :3], _ubkp(kp))
        assert np.allclose(item["centre"][j].numpy(), kp["body"][NOSE, :2] + ds.offset, atol=1e-4)
        # the frame: the person moved as the keypoints, the rest the still plate
        img = np.round((item["image"][j].numpy().transpose(1, 2, 0) + 1) * 127.5).astype(np.int16)
        moved = cv2.warpAffine(
            cv2.resize(frames[s], (S, S), interpolation=cv2.INTER_AREA),
            m,
            (S, S),
            borderMode=cv2.BORDER_REPLICATE,
        ).astype(np.int16)
        alpha = cv2.warpAffine(
            cv2.resize(masks[s], (S, S), interpolation=cv2.INTER_AREA), m, (S, S), borderValue=0
        )
        assert (alpha == 255).sum() > 20 and (alpha == 0).sum() > 20
        assert np.abs(img[alpha == 255] - moved[alpha == 255]).max() <= 1
        assert np.abs(img[alpha == 0] - ds.mover.plates[0][alpha == 0].astype(np.int16)).max() <= 1
    for j, s in enumerate(range(t - 4, t - 2)):  # the past inputs moved by the same transform
        kp = {n: affine_keypoints(v[s], m) for n, v in ds.kp[0].items()}
        assert torch.equal(item["x_pre"][j, :3], _ubkp(kp))


def test_plate_all_puts_the_unmoved_windows_over_the_plate(clip_copy):
    """augment.plate_all: a window left in place keeps its inputs and its person, and its frames' background is
    the clip's still plate (shared reenactor.data.augment, as cloning's)."""
    import cv2

    from reenactor.data.augment import AugmentConfig

    ds = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0, plate_all=True))).build_dataset([clip_copy])
    ref = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0))).build_dataset([clip_copy])
    plate = ds.mover.plates[0]
    assert plate is not None
    masks, frames = clip_copy.load("mask"), clip_copy.frames()
    i = 20
    item, plain = _item(ds, i), _item(ref, i)
    _, t = ds.index[i]
    assert torch.equal(item["x"], plain["x"]) and torch.equal(item["lm"], plain["lm"])
    for j, s in enumerate(range(t - 2, t + 1)):
        img = np.round((item["image"][j].numpy().transpose(1, 2, 0) + 1) * 127.5).astype(np.int16)
        frame = cv2.resize(frames[s], (S, S), interpolation=cv2.INTER_AREA).astype(np.int16)
        alpha = cv2.resize(masks[s], (S, S), interpolation=cv2.INTER_AREA)
        person, scene = alpha == 255, alpha == 0
        assert person.sum() > 20 and scene.sum() > 20
        assert np.abs(img[person] - frame[person]).max() <= 1
        assert np.abs(img[scene] - plate[scene].astype(np.int16)).max() <= 1
        assert (
            np.abs(frame[scene] - plate[scene].astype(np.int16)).max() > 1
        )  # the frame's own background differs


def _host_crop(face: np.ndarray, crop: int) -> np.ndarray:
    """The landmark crop as the dataset drew it on the host before the device path (OpenCV): (3, c, c) uint8."""
    from reenactor.pose.render import draw_pose

    pts = face[27:48]
    ok = pts[:, 2] > 0
    if ok.sum() < 4:
        return np.zeros((3, crop, crop), np.uint8)
    f = face.copy()
    f[:, :2] = f[:, :2] - pts[ok, :2].mean(0) + crop / 2.0
    return draw_pose((crop, crop), {"face": f}, body=False, hands=False).transpose(2, 0, 1)


def _host_ubkp(pose: dict[str, np.ndarray], size: tuple[int, int], hands: bool) -> np.ndarray:
    """The UBKP image as the dataset drew it on the host before the device path (OpenCV): (3, H, W) uint8."""
    from reenactor.pose.render import draw_pose
    from reenactor.pose.skeleton import UPPER_BODY_JOINTS

    body = np.array(pose["body"], np.float32, copy=True)
    keep = np.zeros(len(body), bool)
    keep[list(UPPER_BODY_JOINTS)] = True
    body[~keep, 2] = 0.0
    kp = {"body": body} | ({k: pose[k] for k in ("hand_left", "hand_right") if k in pose} if hands else {})
    return draw_pose(size, kp, face=False, hands=hands).transpose(2, 0, 1)


def _host_paste(crop: np.ndarray, centre: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (3, c, c) uint8 crop pasted onto a black (3, H, W) canvas as the host code did it."""
    c, (h, w) = crop.shape[-1], size
    x0, y0 = (int(round(float(v) - c / 2.0)) for v in centre)
    canvas = np.zeros((3, h, w), np.uint8)
    sx, sy, dx0, dy0, dx1, dy1 = (
        max(0, -x0),
        max(0, -y0),
        max(0, x0),
        max(0, y0),
        min(w, x0 + c),
        min(h, y0 + c),
    )
    if dx1 > dx0 and dy1 > dy0:
        canvas[:, dy0:dy1, dx0:dx1] = crop[:, sy : sy + dy1 - dy0, sx : sx + dx1 - dx0]
    return canvas


def _host_item(ds, i: int, seed: int) -> dict[str, np.ndarray]:
    """Item ``i`` (drawn after ``np.random.seed(seed)``) as UpperBodyDataset drew it before the device path: the
    window's augmentation moves the keypoints, then every frame's UBKP-FL input and landmark crop are drawn on the
    host by OpenCV (:func:`reenactor.pose.render.draw_pose`), in [-1, 1]."""
    from reenactor.face.expression_warp import ExpressionField, draw_expression
    from reenactor.nn.convert import to_unit

    unit = lambda a: a.astype(np.float32) / 127.5 - 1.0  # noqa: E731
    np.random.seed(seed)
    ci, t = ds.index[i]
    L, face = ds.L, ds.kp[ci]["face"]
    ts, pre_ts = range(t - L, t + 1), range(t - 2 * L, t - L)
    m, amp, jitter = ds.mover.draw(ci), draw_expression(ds.cfg.expression), ds._draw_jitter()
    sigma = ds.cfg.expression.sigma
    fields = (
        {s: ExpressionField(face[s], amp, sigma) for s in (*pre_ts, *ts) if s >= 0} if amp is not None else {}
    )

    def inputs(s: int) -> tuple[np.ndarray, np.ndarray]:
        if s < 0:
            return np.zeros((6, *ds.size), np.uint8), np.zeros(2, np.float32)
        kp = ds._keypoints(ci, s, m, fields.get(s), jitter)
        centre = face_centre(kp["body"], ds.offset, ds.fallback)
        fl = _host_paste(_host_crop(kp["face"], ds.crop), centre, ds.size)
        return np.concatenate([_host_ubkp(kp, ds.size, ds.cfg.hands), fl]), centre

    x, centre = zip(*[inputs(s) for s in (*pre_ts, *ts)])
    frames = [ds._image(ci, s) for s in ts]
    if fields:
        frames = [fields[s].warp_image(f) for s, f in zip(ts, frames)]
    if m is not None:
        frames = ds.mover.move(ci, frames, ts, m)
    valid = np.array([s >= 0 for s in pre_ts], np.float32)[:, None, None, None]
    lm_faces = [fields[s].move_points(face[s]) if fields else face[s] for s in ts]
    return {
        "x": unit(np.stack(x[L:])),
        "x_pre": unit(np.stack(x[:L])) * valid,
        "lm": unit(np.stack([_host_crop(f, ds.crop) for f in lm_faces])),
        "centre": np.stack(centre[L:]).astype(np.float32),
        "image": np.stack([to_unit(f) for f in frames]),
    }


def _distance_to_limbs_leaving(body: np.ndarray, px: np.ndarray, size: int) -> np.ndarray:
    """Distances of pixels ``px`` (n, 2) (x, y) to the nearest UBKP limb of ``body`` (25, 3) with an end outside
    the ``size`` x ``size`` image (inf without one)."""
    from reenactor.pose.skeleton import BODY_LIMBS, UPPER_BODY_JOINTS

    d = np.full(len(px), np.inf)
    for a, b in BODY_LIMBS:
        p, q = np.round(body[a, :2]), np.round(body[b, :2])
        ends = np.stack([p, q])
        if (
            {a, b} <= set(UPPER_BODY_JOINTS)
            and min(body[a, 2], body[b, 2]) > 0.05
            and (ends % size != ends).any()
        ):
            t = np.clip((px - p) @ (q - p) / max((q - p) @ (q - p), 1e-9), 0, 1)
            d = np.minimum(d, np.linalg.norm(px - p - t[:, None] * (q - p), axis=1))
    return d


@pytest.mark.parametrize("size", [S, 128])
@pytest.mark.parametrize("moved", [False, True])
def test_device_batch_equals_the_host_drawn_items(clip_copy, size, moved):
    """The compact items through prepare_window_batch give the inputs the host drew before (OpenCV, per frame):
    frames, landmark crops and pasted crops (1-pixel lines at crop size) exactly, UBKP images within the renderer's
    tolerance (tests/test_render_torch.py: differences only on thick strokes that leave the image; exact at 32 px,
    where every line is 1 pixel wide); with augmentation (pose transform, expression warp, body jitter) and
    without. Over 59 windows spread over carphone, at 128 / 256 px: at most 0.37 % / 0.16 % of an image's pixels differ
    (8.1 % / 3.9 % of its drawn ones; 2.1 % / 1.2 % of all drawn), each within 2.3 / 3.4 px of such a limb."""
    from reenactor.face.expression_warp import ExpressionWarpConfig
    from reenactor.methods.upper_body.dataset import UpperBodyDataset, prepare_window_batch
    from reenactor.pose.render import _widths
    from test_render_torch import MAX_IMAGE_SHARE

    aug = dict(augment=AugmentConfig(prob=float(moved)), body_jitter=2.0 * moved)
    aug["expression"] = ExpressionWarpConfig(prob=float(moved))
    cfg = tiny_cfg(**aug) if size == S else UpperBodyConfig(size=size, **aug)
    ds = UpperBodyDataset(cfg, [clip_copy])
    idx = [0, 1, 33, 70]  # the first two windows' past inputs begin before the clip
    items = []
    for i in idx:
        np.random.seed(i)
        items.append(ds[i])
    b = prepare_window_batch(torch.utils.data.default_collate(items), cfg)
    width = _widths((size, size), None)[0] + 1  # a body stroke's width and a pixel
    assert {k: (tuple(v.shape), v.dtype) for k, v in b.items() if k != "faup"} == {
        "x": ((4, 3, 6, size, size), torch.float32), "x_pre": ((4, 2, 6, size, size), torch.float32),
        "lm": ((4, 3, 3, ds.crop, ds.crop), torch.float32), "centre": ((4, 3, 2), torch.float32),
        "image": ((4, 3, 3, size, size), torch.float32),
    }  # fmt: skip
    for j, i in enumerate(idx):
        want = _host_item(ds, i, i)
        for k in ("lm", "centre", "image"):
            assert np.array_equal(b[k][j].numpy(), want[k]), k
        got = torch.cat([b["x_pre"][j], b["x"][j]]).numpy()
        ref = np.concatenate([want["x_pre"], want["x"]])
        assert np.array_equal(got[:, 3:], ref[:, 3:])  # the pasted landmark crops
        differ = (got[:, :3] != ref[:, :3]).any(1)  # the UBKP images
        assert differ.mean((1, 2)).max() <= MAX_IMAGE_SHARE
        assert (size == S) <= (differ.sum() == 0)
        for f, body in enumerate(items[j]["pose_body"].numpy()):  # only on limbs that leave the image
            ys, xs = np.nonzero(differ[f])
            assert _distance_to_limbs_leaving(body, np.stack([xs, ys], 1), size).max(initial=0) <= width
    assert not b["x_pre"][0].any() and b["x_pre"][2].any()  # zeros before the clip start


def test_synthesizer_draws_its_input_as_training_does(clip_copy):
    """Transfer's synthesizer builds the UBKP-FL input of a pose with the training path's renderer: for a training
    frame's pose and landmark crop, its input is the prepared batch's, exactly."""
    torch.manual_seed(0)
    m = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0)))
    ds = m.build_dataset([clip_copy])
    m.fit_data(ds)
    syn = UpperBodyMethod.synthesizer(m.cfg, *m.inference_state())
    b = _batch(ds, (5, 40))
    for j, i in enumerate((5, 40)):
        ci, t = ds.index[i]
        for k, s in enumerate(range(t - 2, t + 1)):
            syn.render({n: v[s] for n, v in ds.kp[ci].items()}, b["lm"][j, k])
            assert torch.equal(syn._last_x[0], b["x"][j, k])


def test_temporal_generation_uses_past_inputs_and_outputs():
    torch.manual_seed(0)
    from reenactor.nn import GlobalGenerator

    L = 2
    G = GlobalGenerator(frame_input_nc(L), 3, ngf=4, n_downsampling=2, n_blocks=1)
    x = torch.randn(1, L + 1, 6, S, S)
    pre = torch.randn(1, L, 6, S, S)
    out = generate_window(G, x, pre)
    assert out.shape == (1, L + 1, 3, S, S)
    # the first frame depends on the past inputs (x_pre) ...
    out2 = generate_window(G, x, torch.zeros_like(pre))
    assert not torch.allclose(out[:, 0], out2[:, 0])
    # ... and the last frame on the previous generated frames: x_pre (the inputs before the window) is not among
    # the last frame's own inputs, so its gradient reaches the last frame only through the fed-back outputs
    pg = pre.clone().requires_grad_(True)
    generate_window(G, x, pg)[:, -1].sum().backward()
    assert pg.grad.abs().sum() > 0
    pg.grad = None
    generate_window(G, x, pg, detach_past=True)[:, -1].sum().backward()
    assert pg.grad is None or pg.grad.abs().sum() == 0


def test_paste_is_clipped_and_differentiable():
    crop = torch.zeros(3, 3, 8, 8, requires_grad=True)
    centre = torch.tensor([[1.0, 30.0], [16.0, 16.0], [-20.0, 40.0]])  # the last one lies outside
    canvas = paste(crop, centre, (32, 32))
    assert canvas.shape == (3, 3, 32, 32)
    assert (canvas[0] == 0).sum() == 3 * 5 * 6  # columns -3..4 -> 0..4, rows 26..33 -> 26..31
    assert (canvas[1, :, 12:20, 12:20] == 0).all() and (canvas[1] == 0).sum() == 3 * 64
    assert (canvas[2] == -1).all()
    canvas.sum().backward()
    assert crop.grad[0].sum() == 3 * 5 * 6 and crop.grad[1].sum() == 3 * 64 and crop.grad[2].sum() == 0
    # the corner is round(centre - c / 2), halves to even as Python's round
    dot = torch.zeros(2, 1, 2, 2)
    got = paste(dot, torch.tensor([[3.5, 3.5], [4.5, 4.5]]), (8, 8))
    assert (got[0, 0, 2:4, 2:4] == 0).all() and (got[1, 0, 4:6, 4:6] == 0).all()


def test_face_square_loss_weights_the_pasted_landmark_square(dataset):
    """frame.lambda_face: L1 inside the square where the landmark crop is pasted (the face), mean over the square."""
    from reenactor.methods.upper_body.method import face_square_mask

    m = face_square_mask(torch.tensor([[10.0, 20.0]]), 8, (32, 32))
    assert m.shape == (1, 1, 32, 32) and m.sum() == 64
    assert m[0, 0, 20, 10] == 1 and m[0, 0, 20, 15] == 0 and m[0, 0, 25, 10] == 0
    item = _item(dataset, 5)
    assert item["centre"].shape == (3, 2)
    # the square sits where the FL channels drew the landmarks
    mask = face_square_mask(item["centre"], C, (S, S))
    drawn = (item["x"][:, 3:] > -1).any(1, keepdim=True).float()
    assert (drawn * (1 - mask)).sum() == 0 and drawn.sum() > 0
    torch.manual_seed(0)
    cfg = tiny_cfg()
    cfg.frame.lambda_l1, cfg.frame.lambda_face = 0.0, 5.0
    meth = UpperBodyMethod(cfg)
    meth.fit_data(dataset)
    out = meth.generator_step(_batch(dataset), 10**6)
    assert "face" in out.losses and out.losses["face"] > 0 and "l1" not in out.losses


def test_face_discriminator_sees_the_face_square_with_its_landmark_lines(dataset, clip_copy):
    """frame.face_gan: crop_squares inverts paste (the lines and the face line up); the face D adds its losses
    and every one of its parameters gets a gradient; off (0) there is no face D at all."""
    from reenactor.methods.upper_body.method import crop_squares

    crop = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    centres = torch.tensor([[16.0, 16.0], [1.0, 30.0]])  # the second one hangs over the corner
    canvas = paste(crop, centres, (32, 32))
    back = crop_squares(canvas, centres, 8)
    assert torch.equal(back[0], crop[0])
    # rows 26..33 -> 26..31, columns -3..4 -> 0..4 lie in the frame; the rest reads -1
    assert torch.equal(back[1, :, :6, 3:], crop[1, :, :6, 3:])
    assert (back[1, :, 6:] == -1).all() and (back[1, :, :, :3] == -1).all()
    still = UpperBodyMethod(tiny_cfg(augment=AugmentConfig(prob=0.0))).build_dataset([clip_copy])
    item = _item(still, 5)
    cond = crop_squares(item["x"][:, 3:], item["centre"], C)
    assert torch.equal(cond, item["lm"])  # the pasted lines, cut out again, are the landmark image
    assert UpperBodyMethod(tiny_cfg()).D_face is None
    torch.manual_seed(0)
    cfg = tiny_cfg()
    cfg.frame.face_gan = 1.0
    meth = UpperBodyMethod(cfg)
    meth.fit_data(dataset)
    batch = _batch(dataset)
    out = meth.generator_step(batch, 10**6)
    assert {"face_gan", "face_fm"} <= set(out.losses) and out.losses["face_fm"] > 0
    d = meth.discriminator_step(batch, 10**6, out.cache)
    assert "d_face" in d
    d["d_face"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in meth.D_face.parameters())
    assert {id(p) for p in meth.D_face.parameters()} <= {id(p) for p in meth.discriminator_parameters()}


def test_landmark_l1_foreground_weight_makes_an_empty_image_expensive():
    """landmark.fg_weight: plain L1 when 0; else the drawn pixels of the real image count 1 + fg_weight times."""
    from reenactor.methods.upper_body.method import landmark_l1

    real = torch.full((1, 3, 10, 10), -1.0)
    real[0, :, 2, 3:8] = 1.0  # 5 of 100 pixels drawn
    empty = torch.full_like(real, -1.0)
    assert torch.isclose(landmark_l1(empty, real, 0.0), torch.tensor(2 * 5 / 100))
    assert torch.isclose(
        landmark_l1(empty, real, 19.0), torch.tensor(2 * 5 * 20 / (100 + 19 * 5))
    )  # 10x plain
    assert landmark_l1(real, real, 19.0) == 0
    noise = real.clone()
    noise[0, :, 7, 0] = 1.0  # one stray pixel on the background costs the same as plain L1's share of it
    assert torch.isclose(landmark_l1(noise, real, 19.0), torch.tensor(2 / (100 + 19 * 5)))


def test_gradients_reach_every_parameter(method, dataset):
    batch = _batch(dataset)
    method.zero_grad()
    out = method.generator_step(batch, 0)
    assert set(out.losses) == {"lm_gan", "lm_l1", "ts_gan", "fm", "vgg", "l1"}  # l1: the optional extra
    sum(out.losses.values()).backward()
    for name, p in list(method.G.named_parameters()) + list(method.G_lm.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    method.zero_grad()
    d = method.discriminator_step(batch, 0, out.cache)
    assert set(d) == {"d_lm", "d_ts"}
    sum(d.values()).backward()
    for name, p in list(method.D_lm.named_parameters()) + list(method.D_st.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    method.zero_grad()


def test_a_training_step_never_waits_for_the_device(dataset, method, monkeypatch):
    """prepare_window_batch + both steps + backward read no device value back and make no data-dependent shape."""
    from reenactor.methods.upper_body.dataset import prepare_window_batch

    items = torch.utils.data.default_collate([dataset[i] for i in (0, 7)])
    assert step_reads(method, items, monkeypatch, lambda x: prepare_window_batch(x, dataset.cfg)) == []
    method.zero_grad()


def test_landmark_phase_trains_the_landmark_generator_alone(dataset):
    import dataclasses

    torch.manual_seed(2)
    cfg = tiny_cfg()
    cfg = dataclasses.replace(cfg, landmark=dataclasses.replace(cfg.landmark, pretrain_steps=3))
    m = UpperBodyMethod(cfg)
    batch = _batch(dataset)
    assert m.landmark_phase(2) and not m.landmark_phase(3)
    m.zero_grad()
    out = m.generator_step(batch, 2)
    assert set(out.losses) == {"lm_gan", "lm_l1"}
    sum(out.losses.values()).backward()
    assert all(p.grad is None for p in m.G.parameters())  # the frame generator is not touched
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.G_lm.parameters())
    d = m.discriminator_step(batch, 2, out.cache)
    assert set(d) == {"d_lm"}
    sum(d.values()).backward()
    assert all(p.grad is None for p in m.D_st.parameters())
    assert all(p.grad is not None for p in m.D_lm.parameters())
    lm_only = {k: batch[k] for k in ("faup", "lm")}  # the landmark phase needs no frame inputs
    out = m.generator_step(lm_only, 2)
    assert set(m.discriminator_step(lm_only, 2, out.cache)) == {"d_lm"}
    assert set(m.generator_step(batch, 3).losses) >= {"lm_l1", "ts_gan", "vgg"}  # then both, jointly


def test_losses_fall_on_a_fixed_batch(dataset):
    torch.manual_seed(1)
    m = UpperBodyMethod(tiny_cfg())
    batch = _batch(dataset)
    opt_g = torch.optim.Adam(m.generator_parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(m.discriminator_parameters(), lr=2e-3, betas=(0.5, 0.999))
    first = last = None
    for step in range(18):
        out = m.generator_step(batch, step)
        opt_g.zero_grad()
        sum(out.losses.values()).backward()
        opt_g.step()
        opt_d.zero_grad()
        sum(m.discriminator_step(batch, step, out.cache).values()).backward()
        opt_d.step()
        rec = {k: float(out.losses[k].detach()) for k in ("lm_l1", "vgg")}
        first = first or rec
        last = rec
    assert last["lm_l1"] < 0.7 * first["lm_l1"]
    assert last["vgg"] < 0.8 * first["vgg"]


def test_face_refiner_corrects_only_the_face_square(clip_copy):
    """frame.face_refine: put_squares inverts crop_squares (also at the border); the refiner starts as no
    correction, is trained with G (gradients reach it), changes a frame only inside the landmark crop's square,
    and travels with the exported model into the synthesizer."""
    from reenactor.methods.upper_body.method import crop_squares, put_squares, refine_faces

    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 3, S, S, generator=g) * 2 - 1
    centre = torch.tensor([[S / 2, S / 2], [2.0, 3.0], [S - 1.0, S + 4.0]])
    assert torch.equal(put_squares(img, centre, crop_squares(img, centre, C)), img)
    five = put_squares(img, centre, torch.full((3, 3, C, C), 5.0))
    inside = torch.zeros(3, 1, S, S, dtype=torch.bool)
    for i in range(3):
        x0, y0 = int(round(float(centre[i, 0]) - C / 2)), int(round(float(centre[i, 1]) - C / 2))
        inside[i, :, max(y0, 0) : y0 + C, max(x0, 0) : x0 + C] = True
    assert (five == 5).eq(inside.expand_as(five)).all()

    torch.manual_seed(0)
    cfg = tiny_cfg()
    cfg.frame.face_refine = 4
    method = UpperBodyMethod(cfg)
    ds = method.build_dataset([clip_copy])
    method.fit_data(ds)
    batch = _batch(ds)
    x, c = batch["x"][:, -1], batch["centre"][:, -1]
    y = torch.rand(2, 3, S, S, generator=g) * 2 - 1
    # zero last layer: no correction yet (identity resampling, exact up to float rounding)
    assert torch.allclose(refine_faces(method.G_face, y, x, c, C), y, atol=1e-5)
    assert torch.equal(batch["image_src"], batch["image"])  # no expression warps in this config
    out = method.generator_step(batch, step=10**6)
    assert out.losses["face_warp"] > 0
    sum(out.losses.values()).backward()
    last = [m for m in method.G_face.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0
    assert any(p is last.weight for p in method.generator_parameters())
    with torch.no_grad():
        last.weight.normal_(0, 0.5)
        fixed = refine_faces(method.G_face, y, x, c, C)
    changed = (fixed - y).abs().gt(1e-5).any(1, keepdim=True)
    square = put_squares(torch.zeros(2, 1, S, S), c, torch.ones(2, 1, C, C)).bool()
    assert changed.any() and not (changed & ~square).any()
    tensors, meta = method.inference_state()
    assert any(k.startswith("G_face.") for k in tensors)
    syn = UpperBodyMethod.synthesizer(method.cfg, tensors, meta)
    assert torch.equal(
        syn.G_face.state_dict()[[k for k in syn.G_face.state_dict()][-2]],
        method.G_face.state_dict()[[k for k in method.G_face.state_dict()][-2]],
    )
    kp = ds.target_keypoints()
    frame = syn.step({k: v[0] for k, v in kp.items()}, {"faup": ds.faup[0][0]})
    syn.G_face = None
    syn.reset()
    plain = syn.step({k: v[0] for k, v in kp.items()}, {"faup": ds.faup[0][0]})
    assert not np.array_equal(frame, plain)


def test_export_synthesizer_streams_with_temporal_state(method, dataset, carphone_clip):
    tensors, meta = method.inference_state()
    assert {"face_offset", "crop", "past"} <= set(meta) and "train_pose.body" in tensors
    syn = UpperBodyMethod.synthesizer(method.cfg, tensors, meta)
    kp = dataset.target_keypoints()
    raw = np.asarray(carphone_clip.load("face_raw", mmap=False))
    frames = []
    for t in range(4):
        pose = {k: v[t] for k, v in kp.items()}
        frames.append(syn.step(pose, {"face_raw": raw[t]}))
    assert frames[0].shape == (S, S, 3) and frames[0].dtype == np.uint8
    # temporal state: the same pose gives a different frame once past frames exist; reset restores it
    syn.reset()
    again = syn.step({k: v[0] for k, v in kp.items()}, {"face_raw": raw[0]})
    np.testing.assert_array_equal(again, frames[0])
    # step = render(pose, landmarks(clamped FAUP)); render takes any landmark image (experiments/upper_body_follow.py)
    syn.reset()
    pose0 = {k: v[0] for k, v in kp.items()}
    split = syn.render(pose0, syn.landmarks(syn.driving_faup({"face_raw": raw[0]})))
    np.testing.assert_array_equal(syn.express(split, syn.last_faup), frames[0])  # then the expression warp
    syn.reset()
    blank = syn.render(pose0, torch.full((3, C, C), -1.0))
    assert not np.array_equal(blank, frames[0])
    # the driver's FAUP drives the landmark image: a different expression, a different landmark image
    seq = faup_sequence(raw)
    syn.reset()
    syn.step({k: v[0] for k, v in kp.items()}, {"faup": seq["faup"][0]})
    lm_a = syn.last_landmarks.copy()
    syn.reset()
    strong = seq["faup"][0].copy()
    strong[:17] = 3.0
    syn.step({k: v[0] for k, v in kp.items()}, {"faup": strong})
    assert np.abs(lm_a.astype(int) - syn.last_landmarks.astype(int)).sum() > 0
    # the side-by-side panel shows the generated landmarks (what G was given), pasted where the body puts the face
    view = syn.input_view()
    assert view.shape == (S, S, 3) and view.dtype == np.uint8
    x0, y0 = (np.round(face_centre(kp["body"][0], syn.offset, syn.fallback) - C / 2)).astype(int)
    lm_b = syn.last_landmarks
    drawn = lm_b.max(-1) > 0
    assert drawn.any() and 0 <= x0 and 0 <= y0 and x0 + C <= S and y0 + C <= S
    panel = view[y0 : y0 + C, x0 : x0 + C].astype(int)
    assert np.abs(panel[drawn] - lm_b[drawn].astype(int)).max() <= 1
    syn.reset()
    assert syn.input_view() is None
    # beyond the target's training range the driver's FAUP is clamped to it (clamp_faup)
    assert syn.faup_range is not None and syn.faup_range.shape == (2, FAUP_DIM)
    got = syn.driving_faup({"faup": strong})
    np.testing.assert_allclose(got[:17], syn.faup_range[1, :17])


def test_expression_basis_and_the_transfer_warp(method, dataset):
    """fit_data stores the target's expression basis (each warp mode moves its own action units); at transfer a
    driver's smile the networks do not draw warps the output face around the mouth and nothing else, by the
    smile's full amplitude; with warp_expression off a frame is the networks' own."""
    from reenactor.face.faup import AU_NAMES, N_AU

    eb = dataset.expression_basis()
    au = AU_NAMES.index
    assert (
        eb["basis"][au("AU12"), 0] > 0.1
        and eb["basis"][au("AU26"), 2] > 0.1
        and eb["basis"][au("AU2"), 3] > 0.05
    )
    assert eb["basis"][au("AU12"), 0] > 3 * abs(eb["basis"][au("AU12"), 2])  # the jaw drop is not a smile
    assert eb["shape"][[36, 45, 48, 54], 2].all() and eb["ref"].shape == (N_AU,)
    tensors, meta = method.inference_state()
    syn = UpperBodyMethod.synthesizer(method.cfg, tensors, meta)
    assert syn.warp_expression and syn.expression_basis is not None
    pose0 = {k: v[0] for k, v in dataset.target_keypoints().items()}
    smile = np.zeros(FAUP_DIM, np.float32)
    smile[:N_AU] = syn.expression_basis["ref"] + syn.expression_basis["basis"][:, 0]  # the full smile column
    syn.warp_expression = False
    plain = syn.step(pose0, {"faup": smile})
    syn.reset()
    np.testing.assert_array_equal(plain, syn.render(pose0, syn.landmarks(syn.driving_faup({"faup": smile}))))
    syn.warp_expression = True
    syn.reset()
    syn.step(pose0, {"faup": smile})
    amp = syn.last_expression
    assert amp["smile"] == pytest.approx(method.cfg.expression.smile, abs=0.02) and abs(amp["jaw"]) < 0.03
    # what moves: a textured frame under the warp changes only near the mouth
    noise = np.random.RandomState(0).randint(0, 256, (S, S, 3)).astype(np.uint8)
    moved = syn.express(noise, smile)
    changed = np.argwhere(np.abs(moved.astype(int) - noise.astype(int)).sum(-1) > 0)[:, ::-1]
    assert len(changed)
    face = syn.expression_basis["shape"][:, :2] + syn._last_centre
    iod = np.linalg.norm(face[42:48].mean(0) - face[36:42].mean(0))
    d_mouth = np.linalg.norm(changed[:, None, :] - face[None, 48:68], axis=-1).min(1)
    assert d_mouth.max() <= (3 * method.cfg.expression.sigma + method.cfg.expression.smile) * iod + 2.0
    np.testing.assert_array_equal(
        syn.express(noise, np.concatenate([syn.expression_basis["ref"], np.zeros(3)])), noise
    )  # the target's typical face: no warp
    # a model without a basis (exported before it existed) or with modes this version lacks: no warp, a note
    for eb in (None, dict(meta["expression_basis"], columns=[["grin", 1.0]] * 5)):
        old = UpperBodyMethod.synthesizer(method.cfg, tensors, dict(meta, expression_basis=eb))
        old._last_centre = syn._last_centre
        np.testing.assert_array_equal(old.express(noise, smile), noise)


def test_train_save_load_transfer_tiny_cpu(clip_copy, tmp_path):
    """`reenactor train --method upper_body` (library entry) -> model.safetensors -> load -> transfer."""
    from reenactor.driving import ClipSource
    from reenactor.errors import CheckpointError
    from reenactor.io.video import probe
    from reenactor.modelfile import load_model, open_model
    from reenactor.train.run import run_training
    from reenactor.transfer import transfer

    path = run_training(tiny_run(clip_copy, steps=3, batch_size=2), run_dir=tmp_path / "run")
    assert path is not None and path.name == "model.safetensors"
    loaded = load_model(path, expect_method="upper_body")
    assert any(k.startswith("G_lm.") for k in loaded.tensors) and any(
        k.startswith("G.") for k in loaded.tensors
    )
    assert loaded.meta["crop"] == C and "face_offset" in loaded.meta
    with pytest.raises(CheckpointError):
        load_model(path, expect_method="cloning")
    syn = open_model(path).synthesizer
    assert syn.size == (S, S)
    # drive it with the clip's own poses (+ faces) through the one transfer pipeline
    frames: list[np.ndarray] = []
    out = tmp_path / "out.mp4"
    # the clip is 128 px, the tiny model 32 px: without normalization the poses lie off its frame (--force renders
    # anyway; this test is about the model file's round trip)
    res = transfer(
        path,
        ClipSource(clip_copy, max_frames=6),
        out,
        normalization="none",
        progress=False,
        force=True,
        save_normalizer=False,
        check_coverage=False,
        frame_sink=frames.append,
        batch_size=1,
    )
    assert res.n_frames == 6 and len(frames) == 6 and frames[0].shape == (S, S, 3)
    assert probe(out).n_frames == 6
    # the expression basis travels in the model file; expression_warp=False switches the warp off
    from reenactor.modelfile import open_model

    tm = open_model(path)
    assert tm.synthesizer.warp_expression and set(loaded.meta["expression_basis"]) == {
        "ref",
        "basis",
        "shape",
        "columns",
    }
    plain: list[np.ndarray] = []
    transfer(
        path,
        ClipSource(clip_copy, max_frames=6),
        tmp_path / "plain.mp4",
        normalization="none",
        progress=False,
        force=True,
        save_normalizer=False,
        check_coverage=False,
        frame_sink=plain.append,
        batch_size=1,
        method_options={"expression_warp": False},
    )
    assert len(plain) == 6
    assert not open_model(path, options={"expression_warp": False}).synthesizer.warp_expression


def test_self_reenactment_table_reports_upper_body_beside_cloning(tmp_path):
    from reenactor.evaluation.self_reenactment import SelfReenactmentOptions, markdown_table

    rows = [
        {"method": "cloning", "mse": 400.0, "ssim": 0.6, "psnr": 22.0},
        {"method": "upper_body", "mse": 300.0, "ssim": 0.7, "psnr": 23.5},
    ]
    table = markdown_table(rows, SelfReenactmentOptions(clip="carphone", out_dir=tmp_path), "carphone")
    assert "| upper_body | 300.0 | 0.7000 | 23.50 |" in table
    assert "upper_body MSE / cloning MSE = 0.750" in table


def test_expression_benchmark_cross_identity_runs_and_reports(clip_copy, tmp_path):
    """`reenactor benchmark expression` on a tiny model: transfer, driver / generated FAUP, reference row, files;
    a target that is not a clip folder is one clear error."""
    import json

    from reenactor.errors import InputError
    from reenactor.evaluation.expression import run_expression_benchmark
    from reenactor.modelfile import open_model
    from reenactor.train.run import run_training

    path = run_training(tiny_run(clip_copy, steps=1, batch_size=1), run_dir=tmp_path / "run")
    res = run_expression_benchmark(
        path, clip_copy.root, clip_copy.root, tmp_path / "expr", max_frames=6, progress=False
    )
    assert res["n_frames"] == 6 and res["driving_faces"] == 6
    assert "fixed face proportions" in res["driver_neutral"]  # 6 faces < MIN_NEUTRAL_FRAMES
    ref = [r for r in res["rows"] if r["compared"].startswith("target's typical")]
    assert ref and all(np.isfinite(r["au_mae"]) and np.isfinite(r["pose_mae_deg"]) for r in ref)
    assert len(res["top_units"]) == 6 and {p["angle"] for p in res["head_pose_deg"]} == {
        "yaw",
        "pitch",
        "roll",
    }
    saved = json.loads((tmp_path / "expr" / "results.json").read_text())
    assert saved["n_frames"] == 6
    assert "| generated | driver |" in (tmp_path / "expr" / "table.md").read_text()
    assert (tmp_path / "expr" / "side_by_side.mp4").stat().st_size > 0
    # --body target: the target's own poses, only the face driven; the driver's FAUP is still what is measured
    held = run_expression_benchmark(
        path, clip_copy.root, clip_copy.root, tmp_path / "held", max_frames=6, progress=False, body="target"
    )
    assert held["body"] == "target" and held["driving_faces"] == 6 and held["n_frames"] == 6
    assert "Body: the target's own training poses" in (tmp_path / "held" / "table.md").read_text()
    with pytest.raises(InputError, match="clip folder"):
        run_expression_benchmark(path, clip_copy.root, tmp_path / "nope", tmp_path / "expr2", progress=False)
    # a photo with --body target is held (default: one pass over the training poses), and stays one face
    from reenactor.samples import sample_path

    photo = run_expression_benchmark(
        path, sample_path("astronaut"), clip_copy.root, tmp_path / "photo", progress=False, body="target"
    )
    n_poses = len(open_model(path).train_poses["body"])
    assert photo["n_frames"] == min(n_poses, 120) > 1 and photo["driving_faces"] == photo["n_frames"]
    assert "only 1 distinct driving face" in photo["driver_neutral"]
    held = run_expression_benchmark(
        path,
        sample_path("astronaut"),
        clip_copy.root,
        tmp_path / "photo3",
        progress=False,
        body="target",
        hold=3,
    )
    assert held["n_frames"] == 3
    with pytest.raises(InputError, match="cannot be held for 0 frames"):
        run_expression_benchmark(
            path,
            sample_path("astronaut"),
            clip_copy.root,
            tmp_path / "photo0",
            progress=False,
            body="target",
            hold=0,
        )
    # two drivers: one folder each and the contrast table
    from reenactor.cli import main

    rc = main(
        [
            "benchmark",
            "expression",
            "--model",
            str(path),
            "--driving",
            str(clip_copy.root),
            str(clip_copy.root),
            "--target",
            str(clip_copy.root),
            "-o",
            str(tmp_path / "two"),
            "--max-frames",
            "3",
            "--no-progress",
        ]
    )
    assert rc == 0
    name = clip_copy.root.name
    assert (tmp_path / "two" / name / "table.md").exists() and (
        tmp_path / "two" / f"{name}_1" / "table.md"
    ).exists()
    two = json.loads((tmp_path / "two" / "contrast.json").read_text())
    assert (
        two["folders"] == [name, f"{name}_1"]
        and len(two["pairs"]) == 1
        and len(two["pairs"][0]["units"]) == 17
    )
    assert all(u["driven_diff"] == 0 for u in two["pairs"][0]["units"])  # the same driver twice
    assert f"## {name} minus {name}_1" in (tmp_path / "two" / "contrast.md").read_text()


def test_expression_contrast_compares_what_two_drivers_change():
    """contrast(): per unit, driver A minus B as driven beside the generated difference, r over the units."""
    from reenactor.evaluation.expression import contrast
    from reenactor.face.faup import AU_NAMES, N_AU

    base = np.zeros(FAUP_DIM)
    a_drv, b_drv = base.copy(), base.copy()
    a_drv[AU_NAMES.index("AU12")], a_drv[AU_NAMES.index("AU25")] = 1.0, 0.5  # A smiles with parted lips
    follows = {
        "as_driven": a_drv,
        "generated": 0.5 * a_drv + 0.2,
    }  # half as strong, plus the target's own bias
    ignores = {"as_driven": a_drv, "generated": base + 0.2}
    b = {"driving": "b.png", "mean_faup": {"as_driven": b_drv.tolist(), "generated": (b_drv + 0.2).tolist()}}
    pair = contrast({"driving": "a.png", "mean_faup": follows}, b)
    assert pair["r"] == pytest.approx(1.0) and pair["units"][0]["unit"] == "AU12"
    assert pair["units"][0]["driven_diff"] == 1.0 and pair["units"][0]["generated_diff"] == pytest.approx(0.5)
    assert len(pair["units"]) == N_AU
    assert np.isnan(contrast({"driving": "a.png", "mean_faup": ignores}, b)["r"])  # constant difference: no r
    noisy = {"as_driven": a_drv, "generated": base + 0.2 + 0.1 * np.sin(np.arange(FAUP_DIM))}
    assert abs(contrast({"driving": "a.png", "mean_faup": noisy}, b)["r"]) < 0.5


def test_refine_patch_moves_the_face_along_the_flow():
    """The refiner's first two channels are a flow in units of ``FLOW_RANGE`` x the half side: a constant +1 in x
    samples 2 px to the right at c = 16, so a stripe moves 2 px left; its last three channels add to that."""
    from reenactor.methods.upper_body.method import FLOW_RANGE, jitter_squares, refine_patch

    c = 16
    face = torch.full((1, 3, c, c), -1.0)
    face[..., 9] = 1.0
    lm = torch.zeros(1, 3, c, c)

    class Const(torch.nn.Module):
        def __init__(self, flow_x: float, residual: float):
            super().__init__()
            self.v = torch.tensor([flow_x, 0.0, residual, residual, residual]).view(1, 5, 1, 1)

        def forward(self, x):
            assert x.shape[1] == 6  # landmark crop + face
            return self.v.expand(x.shape[0], 5, *x.shape[2:])

    shift = FLOW_RANGE * (c / 2)  # pixels moved by a flow of 1
    assert shift == 2.0
    moved = refine_patch(Const(1.0, 0.0), lm, face)
    assert torch.allclose(moved[..., 7], torch.ones(1, 3, c), atol=1e-5)
    assert torch.allclose(moved[..., 9], -torch.ones(1, 3, c), atol=1e-5)
    assert torch.allclose(refine_patch(Const(0.0, 0.0), lm, face), face, atol=1e-5)
    assert torch.allclose(refine_patch(Const(0.0, 0.5), lm, face), (face + 0.5).clamp(-1, 1), atol=1e-5)
    # jitter_squares: one transform per item, the same for every square passed with it
    torch.manual_seed(0)
    a = torch.rand(4, 3, c, c) * 2 - 1
    j1, j2 = jitter_squares(a, a.clone())
    assert torch.equal(j1, j2) and not torch.allclose(j1, a, atol=1e-2)
