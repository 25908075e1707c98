"""psgan (Yang et al. 2018): heatmap encode/decode, the generator's shapes, eq. 3, gradients, a falling loss,
and train -> save -> load -> generate through the CLI on procedural actions from the real carphone poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenactor.cli import main
from reenactor.errors import ConfigError
from reenactor.methods.psgan import PSGANConfig, PSGANMethod
from reenactor.methods.psgan.method import masked_l1
from reenactor.methods.psgan.networks import PoseSequenceGenerator, decoder_strides
from reenactor.pose import heatmaps
from reenactor.pose.posefile import load_poses

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    size=16, n_down=3, frames=8, radius=1.5, ngf=4, hidden=16, ndf=4, n_layers=2, n_blocks=1, n_actions=6
)
TINY_SET = [x for k, v in TINY.items() for x in ("--set", f"model.{k}={v}")]
QUIET = [
    x for kv in ("tensorboard=false", "progress=false", "image_every=0") for x in ("--set", f"trainer.{kv}")
]


def _batch(cfg: PSGANConfig, b: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    body = np.zeros((b, cfg.frames, 25, 3), np.float32)
    base = rng.uniform(20, 108, (b, 1, 25, 2))
    drift = np.linspace(0, 1, cfg.frames)[None, :, None, None] * rng.uniform(-15, 15, (b, 1, 25, 2))
    body[..., :2], body[..., 2] = base + drift, 1.0
    maps = heatmaps.encode(body, (128, 128), cfg.size, cfg.radius)
    coco = torch.from_numpy(body[:, :, list(heatmaps.COCO18_FROM_BODY25)])
    return {
        "init": torch.from_numpy(maps[:, 0]),
        "label": torch.arange(b) % cfg.n_actions,
        "target": torch.from_numpy(maps),
        "centres": heatmaps.to_heatmap_xy_torch(coco, (128, 128), cfg.size).clamp(0, cfg.size - 1).float(),
    }


def test_heatmap_round_trip_within_one_pixel():
    rng = np.random.default_rng(1)
    body = np.zeros((50, 25, 3), np.float32)
    body[..., :2] = rng.uniform(8, 120, (50, 25, 2))  # 128-px frame, away from the border
    body[..., 2] = 1.0
    body[::7, 4, 2] = 0  # some missing wrists
    maps = heatmaps.encode(body, (128, 128), 64, 4.0)
    assert maps.shape == (50, 18, 64, 64) and set(np.unique(maps)) == {0.0, 1.0}
    back = heatmaps.decode(maps, (128, 128))
    seen = [j for j in heatmaps.COCO18_FROM_BODY25]
    ok = body[:, seen, 2] > 0
    err = np.linalg.norm(back[:, seen, :2] - body[:, seen, :2], axis=-1)[ok]
    assert err.max() <= 1.0, err.max()  # frame pixels (0.5 heatmap pixel)
    assert (back[::7, 4, 2] == 0).all() and (back[:, 19:, 2] == 0).all()
    np.testing.assert_allclose(back[:, 8, :2], back[:, [9, 12], :2].mean(1), atol=1e-4)  # MidHip


def test_decoded_sequences_are_smoothed_along_time():
    """A still joint whose generated disc wobbles (here: its centre moved +-0.4 heatmap px at random) decodes
    with less frame-to-frame motion after ``model.smooth`` (savgol), a joint moving smoothly keeps its path,
    and ``none`` is the per-frame decode."""
    from reenactor.methods.psgan.points import decode_sequence, from_maps

    rng = np.random.default_rng(0)
    T, frame = 32, (128, 128)
    body = np.zeros((T, 25, 3), np.float32)
    body[:, :, 2] = 1.0
    body[:, :, :2] = rng.uniform(30, 100, (1, 25, 2))
    body[:, :, :2] += rng.uniform(-1.6, 1.6, (T, 25, 2))  # still joints, wobbling (1 heatmap px = 4 frame px)
    body[:, 4, 0] = 64 + 30 * np.sin(np.linspace(0, 2 * np.pi, T))  # a wrist waving, 30 px either side
    maps = heatmaps.encode(body, frame, 32, 2.0)
    raw = decode_sequence(maps, "body", frame, 0.3, smooth="none")
    np.testing.assert_array_equal(raw, from_maps(maps, "body", frame, 0.3))
    smooth = decode_sequence(maps, "body", frame, 0.3, smooth="savgol")
    still = [j for j in heatmaps.COCO18_FROM_BODY25 if j != 4]

    def wobble(k):
        return np.linalg.norm(np.diff(k[:, still, :2], axis=0), axis=-1).mean()

    assert wobble(smooth) < 0.6 * wobble(raw), (wobble(smooth), wobble(raw))
    assert np.abs(smooth[:, 4, 0] - body[:, 4, 0]).max() < 3.0  # the wave's path is kept
    np.testing.assert_array_equal(smooth[..., 2], raw[..., 2])  # confidences untouched
    with pytest.raises(Exception, match="model.smooth"):
        from reenactor.methods.psgan.config import check_config

        check_config(PSGANConfig(smooth="gaussian"))


def test_decoder_strides_and_shapes():
    assert decoder_strides(32, 4) == [(2, 1, 1)] + [(2, 2, 2)] * 4  # T=32 from 4x4: first layer time only
    assert decoder_strides(16, 4) == [(2, 2, 2)] * 4
    assert decoder_strides(4, 4) == [(1, 2, 2)] * 2 + [(2, 2, 2)] * 2
    for rec in ("gru", "lstm", "none"):
        for head in ("maps", "disc"):
            cfg = PSGANConfig(**{**TINY, "recurrent": rec, "head": head})
            g = PoseSequenceGenerator(cfg)
            out = g(torch.zeros(2, 18, 16, 16), torch.eye(6)[:2])
            assert out.shape == (2, 8, 18, 16, 16)
            if head == "maps":  # the paper's per-pixel sigmoid maps
                assert 0 < out.min() and out.max() < 1
            else:  # one disc or none per map
                assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_disc_head_draws_the_real_disc_at_the_soft_argmax():
    """The disc head's forward maps are exactly the discs the data renderer draws at its centres; a centre
    moves by a fraction of a pixel with the logits (soft-argmax) and gets a gradient through the soft disc;
    a map whose logits are low everywhere is empty; logits are a displacement from the first pose."""
    from reenactor.methods.psgan.networks import disc_points, render_discs

    s, r = 16, 1.5

    def head(z, start, shown):
        return render_discs(*disc_points(z, start, shown), s, r)

    middle = torch.full((1, 3, 2), (s - 1) / 2)  # a first pose at the middle: displacement = position
    everywhere = torch.ones(1, 3, dtype=torch.bool)
    pts = torch.tensor([[[5.0, 9.0, 1.0], [11.3, 4.6, 1.0], [0.0, 0.0, 0.0]]])  # heatmap pixels, conf
    real = heatmaps.encode_points_torch(pts, (s, s), s, r)  # frame = heatmap: pixels map 1:1
    # (B, T, K, S, S) logits: high on the discs, low elsewhere
    z = (real[:, None] * 16 - 8).requires_grad_(True)
    maps, centres, q = head(z, middle, everywhere)
    torch.testing.assert_close(centres[0, 0, :2], torch.tensor([[5.0, 9.0], [11.0, 5.0]]), atol=0.35, rtol=0)
    assert q[0, 0, 0] > 0.99 and q[0, 0, 2] < 0.01
    drawn = heatmaps.encode_points_torch(
        torch.cat([centres.detach(), (q.detach() > 0.5).float()[..., None]], -1), (s, s), s, r
    )
    torch.testing.assert_close(maps.detach(), drawn)
    assert maps[0, 0, 2].abs().sum() == 0  # no point, no disc
    (maps * real[:, None].roll(1, -1)).sum().backward()  # reward the real discs shifted right by a pixel
    assert z.grad is not None and z.grad.abs().sum() > 0
    z2 = z.detach().clone()
    z2[0, 0, 0, 9, 6] += 0.5  # more weight on a pixel right of the first centre: it moves right, < 1 px
    c2 = head(z2, middle, everywhere)[1]
    assert 0 < (c2 - centres.detach())[0, 0, 0, 0] < 1
    # with another first pose, the same kind of logits are a displacement from it
    start = torch.tensor([[[2.0, 3.0], [0.0, 0.0], [0.0, 0.0]]])
    shown = torch.tensor([[True, False, False]])
    centred = torch.roll(z.detach(), (7 - 9, 7 - 5), (-2, -1))  # the first disc at (7, 7): 0.5 px off 7.5
    c3, q3 = head(centred, start, shown)[1:]
    torch.testing.assert_close(c3[0, 0, 0], torch.tensor([1.5, 2.5]), atol=0.35, rtol=0)
    assert q3[0, 0, 0] > 0.99
    # flat logits: no displacement, and presence leans to whether the point shows in the first pose
    c4, q4 = head(torch.zeros_like(z), start, shown)[1:]
    torch.testing.assert_close(c4[0, 0], start[0])
    torch.testing.assert_close(q4[0, 0], torch.sigmoid(torch.tensor([3.0, -3.0, -3.0])))


def test_centre_l1_counts_only_points_on_the_map():
    from reenactor.methods.psgan.method import centre_l1

    target = torch.zeros(1, 1, 2, 8, 8)
    target[0, 0, 0, 3, 3] = 1  # point 0 shows, point 1 does not
    real = torch.tensor([[[[3.0, 3.0], [7.0, 7.0]]]])
    pred = torch.tensor([[[[4.0, 1.0], [0.0, 0.0]]]])
    assert centre_l1(pred, real, target).item() == pytest.approx(3.0)


def test_model_files_from_before_the_disc_head_load_with_per_pixel_maps():
    from reenactor.config import from_dict, to_dict, with_legacy

    old = to_dict(PSGANConfig(**TINY))
    old.pop("head")
    assert from_dict(PSGANConfig, with_legacy(PSGANConfig, old)).head == "maps"
    assert PSGANConfig().head == "disc"


def test_masked_l1_eq3():
    t = torch.zeros(1, 1, 18, 4, 4)
    t[..., 0, 0] = 1
    p = torch.full_like(t, 0.5)
    # each of 18 disc pixels weighs (alpha + 1), every other pixel 1, each |error| 0.5; summed over each
    # 4 x 4 map, mean over the 18 maps
    want = 0.5 * (18 * 11 + (t.numel() - 18)) / 18
    assert masked_l1(p, t, 10.0).item() == pytest.approx(want)
    assert masked_l1(p, t, 0.0).item() == pytest.approx(0.5 * 16)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    cfg = PSGANConfig(**TINY)
    m = PSGANMethod(cfg)
    b = _batch(cfg)
    out = m.generator_step(b, 0)
    assert set(out.losses) == {"rec", "gan", "kp", "presence"}
    sum(out.losses.values()).backward()
    missing = [n for n, p in m.G.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
    m.zero_grad()
    d = m.discriminator_step(b, 0, out.cache)
    sum(d.values()).backward()
    missing = [n for n, p in m.D.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_presence_bce_trains_presence_and_eq3_only_moves_the_discs():
    from reenactor.methods.psgan.networks import render_discs

    centres = torch.tensor([[[10.3, 12.6], [3.0, 4.0]]], requires_grad=True)
    level = torch.tensor([[2.0, -0.5]], requires_grad=True)
    for grad in (True, False):
        maps, _, q = render_discs(centres, level, 16, 2.0, presence_grad=grad)
        target = torch.zeros_like(maps)
        target[0, 0, 11:14, 9:12] = 1
        centres.grad = level.grad = None
        (maps - target).abs().sum().backward()
        assert centres.grad.abs().sum() > 0  # the discs still move
        reached = level.grad is not None and bool(level.grad.abs().sum() > 0)
        assert reached == grad  # presence only through eq. 3 when presence: eq3
    cfg = PSGANConfig(**TINY, presence="eq3")  # the default is bce (test_gradients_reach_every_parameter)
    m = PSGANMethod(cfg)
    b = _batch(cfg)
    out = m.generator_step(b, 0)
    assert set(out.losses) == {"rec", "gan", "kp"}
    sum(out.losses.values()).backward()
    missing = [n for n, p in m.G.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
    with pytest.raises(ConfigError, match="model.presence"):
        PSGANMethod(PSGANConfig(**TINY, presence="gan"))


def test_reconstruction_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = PSGANConfig(**TINY)
    m = PSGANMethod(cfg)
    b = _batch(cfg)
    opt = torch.optim.Adam(m.G.parameters(), 3e-3)
    for term in ("rec", "presence"):  # presence (bce, the default) has its own loss: it falls too
        losses = []
        for _ in range(40):
            opt.zero_grad()
            loss = m.generator_step(b, 0).losses[term]
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.7 * losses[0], (term, losses[::10])


def test_train_save_load_generate_cli(carphone_clip, tmp_path, capsys):
    from reenactor.synthetic.actions import rest_poses_from_clip, write_action_data

    acts = write_action_data(tmp_path / "acts", rest_poses_from_clip(carphone_clip), per_action=2, frames=8)
    run = tmp_path / "run"
    base = QUIET
    args = [
        "train",
        "--method",
        "psgan",
        "--clips",
        str(acts),
        "-o",
        str(run),
        "--steps",
        "4",
        *TINY_SET,
        *base,
    ]
    assert main([*args, "--set", "trainer.batch_size=4"]) == 0
    model = run / "model.safetensors"
    out = tmp_path / "wave.poses.npz"
    rc_args = [
        "poses",
        "generate",
        "--model",
        str(model),
        "--action",
        "wave",
        "--from",
        f"{carphone_clip.root}:10",
        "--frames",
        "12",
        "-o",
        str(out),
        "--device",
        "cpu",
    ]
    rc = main(rc_args)
    assert rc == 0
    assert "procedural" in capsys.readouterr().out
    seq = load_poses(out)
    assert seq.arrays["body"].shape == (12, 25, 3) and seq.arrays["face"].shape == (
        12,
        68,
        3,
    )  # chained 8 + 4
    assert seq.size == (128, 128) and "procedural" in seq.source and "wave" in seq.source
    assert main(["render", str(out), "-o", str(tmp_path / "wave.mp4")]) == 0
    # --smooth filters the same generated points along time (Savitzky-Golay keeps a straight path, so only the
    # frame-to-frame wobble changes); the default is the model's (none)
    smoothed = tmp_path / "wave_s.poses.npz"
    i = rc_args.index("-o")
    assert main([*rc_args[: i + 1], str(smoothed), *rc_args[i + 2 :], "--smooth", "savgol"]) == 0
    a, b = seq.arrays["body"], load_poses(smoothed).arrays["body"]
    np.testing.assert_array_equal(a[..., 2], b[..., 2])
    assert not np.array_equal(a[..., :2], b[..., :2])
    # clear errors: an unknown action lists the known ones; a model of another kind is refused
    bad = [
        "poses",
        "generate",
        "--model",
        str(model),
        "--from",
        f"{carphone_clip.root}:10",
        "-o",
        str(tmp_path / "x.poses.npz"),
    ]
    assert main([*bad, "--action", "dance"]) != 0
    err = capsys.readouterr().err
    assert "unknown action 'dance'" in err and "bend, clap, jump, nod, raise, wave" in err
    from reenactor.modelfile import save_model

    other = save_model(tmp_path / "pw.safetensors", "pose_warp", {}, {}, {})
    assert main([*bad[:2], "--model", str(other), *bad[4:], "--action", "wave"]) != 0
    assert "pose-sequence model" in capsys.readouterr().err


def test_face_points_round_trip_in_their_box():
    from reenactor.methods.psgan import points

    rng = np.random.default_rng(3)
    face = np.zeros((68, 3), np.float32)
    face[:, :2] = rng.uniform(50, 80, (68, 2))
    face[:, 2] = 1
    box = points.face_box(face)
    assert box[2] == pytest.approx(points.FACE_MARGIN * np.ptp(face[:, :2], 0).max())
    maps = points.to_maps(face, "face", (128, 128), 32, 1.0, box)
    assert maps.shape == (68, 32, 32) and (maps.reshape(68, -1).max(1) == 1).all()
    back = points.from_maps(maps, "face", (128, 128), 0.3, box)
    assert np.abs(back[:, :2] - face[:, :2]).max() < box[2] / 32  # within a heatmap pixel of the box
    with pytest.raises(Exception, match="no face points"):
        points.face_box(np.zeros((68, 3), np.float32))


def test_expression_variant_train_and_generate_cli(carphone_clip, tmp_path, capsys):
    """`poses actions --expressions` -> `train --config psgan/face` -> `poses generate --action happy`: the
    68 face points are generated (68 heatmap channels), the body is held as given."""
    from reenactor.modelfile import open_model

    acts = tmp_path / "expr"
    src = f"{carphone_clip.root}:10"
    assert (
        main(
            [
                "poses",
                "actions",
                "--expressions",
                "--from",
                src,
                "-o",
                str(acts),
                "--per-action",
                "1",
                "--frames",
                "8",
            ]
        )
        == 0
    )
    assert "psgan/face" in capsys.readouterr().out
    assert sorted(p.name for p in acts.iterdir() if p.is_dir()) == sorted(
        ["angry", "disgust", "fear", "happy", "sad", "surprise"]
    )
    run = tmp_path / "run"
    tiny = [x for k, v in {**TINY, "radius": 1.0}.items() for x in ("--set", f"model.{k}={v}")]
    quiet = QUIET
    args = ["train", "--method", "psgan", "--config", "psgan/face", "--clips", str(acts), "-o", str(run)]
    assert main([*args, "--steps", "2", *tiny, *quiet, "--set", "trainer.batch_size=2"]) == 0
    model = open_model(run / "model.safetensors")
    assert model.synthesizer.cfg.points == "face"
    assert (
        model.synthesizer.G.encoder[0].conv.in_channels == 68
        if hasattr(model.synthesizer.G.encoder[0], "conv")
        else True
    )
    out = tmp_path / "happy.poses.npz"
    assert (
        main(
            [
                "poses",
                "generate",
                "--model",
                str(run / "model.safetensors"),
                "--action",
                "happy",
                "--from",
                src,
                "--frames",
                "10",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    seq = load_poses(out)
    body, face = seq.arrays["body"], seq.arrays["face"]
    assert body.shape == (10, 25, 3) and face.shape == (10, 68, 3)
    assert (body == body[:1]).all()  # the body is held
    first = np.asarray(carphone_clip.load("face")[10])
    seen = face[..., 2] > 0
    assert seen.any()
    lo, hi = first[:, :2].min(0) - 20, first[:, :2].max(0) + 20  # generated points stay around the face
    assert ((face[..., :2] >= lo) & (face[..., :2] <= hi)).all(-1)[seen].all()


@pytest.mark.parametrize("points", ["body", "face"])
def test_windows_are_drawn_on_the_device_as_the_items_were(carphone_clip, tmp_path, points):
    """Issue 30: items carry the window's points; prepare_batch draws every window's heatmaps in one batched
    torch call: equal to the per-window NumPy maps (to_maps), face boxes of different sizes included."""
    from reenactor.data.actions import open_actions
    from reenactor.methods.psgan import points as pts
    from reenactor.synthetic.actions import ACTIONS, EXPRESSIONS, rest_poses_from_clip, write_action_data

    acts = EXPRESSIONS if points == "face" else ACTIONS
    root = write_action_data(tmp_path / "acts", rest_poses_from_clip(carphone_clip), 2, 10, 0, acts)
    cfg = PSGANConfig(**{**TINY, "points": points, "n_actions": len(acts)})
    m = PSGANMethod(cfg)
    ds = m.build_dataset(open_actions([root], log=lambda *_: None))
    np.random.seed(0)
    idx = [0, 3, len(ds) - 1]
    items = [ds[i] for i in idx]
    np.random.seed(0)  # the same window starts again, for the per-window maps
    want = []
    for i in idx:
        s = ds.samples[i]
        kp = s.keypoints[points]
        start = int(np.random.randint(0, len(kp) - cfg.frames + 1))
        win = kp[start : start + cfg.frames]
        box = pts.face_box(win[0]) if points == "face" else None
        want.append(pts.to_maps(win, points, s.size, cfg.size, cfg.radius, box))
    b = m.prepare_batch(torch.utils.data.default_collate(items))
    assert b["target"].shape == (3, cfg.frames, pts.channels(points), cfg.size, cfg.size)
    assert np.array_equal(b["target"].numpy(), np.stack(want)) and b["target"].sum() > 0
    assert torch.equal(b["init"], b["target"][:, 0]) and b["label"].dtype == torch.int64
    if points == "face":
        assert len({float(it["frame"][0]) for it in items}) > 1  # boxes of different sizes in one batch


@pytest.mark.parametrize(
    "size,radius,frame", [(64, 4.0, (128, 120)), (32, 2.0, (128, 128)), (256, 3.5, (96, 96))]
)
def test_disc_renderer_equals_the_per_pixel_numpy_test(size, radius, frame):
    """The scattered-patch torch renderer (training batches and inference) draws exactly the pixels of the
    per-pixel NumPy disc test it replaced (float64 distances of every pixel): points inside, on the border, off
    the map, on pixel centres and half-pixels, missing ones."""
    rng = np.random.default_rng(size)
    kp = np.concatenate([rng.uniform(-20, 150, (40, 25, 2)), rng.uniform(0, 1, (40, 25, 1))], -1)
    kp = kp.astype(np.float32)
    kp[:8, :, :2] = (
        np.round(kp[:8, :, :2] * 2) / 2
    )  # exact half-pixel positions: discs touching pixel centres
    got = heatmaps.encode_points(kp, frame, size, radius, 0.3)
    xy = heatmaps.to_heatmap_xy(kp[..., :2], frame, size)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    d2 = (xs - xy[..., 0, None, None]) ** 2 + (ys - xy[..., 1, None, None]) ** 2
    want = ((d2 <= radius * radius) & (kp[..., 2, None, None] > 0.3)).astype(np.float32)
    assert got.dtype == np.float32 and want.sum() > 100
    assert np.array_equal(got, want)
