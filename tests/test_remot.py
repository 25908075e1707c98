"""remot (Yang et al. 2021, REMOT): the TAM against a brute-force cosine sum, the GAM warp onto a target box, each
stage's losses on a fixed batch, gradients, the three ablation switches, per-stage runs, and train -> save -> load
-> transfer of the astronaut photo through the real CLI on the bundled carphone clip. Tiny networks, 32 px."""

from __future__ import annotations

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
from reenactor.methods.remot import maps
from reenactor.methods.remot.config import RemotConfig
from reenactor.methods.remot.networks import gam_warp, texture_alignment
from reenactor.pose.normalize import layout_box

pytestmark = pytest.mark.usefixtures("one_thread")

ASTRONAUT = "sample:astronaut"
S = 32
NET = {"ngf": 4, "n_down": 2, "n_blocks": 1, "ndf": 4, "n_layers": 1, "num_D": 1}
PER = {"lambda_per": 10.0}  # the paper's eq. 7 weight (the CPU default is 0): the tiny runs exercise the term
TINY = {
    "size": S,
    "face_crop": 8,
    "layout": dict(NET),
    "region": {**NET, **PER},
    "composition": {**NET, **PER, "face_ndf": 4, "face_layers": 1},
}
QUIET = {"tensorboard": False, "image_every": 0, "progress": False, "ema": 0.0, "device": "cpu"}


def tiny(**model) -> torch.nn.Module:
    cls = get_method("remot")
    conf = {**TINY, **model}
    for k in ("layout", "region", "composition"):
        conf[k] = {**TINY[k], **model.get(k, {})}
    torch.manual_seed(0)
    return cls(from_dict(cls.Config, conf))


@pytest.fixture(scope="module")
def staged(carphone_clip, tmp_path_factory):
    """A copy of the carphone clip with the `layout` and `background` stages remot declares."""
    from reenactor.data.clips import open_clips
    from reenactor.train.stages import ensure_clip_stages

    dst = tmp_path_factory.mktemp("remot") / "carphone"
    shutil.copytree(carphone_clip.root, dst)
    clips = open_clips([dst])
    ensure_clip_stages([c.store for c in clips], get_method("remot").clip_stages)
    return clips


def items_of(ds, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A collated batch of compact items, as the data loader gives it."""
    np.random.seed(seed)
    return torch.utils.data.default_collate([ds[(i * 37 + 5) % len(ds)] for i in range(n)])


def batch_of(m, ds, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """The batch the steps see: items through the method's ``prepare_batch`` (as the trainer does)."""
    return m.prepare_batch(items_of(ds, n, seed))


# ------------------------------------------------------------------------------------------ TAM and GAM
@pytest.mark.parametrize("norm,temperature", [("none", 1.0), ("n", 1.0), ("softmax", 1.0), ("softmax", 0.01)])
def test_tam_equals_brute_force_cosine_sum(norm, temperature):
    g = torch.Generator().manual_seed(1)
    fc, fs = torch.randn(2, 5, 3, 4, generator=g), torch.randn(2, 5, 3, 4, generator=g)
    out = texture_alignment(fc, fs, norm, temperature)
    want = torch.zeros_like(fc)
    n = 12
    for b in range(2):
        for i in range(n):
            ci = fc[b, :, i // 4, i % 4]
            w = torch.stack([torch.dot(ci, fs[b, :, j // 4, j % 4]) / (ci.norm() * fs[b, :, j // 4, j % 4].norm())
                             for j in range(n)])  # fmt: skip
            w = w / n if norm == "n" else torch.softmax(w / temperature, 0) if norm == "softmax" else w
            agg = sum(w[j] * fs[b, :, j // 4, j % 4] for j in range(n))
            want[b, :, i // 4, i % 4] = agg + ci
    assert torch.allclose(out, want, atol=1e-5)


def test_gam_moves_a_layout_onto_the_target_height_and_centre():
    src = np.zeros((64, 64), np.uint8)
    src[10:30, 20:28] = 2  # height 20, centre (24, 20)
    src[12:16, 22:26] = 1
    for rows, cols in (((20, 50), (30, 40)), ((5, 62), (10, 26)), ((40, 52), (44, 60))):
        tgt = np.zeros((64, 64), np.uint8)
        tgt[rows[0] : rows[1], cols[0] : cols[1]] = 3
        nums = maps.gam_numbers(torch.from_numpy(src)[None], torch.from_numpy(tgt)[None])
        oh = torch.from_numpy(maps.one_hot(src))[None]
        moved = gam_warp(oh, nums, mode="nearest")[0].argmax(0).numpy()
        (h,), (c,) = layout_box(moved > 0, 0.5)
        (ht,), (ct,) = layout_box(tgt > 0, 0.5)
        assert abs(h - ht) <= 1 and np.abs(c[1] - ct[1]) <= 1 and np.abs(c[0] - ct[0]) <= 1, (h, ht, c, ct)
        assert set(np.unique(moved)) <= {0, 1, 2}  # labels moved, never blended
    empty = maps.gam_numbers(torch.from_numpy(src)[None], torch.zeros(1, 64, 64, dtype=torch.uint8))
    assert torch.equal(empty, torch.tensor([[1.0, 0.0, 0.0]]))  # an empty layout: identity


def test_wcn_warp_source_blends_the_source_moved_by_the_flow_through_its_mask():
    """composition.warp gam: person = (1 - m_w) tanh(D_f) + m_w W(source, flow_gain w), with the decoder's channels
    4-5 the flow in pixels and 6 the mask's logit; the background mask M stays channel 3. With parts the flow moves the
    part-warped photo instead, which must be given exactly then."""
    from reenactor.methods.remot.networks import WholeComposition

    torch.manual_seed(0)
    net = WholeComposition(2, 9, 4, 2, 1, True, "none", warp_source="gam")
    source = torch.rand(1, 3, 16, 16) * 2 - 1
    args = (torch.zeros(1, 6, 16, 16), torch.zeros(1, 9, 16, 16), source)
    person, mask = net(*args)  # the real decoder: 7 channels
    assert person.shape == (1, 3, 16, 16) and mask.shape == (1, 1, 16, 16)
    out = torch.zeros(1, 7, 16, 16)
    out[:, :3], out[:, 3], out[:, 4], out[:, 5] = 0.5, 2.0, 2.0, -1.0  # flow: sample 2 px right, 1 px up

    class Fixed(torch.nn.Module):
        def forward(self, x, skips):
            return out

    net.decoder = Fixed()
    for logit, w in ((30.0, 1.0), (-30.0, 0.0), (0.0, 0.5)):
        out[:, 6] = logit
        person, mask = net(*args)
        moved = torch.zeros(1, 3, 16, 16)
        moved[:, :, 1:, :14] = source[:, :, :15, 2:]  # out[y, x] = source[y - 1, x + 2] inside the frame
        expect = (1 - w) * torch.tanh(torch.tensor(0.5)) + w * moved
        assert torch.allclose(person[:, :, 1:, :14], expect[:, :, 1:, :14], atol=1e-5), logit
        assert torch.allclose(mask, torch.sigmoid(torch.tensor(2.0)).expand_as(mask))
    out[:, 6], out[:, 4], out[:, 5] = (
        30.0,
        4.0,
        -2.0,
    )  # twice the flow, at flow_gain 0.5 (remot's inference option)
    net.flow_gain = 0.5
    assert torch.allclose(net(*args)[0][:, :, 1:, :14], moved[:, :, 1:, :14], atol=1e-5)
    net.flow_gain = 0.0  # the source as it is
    assert torch.allclose(net(*args)[0], source, atol=1e-5)
    net.flow_gain = 1.0
    out[:, 4], out[:, 5] = 2.0, -1.0
    with pytest.raises(ValueError, match="parts"):
        net(*args, source)
    parts = torch.cat([torch.rand(1, 3, 16, 16) * 2 - 1, torch.rand(1, 1, 16, 16)], 1)  # RGB, alpha
    moved[:, :, 1:, :14] = parts[:, :3, :15, 2:]
    for into in ("coarse", "source"):
        torch.manual_seed(0)
        net = WholeComposition(2, 9, 4, 2, 1, True, "none", warp_source="parts", parts_into=into)
        seen = {}
        for name in ("E_1", "E_3"):  # which encoder takes the moved photo (and its alpha)
            net.get_submodule(name).register_forward_pre_hook(
                lambda m, a, n=name, d=seen: d.__setitem__(n, a[0])
            )
        net.decoder = Fixed()
        out[:, 6] = 30.0
        person, _ = net(*args, parts)
        assert torch.allclose(person[:, :, 1:, :14], moved[:, :, 1:, :14], atol=1e-5)
        if into == "coarse":
            assert torch.equal(seen["E_1"], torch.cat([args[0], parts], 1)) and torch.equal(
                seen["E_3"], source
            )
        else:
            assert torch.equal(seen["E_3"], torch.cat([source, parts[:, :3]], 1)) and torch.equal(
                seen["E_1"], args[0]
            )
        with pytest.raises(ValueError, match="parts"):
            net(*args)


def test_warp_mask_loss_pulls_m_w_to_the_moved_pixels_where_they_match_the_frame():
    """Few-shot vid2vid's mask loss: c = clamp(1 - sum_rgb |moved - real|, 0, 1); mean(c (1 - m_w) + (1 - c) m_w).
    Where the moved photo equals the frame its gradient raises m_w, where it is off by more than 1 it lowers it,
    and a half-right pixel pays the same whatever m_w is."""
    from reenactor.methods.remot.networks import warp_mask_loss

    real = torch.zeros(1, 3, 1, 3)
    moved = real.clone()
    moved[0, :, 0, 1] = 1.0  # sum_rgb error 3: c = 0
    moved[0, 0, 0, 2] = 0.5  # error 0.5: c = 0.5
    m_w = torch.full((1, 1, 1, 3), 0.3, requires_grad=True)
    loss = warp_mask_loss(m_w, moved, real)
    assert torch.isclose(loss, torch.tensor((0.7 + 0.3 + 0.5) / 3))
    loss.backward()
    g = m_w.grad[0, 0, 0]
    assert g[0] < 0 and g[1] > 0 and g[2] == 0  # descent raises m_w where the photo fits, lowers it where not


def test_a_model_file_from_before_the_warp_key_loads_as_it_was_built(staged, tmp_path, astronaut_small):
    """composition.warp became a key (parts by default: 3 more E_3 inputs and decoder outputs); a model file whose
    stored config lacks it is the WCN without the warp, loaded through open_model and rendered."""
    from reenactor.modelfile import open_model, save_model

    for built, dropped, key, value in (
        ({"warp": "none"}, ("warp", "warp_flow", "parts_into"), "warp", "none"),
        # composition.parts_into came later: a parts model file without it fed the moved photo to E_3
        ({"warp": "parts", "parts_into": "source"}, ("parts_into",), "parts_into", "source"),
        # composition.tam_norm came before its softmax default: a file without it has the TAM as written
        ({"tam_norm": "none", "tam_temperature": 1.0}, ("tam_norm", "tam_temperature"), "tam_norm", "none"),
    ):
        m = tiny(composition=built)
        tensors, meta = m.inference_state()
        config = to_dict(m.cfg)
        for k in dropped:
            del config["composition"][k]
        path = save_model(tmp_path / f"old_{key}.safetensors", "remot", config, tensors, meta)
        tm = open_model(path)
        assert getattr(tm.synthesizer.cfg.composition, key) == value
        tm.synthesizer.set_reference(astronaut_small)
        frame = tm.synthesizer.step(_pose(staged, 50), {"background": np.full((S, S, 3), 90, np.uint8)})
        assert frame.shape == (S, S, 3)


def test_gam_numbers_of_a_batch_on_the_device_equal_the_per_item_numbers():
    """Issue 30: the training step's GAM numbers come from batched torch (no read back per step), equal to the
    per-item NumPy numbers of the poses' global alignment (layout_box + alignment_numbers, float32), empty
    layouts (identity) included."""
    from reenactor.pose.normalize import alignment_numbers

    rng = np.random.default_rng(0)
    src, tgt = np.zeros((6, 40, 48), np.uint8), np.zeros((6, 40, 48), np.uint8)
    for i in range(6):
        for lay in (src, tgt):
            r0, c0 = rng.integers(0, 30), rng.integers(0, 38)
            lay[i, r0 : r0 + rng.integers(1, 10), c0 : c0 + rng.integers(1, 10)] = rng.integers(1, 6)
    src[4] = 0  # an empty source, an empty target
    tgt[5] = 0
    got = maps.gam_numbers(torch.from_numpy(src), torch.from_numpy(tgt))
    want = np.tile(np.array([1, 0, 0], np.float32), (6, 1))
    for i in range(4):
        (hs,), (cs,) = layout_box(src[i] > 0, 0.5)
        (ht,), (ct,) = layout_box(tgt[i] > 0, 0.5)
        want[i] = alignment_numbers(hs, cs, ht, ct)
    assert got.dtype == torch.float32 and np.array_equal(got.numpy(), want)
    assert not np.array_equal(want[:4], np.tile(want[4], (4, 1)))  # the four real ones move the layout


def test_gam_edges_scale_and_anchor_on_the_sides_the_frame_does_not_cut():
    """model.gam_edges: boxes inside the frame get eq. 4's numbers; an upper body cut by the frame's bottom
    (carphone's framing) is moved by its top and scaled by its width, not shrunk when the head moves down."""

    def box(r0, r1, c0, c1):
        a = np.zeros((64, 64), np.uint8)
        a[r0:r1, c0:c1] = 2
        return torch.from_numpy(a)[None]

    inside = [box(10, 30, 20, 28), box(20, 50, 30, 40), box(5, 62, 10, 26)]
    for a in inside:
        for b in inside:
            assert torch.equal(maps.gam_numbers(a, b, edges=True), maps.gam_numbers(a, b))
    # bottom and both sides cut: the head 3 px lower; eq. 4 shrinks the source by 57/60, the edge rule moves it
    src, tgt = box(4, 64, 0, 64), box(7, 64, 0, 64)
    assert maps.gam_numbers(src, tgt)[0, 0] < 0.96
    assert torch.allclose(maps.gam_numbers(src, tgt, edges=True), torch.tensor([[1.0, 0.0, 3.0]]))
    # bottom cut, sides free: scale by the widths (2x), top and centre column anchored
    src, tgt = box(10, 64, 20, 40), box(20, 64, 10, 50)
    nums = maps.gam_numbers(src, tgt, edges=True)
    assert torch.allclose(nums, torch.tensor([[2.0, -30.0, 0.0]]))
    oh = torch.from_numpy(maps.one_hot(src[0].numpy()))[None]
    moved = gam_warp(oh, nums, mode="nearest")[0].argmax(0).numpy() > 0
    rows, cols = np.nonzero(moved.any(1))[0], np.nonzero(moved.any(0))[0]
    assert abs(rows[0] - 20) <= 1 and abs(cols[0] - 10) <= 1 and abs(cols[-1] + 1 - 50) <= 1
    # the shoulders fill the width (both sides cut): x follows the head (class 1), y the top
    src, tgt = box(4, 64, 0, 64), box(7, 64, 0, 64)
    src[0, 4:20, 20:36], tgt[0, 7:23, 17:33] = 1, 1
    assert torch.allclose(maps.gam_numbers(src, tgt, edges=True), torch.tensor([[1.0, -3.0, 3.0]]))


# ------------------------------------------------------------------------------------------ data, losses, gradients
def test_items_and_shapes(staged):
    m = tiny()
    ds = m.build_dataset(staged, pairs=None)
    items = items_of(ds, 2)
    t = 1 + 2  # k + window
    assert {k: (tuple(v.shape), v.dtype) for k, v in items.items()} == {
        "source_image": ((2, 3, S, S), torch.uint8), "source_layout": ((2, S, S), torch.uint8),
        "pose_body": ((2, t, 25, 3), torch.float32), "pose_face": ((2, t, 68, 3), torch.float32),
        "pose_hand_left": ((2, t, 21, 3), torch.float32), "pose_hand_right": ((2, t, 21, 3), torch.float32),
        "layouts": ((2, t, S, S), torch.uint8), "frames": ((2, t, 3, S, S), torch.uint8),
        "backgrounds": ((2, t, 3, S, S), torch.uint8), "face_theta": ((2, t, 2, 3), torch.float32),
        "face_valid": ((2, t), torch.float32), "cold": ((2,), torch.float32),
        "parts": ((2, 2, 4, S, S), torch.uint8),  # composition.warp parts (the default): one per generated frame
    }  # fmt: skip
    b = m.prepare_batch(items)
    shapes = {k: tuple(v.shape) for k, v in b.items()}
    assert shapes == {
        "source_image": (2, 3, S, S), "source_layout": (2, S, S), "poses": (2, t, 3, S, S),
        "layouts": (2, t, S, S), "frames": (2, t, 3, S, S), "backgrounds": (2, t, 3, S, S),
        "face_theta": (2, t, 2, 3), "face_valid": (2, t), "cold": (2,), "parts": (2, 2, 4, S, S),
    }  # fmt: skip
    assert b["layouts"].max() < 6 and (b["layouts"] > 0).float().mean() > 0.1 and b["face_valid"].all()
    assert (
        b["layouts"].dtype == b["source_layout"].dtype == torch.int64 and b["frames"].dtype == torch.float32
    )


def test_parts_item_is_the_source_moved_onto_each_window_frame(staged):
    """composition.warp parts: ``parts`` holds, per generated frame, the source frame moved part by part onto that
    frame's keypoints (its own pixels back where its keypoints are the same; the frame of a moved pose otherwise),
    and prepare_batch gives it in [-1, 1], 0 off the person, with its alpha."""
    from reenactor.data.pairs import FramePair

    m = tiny(composition={"warp": "parts"})
    ds = m.build_dataset(staged, pairs=None)
    item = ds.item(FramePair(0, 40, 40, 0))  # the source is the last window frame
    parts = item["parts"].numpy()
    assert parts.shape == (2, 4, S, S) and parts.dtype == np.uint8
    src, alpha = item["source_image"].numpy().astype(np.float32), parts[-1, 3] > 200
    assert alpha.mean() > 0.15
    assert (
        np.abs(parts[-1, :3].astype(np.float32) - src)[:, alpha].mean() < 2
    )  # its own frame: its own pixels
    moved = ds.item(FramePair(0, 40, 90, 0))["parts"].numpy()[-1]  # another pose: the person moved
    assert list(ds._warpers) == [(0, 40)]  # one source frame: its warper made once
    assert np.array_equal(ds.item(FramePair(0, 40, 40, 0))["parts"].numpy(), parts)
    assert np.abs(moved[:3].astype(np.float32) - src)[:, alpha].mean() > 10
    b = m.prepare_batch(torch.utils.data.default_collate([item]))
    unit = b["parts"][0, -1]  # RGB in [-1, 1], 0 off the person; then the alpha in [0, 1]
    assert unit.shape == (4, S, S) and float(unit[:3, torch.from_numpy(parts[-1, 3] == 0)].abs().max()) == 0.0
    assert float(unit[:3].min()) >= -1 and float(unit[:3].max()) <= 1
    assert torch.allclose(unit[3], torch.from_numpy(parts[-1, 3] / 255.0).float())


def _host_item(ds, i: int) -> dict[str, np.ndarray]:
    """Item ``i`` as remot drew it before the device path: per frame on the host, the stick figure by OpenCV
    (:func:`reenactor.pose.render.draw_pose`) and the images by NumPy, in [-1, 1]."""
    from reenactor.nn.convert import to_unit
    from reenactor.pose.render import draw_pose

    np.random.seed(i)
    p = ds.pair(i)
    times = [max(p.target_t - (ds.n_frames - 1) + j, 0) for j in range(ds.n_frames)]
    frame = lambda c, t: to_unit(ds.frame(c, t))  # noqa: E731
    return {
        "poses": np.stack(
            [to_unit(draw_pose((ds.s, ds.s), ds.keypoints(p.clip, t), thresh=maps.CONF)) for t in times]
        ),
        "frames": np.stack([frame(p.clip, t) for t in times]),
        "backgrounds": np.stack([to_unit(ds.background(p.clip, t)) for t in times]),
        "layouts": np.stack([maps.classes(ds.layout(p.clip, t)).astype(np.int64) for t in times]),
        "source_image": frame(p.source_clip, p.source_t),
        "source_layout": maps.classes(ds.layout(p.source_clip, p.source_t)).astype(np.int64),
    }


@pytest.mark.parametrize("size", [S, 128])
def test_device_batch_equals_the_host_drawn_items(staged, astronaut_small, size, monkeypatch):
    """The compact items through prepare_batch give what per-item host drawing gave: images and class maps
    exactly, stick figures within the renderer's tolerance (exact at 32 px, where every line is 1 pixel wide;
    tests/test_render_torch.py), and transfer's synthesizer draws the driving pose with the same renderer."""
    from test_render_torch import MAX_DRAWN_SHARE, MAX_IMAGE_SHARE, record_calls, synthesizer_of

    m = tiny(size=size)
    ds = m.build_dataset(staged, pairs=None)
    idx = [3, 40, 77]
    items = []
    for i in idx:
        np.random.seed(i)
        items.append(ds[i])
    b = m.prepare_batch(torch.utils.data.default_collate(items))
    for j, i in enumerate(idx):
        want = _host_item(ds, i)
        for k in ("frames", "backgrounds", "layouts", "source_image", "source_layout"):
            assert b[k][j].dtype == torch.from_numpy(want[k]).dtype and np.array_equal(
                b[k][j].numpy(), want[k]
            ), k
        got, ref = b["poses"][j].numpy(), want["poses"]
        differ, drawn = (got != ref).any(1), (ref > -1).any(1) | (got > -1).any(1)
        assert differ.mean((1, 2)).max() <= MAX_IMAGE_SHARE
        assert (differ.sum((1, 2)) <= MAX_DRAWN_SHARE * drawn.sum((1, 2))).all()
        assert (size == S) <= (differ.sum() == 0)
    if size != S:
        return
    drawn_poses = record_calls(monkeypatch, maps, "stick_figures")
    synth = synthesizer_of(m, astronaut_small)
    np.random.seed(idx[0])
    p = ds.pair(idx[0])
    synth.step(ds.keypoints(p.clip, p.target_t), {"background": np.zeros((S, S, 3), np.uint8)})
    assert torch.equal(drawn_poses[-1][0], b["poses"][0, -1])


def test_unit_from_uint8_is_to_unit_bit_for_bit():
    from reenactor.nn.convert import to_unit, unit_from_uint8

    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    img = np.stack([x, x.T, 255 - x], -1)
    assert np.array_equal(
        unit_from_uint8(torch.from_numpy(img.transpose(2, 0, 1).copy())).numpy(), to_unit(img)
    )


def test_gradients_reach_every_trainable_parameter(staged):
    m = tiny()
    b = batch_of(m, m.build_dataset(staged, pairs=None), 2)
    b["cold"] = torch.tensor([1.0, 0.0])
    out = m.generator_step(b, 0)
    assert set(out.losses) == {
        "layout_ce", "layout_gan", "layout_fm", "layout_flow",
        "region_rec", "region_per", "region_style", "region_gan",
        "wcn_rec", "wcn_per", "wcn_style", "wcn_gan", "wcn_fm", "wcn_face", "wcn_mask", "wcn_warp_mask", "wcn_warp",
        "wcn_flow_reg",
    }  # fmt: skip
    assert all(torch.isfinite(v) and v.dim() == 0 for v in out.losses.values())
    off = tiny(composition={"lambda_warp_mask": 0.0, "lambda_warp": 0.0, "lambda_flow_reg": 0.0})
    assert not {"wcn_warp_mask", "wcn_warp", "wcn_flow_reg"} & set(
        off.generator_step(b, 0).losses
    )  # weight 0: not computed
    sum(out.losses.values()).backward()
    named = dict(m.named_parameters())
    g = {id(p) for p in m.generator_parameters()}
    missing = [n for n, p in named.items() if id(p) in g and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing, missing
    assert len(g) == sum(1 for n in m.generators().values() for _ in n.parameters())
    frozen = list(m.perceptual.net.parameters())
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)
    d = m.discriminator_step(b, 0, out.cache)
    assert set(d) == {"d_layout", "d_region", "d_frame", "d_face"}
    for p in m.discriminator_parameters():
        p.grad = None
    sum(d.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.discriminator_parameters())


def test_lambda_per_zero_loads_no_feature_net_and_computes_no_perceptual_term(staged):
    """The CPU default weighs eq. 7 at 0 (docs/remot.md): then no feature net is built, no perceptual term is
    computed, and every generator parameter still gets a gradient; one stage at 0 keeps the other's term."""
    m = tiny(region={"lambda_per": 0.0}, composition={"lambda_per": 0.0})
    assert m.perceptual is None
    b = batch_of(m, m.build_dataset(staged, pairs=None), 2)
    out = m.generator_step(b, 0)
    assert not {"region_per", "region_style", "wcn_per", "wcn_style"} & set(out.losses)
    sum(out.losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.generator_parameters())
    half = tiny(region={"lambda_per": 0.0})
    assert half.perceptual is not None
    losses = half.generator_step(b, 0).losses
    assert "wcn_per" in losses and "region_per" not in losses


@pytest.mark.parametrize("bad", ["model.composition.tam_temperature=0", "model.size=36"])
def test_a_value_the_method_refuses_stops_train_before_it_writes_anything(staged, tmp_path, capsys, bad):
    """Method.check_config runs before the run folder or the clips' stages are touched: one message naming the
    key, exit 2, no folder left behind."""
    out = tmp_path / "run"
    args = ["train", "--method", "remot", "--clips", str(staged[0].path), "-o", str(out), "--steps", "1"]
    assert main([*args, "--set", bad]) == 2
    assert bad.split("=")[0].split(".")[-1] in capsys.readouterr().err and not out.exists()


def test_previous_generated_feeds_the_region_gan_its_own_first_frame(staged):
    """region.previous: generated: the window's first frame sees the Region GAN's own regions of the frame before
    (made with no history, without gradient; zeros for a cold item), not the real ones; the WCN's previous
    coarse frame is their sum. real: the real regions, as before."""
    calls = []
    for previous in ("real", "generated"):
        m = tiny(region={"previous": previous})
        b = batch_of(m, m.build_dataset(staged, pairs=None), 2)
        b["cold"] = torch.tensor([1.0, 0.0])
        seen = []
        hook = m.RegionGAN.register_forward_hook(
            lambda mod, args, out, seen=seen: seen.append(
                (args[2].detach().clone(), out.detach().clone(), torch.is_grad_enabled())
            )
        )
        out = m.generator_step(b, 0)
        hook.remove()
        calls.append(seen)
        n_r = maps.N_REGIONS
        if previous == "real":
            assert len(seen) == m.cfg.window
            onehot = torch.nn.functional.one_hot(b["layouts"][:, 0].long(), maps.N_CLASSES).permute(
                0, 3, 1, 2
            )
            real = (b["frames"][:, 0, None] * onehot[:, 1:, None]).flatten(0, 1)
            assert (
                torch.equal(seen[0][0][n_r:], real[n_r:].to(seen[0][0].dtype))
                and seen[0][0][:n_r].abs().sum() == 0
            )
        else:
            assert len(seen) == m.cfg.window + 1
            first_prev, first_out, grad = seen[0]
            assert not grad and first_prev.abs().sum() == 0  # no history, no gradient
            prev = seen[1][0]
            assert prev[:n_r].abs().sum() == 0  # the cold item: zeros
            assert torch.allclose(prev[n_r:], first_out[n_r:]) and prev[n_r:].abs().sum() > 0
        assert all(torch.isfinite(v) for v in out.losses.values())


@pytest.mark.parametrize(
    "switches",
    [{}, {"gam_edges": True, "region": {"previous": "generated"}, "composition": {"warp": "parts"}}],
    ids=["default", "edges_generated_warp"],
)
def test_a_training_step_never_waits_for_the_device(staged, monkeypatch, switches):
    """prepare_batch + both steps + backward read no device value back and make no data-dependent shape (on a GPU
    each would stall the host), items without a face included; also with the GAM's border rule and generated
    history and the WCN's source warp."""
    m = tiny(**switches)
    items = items_of(m.build_dataset(staged, pairs=None), 2)
    items["face_valid"][0] = 0.0
    assert step_reads(m, items, monkeypatch) == []


@pytest.mark.parametrize(
    "stage, key, switches",
    [
        ("layout", "layout_ce", {}),
        ("region", "region_rec", {}),
        ("wcn", "wcn_rec", {}),
        ("wcn", "wcn_rec", {"composition": {"warp": "gam"}}),
        ("wcn", "wcn_rec", {"composition": {"warp": "parts"}}),
    ],
    ids=["layout", "region", "wcn", "wcn_warp_gam", "wcn_warp_parts"],
)
def test_each_stage_loss_falls_on_a_fixed_batch(staged, stage, key, switches):
    m = tiny(stage=stage, **switches)
    b = batch_of(m, m.build_dataset(staged, pairs=None), 2, seed=3)
    opt = torch.optim.Adam(m.generator_parameters(), lr=3e-3, betas=(0.5, 0.999))
    first = last = None
    for _ in range(12):
        opt.zero_grad()
        losses = m.generator_step(b, 0).losses
        sum(losses.values()).backward()
        opt.step()
        last = float(losses[key].detach())
        first = last if first is None else first
    assert last < 0.8 * first, (first, last)
    others = [n for s, n in (("layout", m.LayoutGAN), ("region", m.RegionGAN), ("wcn", m.WCN)) if s != stage]
    assert not any(p.requires_grad for n in others for p in n.parameters())


@pytest.mark.parametrize(
    "switch",
    [{"gam": False}, {"wcn": False}, {"composition": {"tam": False}}, {"composition": {"warp": "parts"}}],
    ids=["no_gam", "no_wcn", "no_tam", "warp_parts"],
)
def test_ablation_switches_build_train_and_render(staged, switch, astronaut_small):
    m = tiny(**switch)
    b = batch_of(m, m.build_dataset(staged, pairs=None), 2)
    out = m.generator_step(b, 0)
    assert all(torch.isfinite(v) for v in out.losses.values())
    assert ("wcn_rec" in out.losses) == (switch != {"wcn": False})
    assert (m.WCN is None) == (switch == {"wcn": False})
    tensors, meta = m.inference_state()
    synth = type(m).synthesizer(m.cfg, tensors, meta)
    synth.set_reference(astronaut_small)
    pose = _pose(staged, 50)
    frames = [synth.step(pose, {"background": np.full((S, S, 3), 90, np.uint8)}) for _ in range(2)]
    assert frames[1].shape == (S, S, 3) and frames[1].dtype == np.uint8
    with pytest.raises(ConfigError, match="w/o WCN"):
        tiny(wcn=False, stage="wcn")


def _pose(staged, t: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(staged[0].store.load(k)[t]) * np.array([S / 128, S / 128, 1], np.float32)
            for k in ("body", "face", "hand_left", "hand_right")}  # fmt: skip


@pytest.fixture(scope="module")
def astronaut_small():
    from reenactor.reference import load_reference

    return load_reference(ASTRONAUT, S)


def test_synthesizer_feeds_back_history_and_bf16_matches(staged, astronaut_small):
    m = tiny()
    tensors, meta = m.inference_state()
    a = type(m).synthesizer(m.cfg, tensors, meta)
    h = type(m).synthesizer(m.cfg, tensors, meta, precision="bf16")
    bg = {"background": np.full((S, S, 3), 90, np.uint8)}
    outs = []
    for s in (a, h):
        s.set_reference(astronaut_small)
        s.reset()
        outs.append([s.step(_pose(staged, t), bg).astype(int) for t in (40, 41, 42)])
        assert s.input_view().shape == (S, S, 3)
    assert np.abs(outs[0][2] - outs[1][2]).mean() < 12
    a.reset()  # a fresh video starts cold again: the same first frame
    assert np.array_equal(a.step(_pose(staged, 40), bg), outs[0][0])


# ------------------------------------------------------------------------------------------ runs and the CLI
def _run(clips, out, stage: str, init_from=None, steps: int = 1):
    from reenactor.train.run import run_training

    model = {**TINY, "stage": stage, "init_from": None if init_from is None else str(init_from)}
    data = {
        "method": "remot",
        "model": model,
        "trainer": {**QUIET, "steps": steps, "batch_size": 2},
        "data": {"clips": [str(c.path) for c in clips]},
    }
    return run_training(data, [], run_dir=out)


def test_per_stage_runs_chain_through_init_from(staged, tmp_path):
    from reenactor.modelfile import load_model

    a = load_model(_run(staged, tmp_path / "layout", "layout"))
    assert a.meta["stages"] == ["layout"] and {k.split(".")[0] for k in a.tensors} == {
        "LayoutGAN",
        "RegionGAN",
        "WCN",
    }
    b = load_model(_run(staged, tmp_path / "region", "region", init_from=a.path))
    assert b.meta["stages"] == ["layout", "region"]
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors if k.startswith("LayoutGAN."))
    c = load_model(_run(staged, tmp_path / "wcn", "wcn", init_from=b.path))
    assert c.meta["stages"] == ["layout", "region", "wcn"]
    assert all(torch.equal(b.tensors[k], c.tensors[k]) for k in b.tensors if k.startswith("RegionGAN."))
    assert any(not torch.equal(b.tensors[k], c.tensors[k]) for k in c.tensors if k.startswith("WCN."))
    with pytest.raises(CheckpointError, match="does not fit this run's config"):
        tiny(init_from=str(b.path), region={"ngf": 8})


def test_shipped_configs_document_every_key():
    from reenactor.config import PACKAGED_CONFIGS

    for name in ("default", "paper"):
        path = PACKAGED_CONFIGS / "remot" / f"{name}.yaml"
        model = load_yaml(path)["model"]
        flat = to_dict(from_dict(RemotConfig, model))
        for section in ("layout", "region", "composition"):
            assert set(model[section]) == set(flat[section]), (name, section)
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#") and not line.rstrip().endswith(":"):
                assert "#" in line, (name, line)
        if name == "default":
            assert flat == to_dict(RemotConfig())
        else:
            assert flat["size"] == 256 and (flat["region"]["lambda_rec"], flat["region"]["lambda_per"]) == (
                10,
                10,
            )
            n_tam = (flat["size"] // 2 ** flat["composition"]["n_down"]) ** 2
            assert n_tam == 1024  # the TAM's N at 256 px, as the notes' 1/4 of 128 px


def test_train_save_load_transfer_through_the_cli(clip_copy, tmp_path, capsys):
    from reenactor.io.video import iter_frames, probe

    conf = tmp_path / "tiny.yaml"
    conf.write_text(
        yaml.safe_dump({"model": TINY, "trainer": {**QUIET, "batch_size": 2}, "data": {"holdout": 8}})
    )
    run = tmp_path / "run"
    assert main(["train", "--method", "remot", "--config", str(conf), "--clips", str(clip_copy.root),
                 "--steps", "2", "-o", str(run)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert (run / "model.safetensors").is_file()
    # data.holdout 8: the clip's last 8 frames were kept out and fit flow_gain, through transfer's path
    from reenactor.modelfile import load_model, open_model

    meta = load_model(run / "model.safetensors").meta
    errs = meta["calibration"]["flow_gain"]
    gain = meta["calibrated"]["flow_gain"]
    assert list(errs) == [str(g) for g in get_method("remot").FLOW_GAINS] and errs[str(gain)] == min(
        errs.values()
    )
    assert len(set(errs.values())) > 1  # the gain changes what is drawn
    assert f"calibrated flow_gain = {gain} on 8 held-out frames of 1 clip(s)" in out
    assert open_model(run / "model.safetensors").synthesizer.flow_gain == gain
    assert (
        open_model(run / "model.safetensors", options={"flow_gain": 0.3}).synthesizer.nets["WCN"].flow_gain
        == 0.3
    )
    video = tmp_path / "out.mp4"
    args = ["transfer", "--model", str(run / "model.safetensors"), "--target-image", ASTRONAUT,
            "--driving", str(clip_copy.root), "--max-frames", "3", "--side-by-side", "-o", str(video)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[remot] target:" in out and "wrote" in out
    info = probe(video)
    assert info.n_frames == 3 and (info.height, info.width) == (S, 3 * S)
    assert list(iter_frames(video))[0][:, S : 2 * S].mean() > 10  # the middle panel: the generated layout
    from _cloning_fixtures import export_untrained, make_clip

    other = export_untrained("cloning", tmp_path / "cloning.safetensors", [make_clip(tmp_path / "c", n=6)])
    bad = tmp_path / "bad.mp4"
    args[2], args[-1] = str(other), str(bad)
    assert main([*args, "--method", "remot"]) == 2
    assert "trained with method 'cloning', not 'remot'" in capsys.readouterr().err and not bad.exists()
    with pytest.raises(CheckpointError, match="model.init_from is a model of method 'cloning'"):
        tiny(init_from=str(other))


def test_wcn_inference_option_renders_the_coarse_person_and_is_declared_as_an_ablation(
    staged, astronaut_small
):
    """--no-wcn (the paper's w/o WCN from the same weights): the coarse person pasted over B where the generated
    layout is not background, i.e. B itself on background pixels; declared as the model's ablation row, and
    refused (--wcn) for a model trained without a WCN."""
    from reenactor.errors import InputError

    m = tiny()
    cls = type(m)
    tensors, meta = m.inference_state()
    bg = np.full((S, S, 3), 90, np.uint8)
    frames = {}
    for wcn in (None, False):
        synth = cls.synthesizer(m.cfg, tensors, meta, options={"wcn": wcn})
        assert synth.use_wcn == (wcn is None)
        synth.set_reference(astronaut_small)
        frames[wcn] = synth.step(_pose(staged, 50), {"background": bg})
        if wcn is None:
            assert cls.ablations(synth) == [(" w/o WCN", {"wcn": False})]
        else:
            assert cls.ablations(synth) == []
            lab = synth.input_view()
            person = np.any(lab != maps.colourize(np.zeros((S, S), np.uint8)), axis=-1)
            assert np.array_equal(frames[False][~person], bg[~person]) and person.any() and (~person).any()
    assert np.abs(frames[None].astype(int) - frames[False].astype(int)).mean() > 1
    m2 = tiny(wcn=False)
    t2, meta2 = m2.inference_state()
    assert cls.ablations(cls.synthesizer(m2.cfg, t2, meta2)) == []
    with pytest.raises(InputError, match="trained without a Whole Composition Network"):
        cls.synthesizer(m2.cfg, t2, meta2, options={"wcn": True})


def test_ablation_verdicts_read_the_rows():
    from reenactor.evaluation.remot_ablation import beats, ordering

    rows = [
        {"method": "hold", "masked_ssim": 0.60, "masked_psnr": 18.0},
        {"method": "pose_warp", "masked_ssim": 0.80, "masked_psnr": 19.0},
        {"method": "remot", "masked_ssim": 0.70, "masked_psnr": 20.0},
        {"method": "remot w/o TAM", "masked_ssim": 0.71, "masked_psnr": 19.5},
        {"method": "remot w/o WCN", "masked_ssim": 0.50, "masked_psnr": 15.0},
    ]
    assert beats(rows) == [
        "- remot masked_ssim 0.7 vs hold 0.6: beats it",
        "- remot masked_ssim 0.7 vs pose_warp 0.8: does NOT beat it",
    ]
    ssim, psnr = ordering(rows)
    assert ssim.endswith("does NOT hold") and "remot 0.7 >= remot w/o TAM 0.71 >= remot w/o WCN 0.5" in ssim
    assert psnr.endswith(": holds")
    assert ordering(rows[:3]) == []


def test_remot_ablation_benchmark_in_one_command(carphone_clip, tmp_path, capsys):
    """`reenactor benchmark remot-ablation` end to end with tiny networks: three remot runs through `reenactor
    train`'s own path (the ablation switches in their stored configs), the protocol's rows with w/o WCN from
    the full model only, TCM in every row, the verdict lines; run again, the finished runs are reused."""
    import json

    from reenactor.modelfile import load_model

    out = tmp_path / "ra"
    n = carphone_clip.n_frames
    sets = ["model.size=128", "model.face_crop=8", "trainer.batch_size=2", "trainer.ema=0", "data.holdout=8"]
    for net in ("layout", "region", "composition"):
        sets += [f"model.{net}.{k}={v}" for k, v in NET.items()]
    args = ["benchmark", "remot-ablation", "--clip", str(carphone_clip.root), "-o", str(out), "--size", "128",
            "--steps", "2", "--no-single-shot", "--reference-frame", "40", "--first-driving", str(n - 3),
            "--no-progress", *(x for s in sets for x in ("--set", s))]  # fmt: skip
    assert main(args) == 0
    log = capsys.readouterr().out
    assert log.count("[remot-ablation] remot") == 3 and "--set model.gam=false" in log
    res = json.loads((out / "ablation.json").read_text())
    names = [r["method"] for r in res["rows"]]
    assert names == ["hold", "pose_warp", "remot", "remot w/o WCN", "remot w/o GAM", "remot w/o TAM"]
    assert all(0 < r["tcm"] <= 1 and r["frames"] == 3 for r in res["rows"])
    assert (out / "remot_wo_WCN.mp4").is_file() and not [
        p for p in out.iterdir() if p.is_dir() and "remot" in p.name
    ]
    cfg = {k: load_model(out / "runs" / d / "model.safetensors").config for k, d in
           (("gam", "remot_wo_GAM"), ("tam", "remot_wo_TAM"), ("full", "remot"))}  # fmt: skip
    assert not cfg["gam"]["gam"] and cfg["gam"]["composition"]["tam"]
    assert cfg["tam"]["gam"] and not cfg["tam"]["composition"]["tam"]
    assert cfg["full"]["gam"] and cfg["full"]["composition"]["tam"] and cfg["full"]["size"] == 128
    from reenactor.io.video import probe

    info = probe(out / "photo_side_by_side.mp4")  # the astronaut: driving | remot (single_shot left out)
    assert (info.n_frames, info.height, info.width) == (3, 128, 256) and (out / "photo_frames.png").is_file()
    text = (out / "ablation.md").read_text()
    assert (
        "photo_side_by_side.mp4" in text
        and "vs pose_warp" in text
        and text.count("hold") >= 2
        and "masked_psnr: remot" in text
    )
    gains = [load_model(out / "runs" / d / "model.safetensors").meta["calibrated"]["flow_gain"]
             for d in ("remot", "remot_wo_GAM", "remot_wo_TAM")]  # fmt: skip
    assert [f"| flow_gain {g} |" in text for g in gains] == [True] * 3  # each run's fitted gain in its table
    stamp = (out / "runs" / "remot" / "model.safetensors").stat().st_mtime_ns
    assert main([*args, "--force"]) == 0
    assert "reusing the finished run" in capsys.readouterr().out
    assert (out / "runs" / "remot" / "model.safetensors").stat().st_mtime_ns == stamp


def test_single_image_protocol_refuses_a_per_person_method_by_name_and_by_model_file(carphone_clip, tmp_path):
    from _cloning_fixtures import export_untrained, make_clip
    from reenactor.errors import InputError
    from reenactor.evaluation.single_image import SingleImageOptions, run

    n = carphone_clip.n_frames
    base = dict(clip=str(carphone_clip.root), out_dir=tmp_path / "si", reference_frame=n - 3, first_driving=n - 2,
                write_train_clip=False, progress=False)  # fmt: skip
    with pytest.raises(InputError, match="cloning is a per-person method; this protocol compares reference"):
        run(SingleImageOptions(methods=("cloning",), **base))
    other = export_untrained("cloning", tmp_path / "c.safetensors", [make_clip(tmp_path / "c", n=6)])
    with pytest.raises(InputError, match="mine is a per-person method"):
        run(SingleImageOptions(methods=("mine",), models={"mine": str(other)}, **base))
