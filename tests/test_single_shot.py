"""single_shot (Gafni et al. 2021): the maps its networks see, the pairs it trains on (with the body-shape
augmentation), the three stages' losses, gradients (frozen encoders untouched), per-stage runs, and train -> save
-> load -> transfer of the astronaut photo through the real CLI on the bundled carphone clip. Tiny networks, 32 px."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
import yaml

from device_reads import step_reads
from reenactor.cli import main
from reenactor.config import from_dict, load_yaml, to_dict
from reenactor.errors import CheckpointError, ConfigError
from reenactor.methods import get_method
from reenactor.methods.single_shot import maps
from reenactor.methods.single_shot.config import SingleShotConfig
from reenactor.methods.single_shot.networks import crop, paste
from reenactor.nn.convert import to_unit

pytestmark = pytest.mark.usefixtures("one_thread")

ASTRONAUT = "sample:astronaut"
S = 32
TINY = {
    "size": S,
    "face_crop": 16,
    "p2b": {"ngf": 4, "n_downsampling": 2, "n_blocks": 1, "ndf": 4, "n_layers": 2},
    "b2f": {"ngf": 4, "n_up": 3, "spade_hidden": 8, "crop": 32, "ndf": 4, "n_layers": 2},
    "fr": {"ngf": 4, "n_down": 2, "n_blocks": 1, "ndf": 4, "n_layers": 1},
}
QUIET = {"tensorboard": False, "image_every": 0, "progress": False, "ema": 0.0, "device": "cpu"}


def tiny(**model) -> torch.nn.Module:
    cls = get_method("single_shot")
    conf = {**TINY, **model}
    for k in ("p2b", "b2f", "fr"):
        conf[k] = {**TINY[k], **model.get(k, {})}
    torch.manual_seed(0)
    return cls(from_dict(cls.Config, conf))


@pytest.fixture(scope="module")
def staged(carphone_clip, tmp_path_factory):
    """A copy of the carphone clip with the `layout` and `background` stages single_shot declares."""
    from reenactor.data.clips import open_clips
    from reenactor.train.stages import ensure_clip_stages

    dst = tmp_path_factory.mktemp("single_shot") / "carphone"
    shutil.copytree(carphone_clip.root, dst)
    clips = open_clips([dst])
    assert ensure_clip_stages([c.store for c in clips], get_method("single_shot").clip_stages) == 2
    return clips


def batch_of(ds, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """n items, collated (the trainer then calls the method's prepare_batch)."""
    np.random.seed(seed)
    return torch.utils.data.default_collate([ds[i * 37 % len(ds)] for i in range(n)])


# ------------------------------------------------------------------------------------------ maps
def test_maps_draw_pose_layout_and_face_parts(carphone_clip):
    body = np.asarray(carphone_clip.load("body")[40])
    face = np.asarray(carphone_clip.load("face")[40]) * (64 / 128)
    pose = {"body": body * np.array([0.5, 0.5, 1], np.float32), "face": face}
    stick = maps.stick_figures({k: torch.from_numpy(v)[None] for k, v in pose.items()}, 64)[0].numpy()
    iuv = maps.iuv_map(pose, 64)
    assert stick.shape == iuv.shape == (3, 64, 64) and stick.min() == -1 and stick.max() > 0.5
    assert 0 <= iuv.min() and iuv.max() <= 1 and (iuv[0] > 0).mean() > 0.05  # part indices where the body is
    assert not maps.iuv_map({"body": np.zeros((25, 3), np.float32)}, 64).any()
    parts = maps.face_parts(face, 64)
    assert parts.shape == (5, 64, 64) and all(parts[c].sum() > 0 for c in range(5))  # brows .. inner mouth
    assert not maps.face_parts(None, 64).any()
    lay = np.zeros((8, 8), np.uint8)
    lay[2:6, 3] = maps.LAYOUT.index("left_arm")
    oh = maps.one_hot(lay)
    assert oh.shape == (22, 8, 8) and (oh.sum(0) == 1).all() and oh[14, 2, 3] == 1
    assert maps.FLIP_LABELS[14] == 15 and (maps.FLIP_LABELS[maps.FLIP_LABELS] == np.arange(22)).all()


def test_stretch_scales_width_about_the_body_axis():
    lay = np.zeros((40, 40), np.uint8)
    lay[5:35, 12:28] = maps.LAYOUT.index("upper_clothes")  # 16 px wide, axis at x = 19.5
    for k in (0.75, 1.25):
        out = maps.stretch_layout(lay, k)
        cols = np.nonzero(out.any(0))[0]
        assert abs(len(cols) - 16 * k) <= 1 and abs(cols.mean() - 19.5) <= 0.5
        assert (np.nonzero(out.any(1))[0] == np.arange(5, 35)).all()  # height untouched


def test_face_crop_numpy_and_torch_agree_and_paste_inverts(carphone_clip):
    img = np.asarray(carphone_clip.load("frames")[10])
    box = np.array([60.0, 50.0, 22.0], np.float32)
    theta = torch.from_numpy(maps.box_theta(box, 128))[None]
    x = torch.from_numpy(maps.to_unit(img))[None]
    c = crop(x, theta, 24)
    ref = torch.from_numpy(maps.to_unit(maps.box_crop(img, box, 24)))[None]
    assert (c - ref).abs().mean() < 0.02
    back = paste(torch.zeros_like(x), c, torch.ones(1, 1, 24, 24), theta)
    inside = back[:, :, 35:65, 45:75]
    assert (inside - x[:, :, 35:65, 45:75]).abs().mean() < 0.12 and back[:, :, :20].abs().max() == 0


def test_appearance_crops_hold_each_group(staged):
    store = staged[0].store
    img, lay = np.asarray(store.load("frames")[40]), np.asarray(store.load("layout")[40])
    crops, area = maps.appearance_crops(img, lay, 32)
    assert crops.shape == (4, 3, 32, 32) and -1 <= crops.min() and crops.max() <= 1
    assert area[0] > 0.05  # upper clothes: carphone's shirt
    assert (area[1:3] == 0).all() and not crops[1:3].any()  # no legs, no shoes in carphone: grey crops
    turned = maps.rotate_hue(img, lay, 120)
    clothes = np.isin(lay, maps.CLOTHES_IDS)
    assert (turned[~clothes] == img[~clothes]).all() and np.abs(
        turned[clothes] - img[clothes].astype(int)
    ).mean() > 5


# ------------------------------------------------------------------------------------------ data
def test_pair_items_and_shapes(staged):
    m = tiny()
    ds = m.build_dataset(staged, pairs=None)
    b = m.prepare_batch(batch_of(ds, 2))
    shapes = {k: tuple(v.shape) for k, v in b.items()}
    assert shapes == {
        "p2b_in": (2, 28, S, S),
        "p2b_target": (2, S, S),
        "crops": (2, 4, 3, 32, 32),
        "face_desc": (2, 128),
        "seg": (2, 27, S, S),
        "image": (2, 3, S, S),
        "background": (2, 3, S, S),
        "mask": (2, 1, S, S),
        "face_theta": (2, 2, 3),
        "face_valid": (2,),
        "colours": (2, 4, 3),  # b2f.region_colour: A's mean colour per body group
    }
    # A's face crop only when eq. 18's identity term (off by default) reads it
    with_id = tiny(fr={"lambda_id": 1.0})
    assert with_id.build_dataset(staged, pairs=None)[0]["source_face"].shape == (3, 16, 16)
    assert b["face_valid"].all() and b["face_desc"].abs().sum(1).min() > 0  # dlib described carphone's face
    # issue 30: the items are compact (uint8 labels and frames); prepare_batch makes the values the per-item
    # NumPy path drew: one-hot layout + face parts, mask = layout > 0, to_unit frames
    np.random.seed(0)
    items = [ds[i * 37 % len(ds)] for i in range(2)]
    assert items[0]["image"].dtype == torch.uint8 and items[0]["seg_labels"].dtype == torch.uint8
    for i, it in enumerate(items):
        lab = it["seg_labels"].numpy()
        want = np.concatenate([maps.one_hot(lab), it["face_parts"].numpy().astype(np.float32)])
        assert np.array_equal(b["seg"][i].numpy(), want) and want[22:].sum() > 0
        assert np.array_equal(b["mask"][i, 0].numpy(), (lab > 0).astype(np.float32))
        for k in ("image", "background"):
            assert np.array_equal(b[k][i].numpy(), to_unit(it[k].permute(1, 2, 0).numpy()))
    p2b = tiny(stage="p2b").build_dataset(staged, pairs=None)[0]
    assert {k: (tuple(v.shape), v.dtype) for k, v in p2b.items()} == {
        "p2b_layout": ((S, S), torch.uint8), "p2b_target": ((S, S), torch.int64),
        "p2b_iuv": ((3, S, S), torch.float32), "p2b_pose_body": ((25, 3), torch.float32),
        "p2b_pose_face": ((68, 3), torch.float32), "p2b_pose_hand_left": ((21, 3), torch.float32),
        "p2b_pose_hand_right": ((21, 3), torch.float32),
    }  # fmt: skip


def test_face_descriptors_are_computed_once_per_clip_and_size(staged):
    """Issue 30: t_1's dlib descriptors come from a per-clip cache (``face_desc_<S>`` in the clip store), equal to
    the descriptor computed for that frame; a second dataset reads the cache without dlib; a re-imported layout
    (another layout file) computes them again."""
    ds = tiny().build_dataset(staged, pairs=None)
    store = staged[0].store
    name = f"face_desc_{S}"
    assert store.has(name) and store.stage(name)["spec"]["size"] == S
    for t in (0, 57, 119):
        assert np.array_equal(ds.face_desc(0, t), ds.describe(0, t))
    assert np.abs(store.load(name)).sum(1).min() > 0  # every carphone frame has a face

    class NoDlib:
        description = ds.embedder.description

        def embed(self, *a):
            raise AssertionError("dlib ran although the descriptors were cached")

    from reenactor.methods.single_shot.dataset import SingleShotPairs

    m = tiny()
    again = SingleShotPairs(staged, None, m.cfg, m.stages, NoDlib())
    assert np.array_equal(again.face_desc(0, 57), ds.face_desc(0, 57))
    lay = store.path("layout")
    os.utime(lay, ns=(lay.stat().st_atime_ns, lay.stat().st_mtime_ns + 10**9))  # as if imported anew
    with pytest.raises(AssertionError, match="dlib ran"):
        SingleShotPairs(staged, None, m.cfg, m.stages, NoDlib())
    SingleShotPairs(staged, None, m.cfg, m.stages)  # recomputed and stored for the other tests


def test_squeeze_stretch_moves_the_layouts_never_the_pose(staged):
    plain = tiny(p2b={"aug_prob": 0.0, "stretch": 1.0}).build_dataset(staged, pairs=None)
    wide = tiny(p2b={"aug_prob": 0.0, "stretch": 1.25, "stretch_prob": 1.0}).build_dataset(staged, pairs=None)
    for i in (5, 60):
        np.random.seed(i)
        a = plain[i]
        np.random.seed(i)
        wide.pair(i)
        k = wide._stretch()  # the factor this item draws (after the pair, as __getitem__ does)
        np.random.seed(i)
        b = wide[i]
        pose = [k for k in a if k.startswith("p2b_pose_") or k == "p2b_iuv"]
        assert all(torch.equal(a[k], b[k]) for k in pose)  # pose and pseudo-IUV untouched
        for key, wa, wb in (
            ("input", a["p2b_layout"] > 0, b["p2b_layout"] > 0),
            ("target", a["p2b_target"] > 0, b["p2b_target"] > 0),
        ):
            ratio = _row_widths(wb.numpy(), wa.numpy())
            assert abs(ratio - k) < 0.1, (key, ratio, k)


@pytest.mark.parametrize("size", [S, 128])
def test_p2b_input_drawn_on_the_device_equals_the_host_drawing(staged, astronaut_small, size, monkeypatch):
    """prepare_batch's P2B input is what the items' host drawing gave (one-hot layout of A, OpenCV stick figure of
    B, pseudo-IUV): layout and IUV exactly, the stick figure within the renderer's tolerance (exact at 32 px;
    tests/test_render_torch.py); inference draws the driving pose with the same renderer."""
    from reenactor.pose.render import draw_pose
    from test_render_torch import MAX_DRAWN_SHARE, MAX_IMAGE_SHARE, record_calls, synthesizer_of

    m = tiny(size=size, stage="p2b", p2b={"aug_prob": 0.0, "stretch": 1.0})
    ds = m.build_dataset(staged, pairs=None)
    items = batch_of(ds, 3)
    x = m.prepare_batch(items)["p2b_in"]
    assert set(m.prepare_batch(items)) == {"p2b_in", "p2b_target"} and x.shape == (3, 28, size, size)
    for j in range(3):
        pose = {k[len("p2b_pose_") :]: v[j].numpy() for k, v in items.items() if k.startswith("p2b_pose_")}
        stick = maps.to_unit(draw_pose((size, size), pose, thresh=maps.CONF))
        assert np.array_equal(x[j, :22].numpy(), maps.one_hot(items["p2b_layout"][j].numpy()))
        assert torch.equal(x[j, 25:], items["p2b_iuv"][j])
        differ, drawn = (x[j, 22:25].numpy() != stick).any(0), (stick > -1).any(0)
        assert differ.mean() <= MAX_IMAGE_SHARE and differ.sum() <= MAX_DRAWN_SHARE * drawn.sum()
        assert (size == S) <= (differ.sum() == 0)
    if size != S:
        return
    drawn_poses = record_calls(monkeypatch, maps, "stick_figures")
    synth = synthesizer_of(m, astronaut_small)
    synth.step(pose, {"background": np.zeros((S, S, 3), np.uint8)})
    assert torch.equal(drawn_poses[-1][0], x[2, 22:25])


def _row_widths(b: np.ndarray, a: np.ndarray) -> float:
    """Summed per-row extents of mask ``b`` over those of ``a``, over the rows where neither touches the frame's
    sides (carphone's shoulders leave the frame: their width cannot grow there)."""
    wa, wb = [], []
    for ra, rb in zip(a, b):
        if ra.any() and rb.any() and not (ra[[0, -1]].any() or rb[[0, -1]].any()):
            xa, xb = np.nonzero(ra)[0], np.nonzero(rb)[0]
            wa.append(xa[-1] - xa[0] + 1)
            wb.append(xb[-1] - xb[0] + 1)
    assert len(wa) >= 5
    return float(sum(wb)) / float(sum(wa))


# ------------------------------------------------------------------------------------------ losses and gradients
def test_gradients_reach_every_trainable_parameter_and_no_frozen_encoder(staged):
    m = tiny(fr={"lambda_id": 1.0})  # eq. 18's term is off by default (docs/single_shot.md): on here
    b = m.prepare_batch(batch_of(m.build_dataset(staged, pairs=None), 2))
    assert "fr_id" not in tiny().generator_step(b, 0).losses
    out = m.generator_step(b, 0)
    assert set(out.losses) == {
        "p2b_gan", "p2b_fm", "p2b_ce",
        "b2f_gan", "b2f_fm", "b2f_vgg", "b2f_face", "b2f_mask", "b2f_l1",
        "fr_rec", "fr_vgg", "fr_id", "fr_mask", "fr_gan",
    }  # fmt: skip
    assert all(torch.isfinite(v) and v.dim() == 0 for v in out.losses.values())
    sum(out.losses.values()).backward()
    g = m.generator_parameters()
    assert len(g) == sum(1 for n in (m.P2B, m.B2F, m.FR) for _ in n.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g)
    frozen = list(m.appearance.net.parameters())
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)
    d = m.discriminator_step(b, 0, out.cache)
    assert set(d) == {"d_p2b", "d_b2f", "d_fr"}
    for p in m.discriminator_parameters():
        p.grad = None
    sum(d.values()).backward()
    dp = dict(m.named_parameters())
    assert all(dp[n].grad is not None for n in dp if n.startswith("D_"))
    # every D weight moves; a hinge D's logit bias alone can get exactly 0 at init (relu(1 - r) and relu(1 + f)
    # pull it with equal counts while every logit is inside the margin)
    still = [n for n in dp if n.startswith("D_") and not dp[n].grad.abs().sum() > 0]
    assert all(n.startswith(("D_b2f", "D_fr")) and n.endswith(".bias") for n in still), still
    # one stage alone: only its network (and discriminator) trains
    only = tiny(stage="b2f")
    assert only.D_p2b is None and only.D_fr is None
    assert {id(p) for p in only.generator_parameters()} == {id(p) for p in only.B2F.parameters()}
    assert not any(p.requires_grad for n in (only.P2B, only.FR) for p in n.parameters())
    only.train()  # what the trainer calls: the frozen networks stay in eval mode (stored batch statistics)
    assert only.B2F.training and not only.P2B.training and not only.FR.training


def test_a_training_step_never_waits_for_the_device(staged, monkeypatch):
    """prepare_batch + both steps + backward read no device value back and make no data-dependent shape."""
    m = tiny()
    items = batch_of(m.build_dataset(staged, pairs=None), 2)
    assert step_reads(m, items, monkeypatch) == []


@pytest.mark.parametrize(
    "stage, key, steps",
    [("p2b", "p2b_ce", 15), ("b2f", "b2f_l1", 15), ("fr", "fr_rec", 15)],
)
def test_each_stage_loss_falls_on_a_fixed_batch(staged, stage, key, steps):
    m = tiny(stage=stage)
    b = m.prepare_batch(batch_of(m.build_dataset(staged, pairs=None), 2, seed=3))
    opt = torch.optim.Adam(m.generator_parameters(), lr=3e-3, betas=(0.5, 0.999))
    first = last = None
    for _ in range(steps):
        opt.zero_grad()
        losses = m.generator_step(b, 0).losses
        sum(losses.values()).backward()
        opt.step()
        last = float(losses[key].detach())
        first = last if first is None else first
    assert last < 0.7 * first, (first, last)


# ------------------------------------------------------------------------------------------ per-stage runs
def _run(clips, out, stage: str, init_from=None, steps: int = 1):
    from reenactor.train.run import run_training

    model = {**TINY, "stage": stage, "init_from": None if init_from is None else str(init_from)}
    data = {
        "method": "single_shot",
        "model": model,
        "trainer": {**QUIET, "steps": steps, "batch_size": 2},
        "data": {"clips": [str(c.path) for c in clips]},
    }
    return run_training(data, [], run_dir=out)


def test_per_stage_runs_chain_through_init_from(staged, tmp_path):
    from reenactor.modelfile import load_model

    a = load_model(_run(staged, tmp_path / "p2b", "p2b"))
    assert a.meta["stages"] == ["p2b"] and {k.split(".")[0] for k in a.tensors} == {"P2B", "B2F", "FR"}
    b = load_model(_run(staged, tmp_path / "b2f", "b2f", init_from=a.path))
    assert b.meta["stages"] == ["b2f", "p2b"]
    same = [k for k in a.tensors if k.startswith("P2B.")]
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in same)  # P2B came along untouched
    assert any(not torch.equal(a.tensors[k], b.tensors[k]) for k in b.tensors if k.startswith("B2F."))
    c = load_model(_run(staged, tmp_path / "fr", "fr", init_from=b.path))
    assert c.meta["stages"] == ["b2f", "fr", "p2b"]
    with pytest.raises(CheckpointError, match="does not fit this run's config"):
        tiny(init_from=str(b.path), b2f={"ngf": 8})


def test_bad_configs_name_the_key():
    with pytest.raises(ConfigError, match=r"model.size must be divisible by 2\*\*model.b2f.n_up"):
        tiny(size=36)
    with pytest.raises(ConfigError, match="model.stage"):
        from_dict(SingleShotConfig, {"stage": "p2f"}, prefix="model.")


def test_b2f_batch_norm_keeps_what_e_z_says_about_a_whole_item():
    """A per-channel offset of one item's first map (a colour, say) changes that item's output with SPADE's
    batch norm (model.b2f.spade_norm: batch); the per-item instance norm (the default) erases it."""
    from reenactor.methods.single_shot.networks import B2FDecoder

    torch.manual_seed(0)
    seg = torch.rand(2, 5, 32, 32)
    outs = {}
    for norm in ("batch", "instance"):
        dec = B2FDecoder(8, 5, 32, ngf=4, n_up=3, spade_hidden=8, max_mult=4, param_free=norm).train()
        h = dec.start(torch.randn(2, 8))
        shifted = h.clone()
        shifted[0] += torch.randn(h.shape[1])[:, None, None]
        outs[norm] = (dec.decode(h, seg)[0][0] - dec.decode(shifted, seg)[0][0]).abs().max().item()
    assert outs["instance"] < 1e-4 and outs["batch"] > 1e-2, outs
    assert tiny(b2f={"spade_norm": "batch"}).B2F.blocks[0].n0.norm.__class__.__name__ == "BatchNorm2d"


def test_region_colours_paint_each_group_and_pass_the_instance_norm():
    """b2f.region_colour: each layout group's mean colour in the photo, painted into its labels of the layout B2F
    renders, is part of SPADE's condition, so with the per-item instance norm (which erases a whole-item offset
    of e_z's first map, test above) the photo's colour still reaches the image; the colour augmentation moves the
    clothes only."""
    from reenactor.methods.single_shot.networks import B2FDecoder, b2f_condition, paint

    lab = np.zeros((8, 8), np.uint8)
    lab[:4] = maps.LAYOUT.index("hair")
    lab[4:, :4] = maps.LAYOUT.index("upper_clothes")
    lab[4:, 4:] = maps.LAYOUT.index("pants")
    lab[0, 0] = 0
    img = np.zeros((8, 8, 3), np.uint8)
    img[lab == maps.LAYOUT.index("upper_clothes")] = (255, 0, 0)
    img[lab == maps.LAYOUT.index("pants")] = (0, 0, 255)
    img[:4] = (0, 255, 0)
    col = maps.region_colours(img, lab)  # upper, lower, shoes, skin (face and hair keep t_1); absent groups 0
    assert col.shape == (4, 3) and np.allclose(col[0], [1, -1, -1]) and np.allclose(col[1], [-1, -1, 1])
    assert not col[2:].any()
    pm = paint(torch.from_numpy(maps.one_hot(lab))[None], torch.from_numpy(col)[None])[0]
    assert torch.allclose(pm[:, 6, 1], torch.tensor([1.0, -1, -1])) and torch.allclose(
        pm[:, 6, 6], torch.tensor([-1.0, -1, 1])
    )
    assert pm[:, 0, 0].abs().max() == 0 and pm[:, 1, 1].abs().max() == 0  # background, hair
    torch.manual_seed(0)
    seg = torch.from_numpy(np.tile(maps.one_hot(np.kron(lab, np.ones((4, 4), np.uint8))), (2, 1, 1, 1)))
    dec = B2FDecoder(8, maps.N_LABELS + 3, 32, ngf=4, n_up=3, spade_hidden=8, max_mult=4).train()
    h = dec.start(torch.randn(1, 8).expand(2, -1))
    other = torch.from_numpy(col)[None].repeat(2, 1, 1)
    other[1, 0] = torch.tensor([0.2, 0.9, -0.5])  # item 1's upper clothes in another colour
    z = dec.decode(h, b2f_condition(seg, other))[0]
    assert (z[0] - z[1]).abs().max() > 1e-2
    assert b2f_condition(seg, None) is seg
    # the augmentation: a hue turn and a Lab shift of the clothes, nothing else
    moved = maps.recolour(img, lab, 0.0, np.array([0.0, 40.0, -40.0]))
    clothes = np.isin(lab, maps.CLOTHES_IDS)
    assert (moved[~clothes] == img[~clothes]).all() and np.abs(
        moved[clothes] - img[clothes].astype(int)
    ).mean() > 5
    assert (maps.recolour(img, lab, 0.0, np.zeros(3)) == img).all()


def test_region_colours_are_part_of_the_appearance_in_training_and_at_transfer(staged, astronaut_small):
    """With b2f.region_colour the items carry A's region colours (after the colour augmentation, which turns A and
    B alike), every trainable parameter still gets a gradient, and the synthesizer paints the photo's colours
    once per photo; blank_appearance (the follow benchmark's "e_z zeroed" row) greys them with e_z."""
    m = tiny(b2f={"region_colour": True, "colour_shift": 40.0, "hue_prob": 1.0})
    ds = m.build_dataset(staged, pairs=None)
    b = m.prepare_batch(batch_of(ds, 2))
    assert b["colours"].shape == (2, 4, 3) and b["colours"][:, 0].abs().sum() > 0  # upper clothes seen
    assert m.B2F.blocks[0].n0.shared[0].in_channels == maps.N_LABELS + maps.N_FACE_PARTS + 3
    out = m.generator_step(b, 0)
    sum(out.losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.generator_parameters())
    synth = type(m).synthesizer(m.cfg, *m.inference_state())
    synth.set_reference(astronaut_small)
    assert synth._target["colours"].shape == (1, 4, 3) and synth._target["colours"].abs().sum() > 0
    pose = {k: v.copy() for k, v in astronaut_small.keypoints.items()}
    before = synth.step(pose, None)
    synth.blank_appearance()
    assert synth._target["colours"].abs().sum() == 0
    assert np.abs(synth.step(pose, None).astype(int) - before.astype(int)).max() > 0


def test_face_crop_follows_the_frame_size_unless_set():
    from reenactor.methods.single_shot.config import face_side

    cfg = SingleShotConfig()
    assert cfg.face_crop is None
    sides = {}
    for size in (64, 128, 256, 512):
        cfg.size = size
        sides[size] = face_side(cfg)
    assert sides == {64: 32, 128: 56, 256: 112, 512: 224}  # 7/16 of the frame (the paper's 224 at 512)
    cfg.fr.n_down = 4
    cfg.size = 128
    assert face_side(cfg) == 64  # rounded up to a multiple of 2**fr.n_down
    cfg.face_crop = 40  # an explicit side wins (models saved with one keep it)
    assert face_side(cfg) == 40


def test_shipped_configs_document_every_key():
    from reenactor.config import PACKAGED_CONFIGS

    for name in ("default", "paper"):
        path = PACKAGED_CONFIGS / "single_shot" / f"{name}.yaml"
        text = path.read_text()
        model = load_yaml(path)["model"]
        cfg = from_dict(SingleShotConfig, model)
        flat = to_dict(cfg)
        for section in ("p2b", "b2f", "fr"):
            assert set(model[section]) == set(flat[section]), (name, section)
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#") and not line.rstrip().endswith(":"):
                assert "#" in line, (name, line)
        if name == "default":
            assert flat == to_dict(SingleShotConfig())  # the shipped defaults are the dataclass's
        else:
            assert (flat["size"], flat["b2f"]["n_up"], flat["b2f"]["crop"]) == (512, 7, 224)
            weights = (flat["p2b"]["lambda_fm"], flat["p2b"]["lambda_ce"], flat["b2f"]["lambda_mask"])
            assert weights == (40, 1, 5)  # lambda_D, lambda_CE (eq. 9), lambda_m (eq. 17)


# ------------------------------------------------------------------------------------------ end to end
def test_train_save_load_transfer_through_the_cli(clip_copy, tmp_path, capsys):
    """The real CLI: the train run makes the missing clip stages, exports one model; transfer renders the
    astronaut photo driven by carphone, with the generated layout as the side-by-side panel."""
    from reenactor.io.video import iter_frames, probe

    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump({"model": TINY, "trainer": {**QUIET, "batch_size": 2}}))
    run = tmp_path / "run"
    assert main(["train", "--method", "single_shot", "--config", str(conf), "--clips", str(clip_copy.root),
                 "--steps", "2", "-o", str(run)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "lack the `layout` stage" in out and "lack the `background` stage" in out
    assert "dlib" in out and "efficientnet_lite0" in out  # which encoders stand in for VGGFace2 / VGG
    from reenactor.data.clipstore import ClipStore

    again = ClipStore.open(clip_copy.root)  # the stages are cached in the clip store
    assert (run / "model.safetensors").is_file() and again.has("layout") and again.has("background")
    video = tmp_path / "out.mp4"
    args = ["transfer", "--model", str(run / "model.safetensors"), "--target-image", ASTRONAUT,
            "--driving", str(clip_copy.root), "--max-frames", "3", "--side-by-side", "-o", str(video)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[single_shot] target:" in out and "wrote" in out
    info = probe(video)
    assert info.n_frames == 3 and (info.height, info.width) == (S, 3 * S)
    frames = list(iter_frames(video))
    assert frames[0][:, S : 2 * S].mean() > 10  # the middle panel: the coloured generated layout
    # a model of another method is refused with one clear message, nothing written
    from _cloning_fixtures import export_untrained, make_clip

    other = export_untrained("cloning", tmp_path / "cloning.safetensors", [make_clip(tmp_path / "c", n=6)])
    bad = tmp_path / "bad.mp4"
    args[2], args[-1] = str(other), str(bad)
    assert main([*args, "--method", "single_shot"]) == 2
    assert "trained with method 'cloning', not 'single_shot'" in capsys.readouterr().err and not bad.exists()
    with pytest.raises(CheckpointError, match="model.init_from is a model of method 'cloning'"):
        tiny(init_from=str(other))


def test_synthesizer_views_layout_and_face_refine_option(staged, astronaut_small):
    m = tiny()
    tensors, meta = m.inference_state()
    cls = type(m)
    on = cls.synthesizer(m.cfg, tensors, meta, options={"face_refine": True})
    off = cls.synthesizer(m.cfg, tensors, meta, options={"face_refine": False})
    half = cls.synthesizer(m.cfg, tensors, meta, precision="bf16", options={"face_refine": True})
    assert on.refine and not off.refine
    pose = {k: np.asarray(staged[0].store.load(k)[50]) * np.array([S / 128, S / 128, 1], np.float32)
            for k in ("body", "face", "hand_left", "hand_right")}  # fmt: skip
    frames = []
    for s in (on, off, half):
        s.set_reference(astronaut_small)
        s.reset()
        frames.append(s.step(pose, {"background": np.full((S, S, 3), 90, np.uint8)}).astype(int))
        view = s.input_view()
        assert view.shape == (S, S, 3)
        assert set(map(tuple, view.reshape(-1, 3))) <= set(map(tuple, maps.LAYOUT.palette))
    a, b, h = frames
    assert a.shape == (S, S, 3) and np.abs(a - h).mean() < 12  # bf16 renders the same picture
    # FR changes the frame inside its face box only (the generated layout's face label, else the face points)
    layout = maps.LAYOUT.from_colours(off.input_view())[0]
    cx, cy, r = maps.face_box(layout, pose["face"], m.cfg.face_pad)
    inside = np.zeros((S, S), bool)
    inside[max(int(cy - r) - 2, 0) : int(cy + r) + 3, max(int(cx - r) - 2, 0) : int(cx + r) + 3] = True
    assert (a != b).any() and (a[~inside] == b[~inside]).all()


@pytest.fixture(scope="module")
def astronaut_small():
    from reenactor.reference import load_reference

    return load_reference(ASTRONAUT, S)


# ------------------------------------------------------------------------------------------ measurements
def _follow_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "single_shot_follow.py"
    spec = importlib.util.spec_from_file_location("single_shot_follow", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_single_image_benchmark_and_follow_script_on_a_tiny_model(staged, tmp_path):
    """`reenactor benchmark single-image` with a single_shot model: its row, the row without FR, its mask IoU,
    the segmentation columns and the training clip of the frames before the photo; and the hue / body-shape
    script (benchmarks/single_shot_follow.py) end to end. An untrained 128 px model: plumbing, not quality."""
    from reenactor.config import to_dict
    from reenactor.data.clipstore import ClipStore
    from reenactor.evaluation.single_image import SingleImageOptions, layout_scores, run
    from reenactor.reference import load_reference
    from reenactor.train.checkpoint import save_model

    m = tiny(size=128)
    tensors, meta = m.inference_state()
    model = save_model(tmp_path / "ss.safetensors", "single_shot", to_dict(m.cfg), tensors, meta)
    clip = staged[0].store
    n = clip.n_frames
    out = tmp_path / "bench"
    opts = SingleImageOptions(clip=str(clip.root), out_dir=out, reference_frame=n - 4, first_driving=n - 3,
                              methods=("hold", "single_shot"), models={"single_shot": str(model)},
                              progress=False)  # fmt: skip
    rows = run(opts)
    assert [r["method"] for r in rows] == ["hold", "single_shot", "single_shot -FR"]
    assert "mask_iou" not in rows[0] and all(0 <= r["mask_iou"] <= 1 for r in rows[1:])
    for r in rows:
        assert 0 <= r["seg_binary_iou"] <= 1 and 0 <= r["seg_part_iou"] <= 1
        assert r["frames"] == 3 and ("identity_same" in r)
    assert rows[0]["seg_binary_iou"] > 0.7  # hold: the photo is the next frames' person, nearly in place
    table = (out / "table.md").read_text()
    assert "mask-m IoU" in table and "seg part mIoU" in table and "| single_shot -FR |" in table
    train = ClipStore.open(out / "train" / f"{clip.root.name}_0_{n - 5}")
    assert train.n_frames == n - 4 and np.array_equal(train.load("body")[3], clip.load("body")[3])
    lay = np.asarray(clip.load("layout")[10])
    same = layout_scores([lay], [lay])
    assert same == {"seg_binary_iou": 1.0, "seg_part_iou": 1.0}

    f = _follow_module()
    assert f.circ_diff(350, 10) == 20 and f.circ_diff(90, 270) == 180
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    layout = np.full((8, 8), maps.LAYOUT.index("upper_clothes"), np.uint8)
    turned = maps.rotate_hue(red, layout, 120, ids=maps.CROP_IDS["upper_clothes"])
    assert f.circ_diff(f.hue_of(turned, layout > 0)[0], 120) < 3
    bar = np.zeros((20, 40), bool)
    bar[5:, 10:30] = True
    assert f.torso_width(bar, 4) == 20 and np.isnan(f.torso_width(np.ones((20, 40), bool), 0))
    assert abs(f.slope([0.8, 1.0, 1.25], [16, 20, 25]) - 1.0) < 1e-6
    r = f.Renderer(str(model), str(clip.root), n - 2, 2)
    ref = load_reference(f"{clip.root}:{n - 4}", r.size)
    poses = r.poses(ref)
    hue = f.appearance_rows(r, ref, poses, maps.CROP_IDS["upper_clothes"])
    assert [(x["model"], x["turn"]) for x in hue][:2] == [("trained", 0), ("trained", 90)] and len(hue) == 8
    zeroed = [x["generated_hue"] for x in hue if x["model"] == "e_z zeroed"]
    # the photo no longer matters, but for FR's face descriptor: dlib's face chip holds some of the turned clothes,
    # which moves the hue of generated clothes that FR's face box overlaps by hundredths of a degree
    assert np.allclose(zeroed, zeroed[0], atol=0.1) or np.isnan(zeroed).all()
    astro = load_reference(ASTRONAUT, r.size)  # carphone's suit touches the frame's edges: no width there
    shape, slopes = f.shape_rows(r, astro, r.poses(astro))
    assert [x["factor"] for x in shape] == list(f.STRETCH) and slopes["input_width"] > 0.5
    assert set(slopes) == {"input_width", "layout_width", "mask_width"}
