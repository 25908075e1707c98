"""Performance cloning (Aberman et al. 2019): pose volumes, alignment, dataset, losses (eqs. 1-6), schedule, synthesizer,
and train -> save -> load -> transfer through the one trainer on a tiny clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _cloning_fixtures import (  # noqa: F401 - _one_torch_thread: autouse fixture
    TINY_MODEL,
    _one_torch_thread,
    export_untrained,
    make_clip,
    skeleton,
)
from reenactor.config import from_dict
from reenactor.methods import get_method
from reenactor.methods.cloning.dataset import PoseVolumeDataset
from reenactor.methods.cloning.volumes import FACE_GROUPS, VolumeEncoder, fit_alignment, normalize_channels
from reenactor.nn.convert import to_uint8

#: the batched torch renderer (training batches and inference) against the NumPy encoder, per value: the two
#: exp() implementations differ in the last float32 bit; volume values reach ~50 (unit variance, peaked maps)
VOLUME_ATOL = 1e-4


def close(a, b) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=0.0, atol=VOLUME_ATOL))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("cloning")
    return (
        root,
        make_clip(root / "target", n=12),
        make_clip(root / "other", n=10, phase=1.0, scale=0.8, seed=1),
    )


def tiny(method: str = "cloning", **model):
    cls = get_method(method)
    conf = {**TINY_MODEL, **model}
    torch.manual_seed(0)
    return cls(from_dict(cls.Config, conf))


# ------------------------------------------------------------------------------------------ pose volumes
def test_volume_channels_are_standardized_and_peak_at_the_joint():
    body = skeleton(0.0, 32)
    body[3, 2] = 0.0  # a missing joint
    enc = VolumeEncoder((32, 32), "body", sigma=2.0)
    vol = enc(body)
    assert vol.shape == (25, 32, 32) and vol.dtype == np.float32
    present = body[:, 2] > 0
    assert np.allclose(vol[present].mean(axis=(1, 2)), 0, atol=1e-4)
    assert np.allclose(vol[present].std(axis=(1, 2)), 1, atol=1e-3)
    assert not vol[~present].any()
    j = 4  # RWrist: the map's maximum sits on the joint
    y, x = np.unravel_index(np.argmax(vol[j]), vol[j].shape)
    assert abs(x - body[j, 0]) <= 1 and abs(y - body[j, 1]) <= 1
    assert normalize_channels(np.zeros((2, 4, 4))).sum() == 0


def test_one_pass_standardized_maps_equal_the_two_step_form():
    from reenactor.methods.cloning.volumes import standardized_gaussian_maps
    from reenactor.pose.render import part_confidence_maps

    rng = np.random.default_rng(0)
    body = np.concatenate([rng.uniform(-5, 35, (25, 2)), rng.uniform(0, 1, (25, 1))], 1).astype(np.float32)
    body[0] = (500.0, 500.0, 1.0)  # far outside: an all-zero channel
    body[1, 2] = 0.0  # missing
    for size, sigma in (((40, 40), 3.0), ((48, 32), 1.5)):
        ref = normalize_channels(part_confidence_maps(body, size, sigma))
        got = standardized_gaussian_maps(body, size, sigma)
        assert got.shape == ref.shape and np.abs(got - ref).max() < 2e-4 * max(1.0, np.abs(ref).max())
        live = ref.std(axis=(1, 2)) > 0.5
        assert not got[0].any() and not got[1].any() and live.sum() >= 10
        assert np.allclose(got[live].std(axis=(1, 2)), 1, atol=1e-3) and np.allclose(
            got[live].mean(axis=(1, 2)), 0, atol=1e-4
        )


def test_recycled_batch_buffers_give_the_same_inputs(clips):
    _, target, _ = clips
    m = tiny()
    from reenactor.methods.cloning.synthesizer import PoseVolumeSynthesizer, build_generator, volume_encoder

    s = PoseVolumeSynthesizer(build_generator(m.cfg), volume_encoder(m.cfg), 2)
    poses = [{"body": b} for b in target.load("body")[:9]]
    whole = s._inputs(poses).numpy().copy()  # noqa: SLF001
    s.reset()
    parts = []
    for i in range(0, 9, 3):  # same shapes: each batch after the first reuses a released buffer
        x = s.prepare(poses[i : i + 3])
        parts.append(x.numpy().copy())
        s.release(x)
    assert np.array_equal(np.concatenate(parts), whole)
    # A recycled buffer is the array prepare() allocated, not a view of the last tensor: old batch tensors are
    # freed (a chain of views kept every batch alive: +0.6 MB per batch over a long video).
    import gc
    import weakref

    x1 = s.prepare(poses[:3])
    s.release(x1)
    ref, ptr = weakref.ref(x1), x1.data_ptr()
    del x1
    x2 = s.prepare(poses[3:6])
    gc.collect()
    assert ref() is None and x2.data_ptr() == ptr and len(s._lent) <= 8  # noqa: SLF001
    c = s.encoder.n_channels
    vols = [s.encoder(p) for p in poses]
    assert close(whole[0, :c], vols[0]) and close(whole[0, c:], vols[0])  # start: repeated
    for t in range(1, 9):
        assert close(whole[t, :c], vols[t - 1]) and close(whole[t, c:], vols[t])


@pytest.mark.parametrize("face,frames", [(True, 2), (False, 3), (False, 1)])
def test_batched_inputs_match_the_encoder_for_any_batching(clips, face, frames):
    """Face-group channels (built by the NumPy encoder) and N = 3 / N = 1 histories, batches of uneven sizes:
    frame t's input is volumes t-N+1 .. t (the first repeated at the start), exactly the encoder's."""
    _, target, _ = clips
    m = tiny(volume={"face": face, "frames": frames})
    from reenactor.methods.cloning.synthesizer import PoseVolumeSynthesizer, build_generator, volume_encoder

    s = PoseVolumeSynthesizer(build_generator(m.cfg), volume_encoder(m.cfg), frames)
    body, fc = target.load("body"), target.load("face")
    poses = [{"body": body[t], "face": fc[t]} for t in range(9)]
    got = []
    for a, b in ((0, 1), (1, 3), (3, 6), (6, 9)):
        x = s.prepare(poses[a:b])
        got.append(x.numpy().copy())
        s.release(x)
    got = np.concatenate(got)
    vols = [s.encoder(p) for p in poses]
    c = s.encoder.n_channels
    for t in range(9):
        want = np.concatenate([vols[max(t - frames + 1 + i, 0)] for i in range(frames)])
        assert got[t].shape == (c * frames, 32, 32) and close(got[t], want), t


def test_upper_body_and_face_channels():
    body = skeleton(0.0, 32)
    face = np.zeros((68, 3), np.float32)
    face[48:68] = (16.0, 20.0, 1.0)  # only the mouth is seen
    enc = VolumeEncoder((32, 32), "upper_body", face=True)
    vol = enc({"body": body, "face": face})
    assert vol.shape == (15 + len(FACE_GROUPS), 32, 32) and enc.n_channels == vol.shape[0]
    mouth = list(FACE_GROUPS).index("mouth")
    assert vol[15 + mouth].std() > 0.5 and not vol[15 : 15 + mouth].any()


def test_alignment_recovers_scale_and_translation():
    target = np.stack([skeleton(0.3 * i, 64) for i in range(10)])
    source = target.copy()
    source[..., :2] = target[..., :2] * 0.5 + np.array([7.0, -3.0])
    a = fit_alignment(source, target)
    assert a.scale == pytest.approx(2.0, rel=1e-4)
    assert np.allclose(a.apply(source)[..., :2], target[..., :2], atol=1e-3)
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 0] = 1.5
    warped = a.warp_flow(flow, (64, 64))
    inside = warped[40, 40]
    assert inside[0] == pytest.approx(3.0) and inside[1] == pytest.approx(0.0)  # vectors scale with the frame


# ------------------------------------------------------------------------------------------ dataset + losses
def test_dataset_items(clips):
    _, target, other = clips
    m = tiny()
    ds = m.build_dataset([target], [other])
    assert len(ds) == 11 and ds.has_unpaired
    raw = ds[0]  # compact: keypoints and uint8 frames; volumes are rendered batched on the device
    assert raw["joints"].shape == (2, 25, 3) and raw["frames"].dtype == torch.uint8 and "pose" not in raw
    it = {k: v[0] for k, v in m.prepare_batch(torch.utils.data.default_collate([raw])).items()}
    assert it["pose"].shape == (50, 32, 32) and it["image"].shape == (6, 32, 32)
    assert it["image"].min() >= -1 and it["image"].max() <= 1
    assert it["u_pose"].shape == (50, 32, 32) and it["u_flow"].shape == (2, 32, 32)
    assert (
        it["u_alpha"].shape == (1, 32, 32)
        and 0 <= float(it["u_alpha"].min())
        and float(it["u_alpha"].max()) <= 1
    )
    # the image channels are the two consecutive target frames
    f = target.frames()
    assert np.allclose((it["image"][3:].numpy().transpose(1, 2, 0) + 1) * 127.5, f[1], atol=0.51)


def test_unpaired_poses_aligned_onto_the_target_or_kept(clips):
    _, target, other = clips
    fit = tiny().build_dataset([target], [other])
    kept = tiny(unpaired_align="none").build_dataset([target], [other])
    raw = other.load("body")
    assert np.array_equal(kept.unpaired[0].body, raw)  # same frame size: as they are
    a = fit.unpaired[0].align
    assert a.scale == pytest.approx(1 / 0.8, rel=0.05)  # the other clip's figure is 0.8x the target's
    assert np.allclose(fit.unpaired[0].body[..., :2], raw[..., :2] * a.scale + [a.tx, a.ty], atol=1e-4)


def test_schedule_and_gradients_reach_every_parameter(clips):
    _, target, other = clips
    m = tiny(loss={"paired_only": 0.25})
    ds = m.build_dataset([target], [other])
    batch = m.prepare_batch(torch.utils.data.default_collate([ds[i] for i in range(3)]))
    m.schedule(0.24)
    early = m.generator_step(batch, step=0)
    assert set(early.losses) == {"vgg", "l1", "gan_p"}  # lambda_s = 0: paired branch only (section 3.2)
    m.schedule(0.25)
    late = m.generator_step(batch, step=5)
    assert m.unpaired_from_step == 5
    m.unpaired_from_step = None
    m.cfg.loss.paired_only = 0.0  # no paired-only stage: the branch is on from the first step, told or not
    m.schedule(0.0)
    assert m.unpaired_active(batch, 0) and m.unpaired_from_step == 0
    assert set(late.losses) == {"vgg", "l1", "gan_p", "gan_s", "tc"}
    sum(late.losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.G.parameters())
    d = m.discriminator_step(batch, 5, late.cache)
    assert set(d) == {"d_p", "d_s"}
    sum(d.values()).backward()
    assert all(p.grad is not None for p in m.discriminator_parameters())


def test_temporal_loss_is_zero_for_flow_consistent_frames():
    m = tiny()
    torch.manual_seed(0)
    a = torch.rand(1, 3, 32, 32) * 2 - 1
    b = torch.roll(a, shifts=2, dims=3)  # everything moves 2 px right
    flow = torch.zeros(1, 2, 32, 32)
    flow[:, 0] = 2.0
    alpha = torch.ones(1, 1, 32, 32)
    consistent = m.temporal_loss(torch.cat([a, b], 1), flow, alpha)
    wrong = m.temporal_loss(torch.cat([a, b], 1), -flow, alpha)
    assert float(consistent) < 0.02 < float(wrong)


def test_paired_loss_falls_on_a_fixed_batch(clips):
    _, target, _ = clips
    m = tiny()
    ds = m.build_dataset([target])
    batch = m.prepare_batch(torch.utils.data.default_collate([ds[i] for i in range(4)]))
    opt = torch.optim.Adam(m.G.parameters(), lr=2e-3)
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss = m.generator_step(batch, 0).losses["vgg"]
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.75 * first


def test_synthesizer_batches_like_single_steps(clips):
    _, target, _ = clips
    m = tiny()
    m.fit_data(m.build_dataset([target]))
    tensors, meta = m.inference_state()
    assert meta["frames"] == 2 and "train_pose.body" in tensors
    # each window's last frame (the window mean's batching: test_window_mean_averages_every_drawing_...)
    s1 = type(m).synthesizer(m.cfg, tensors, meta, options={"window_mean": False})
    s2 = type(m).synthesizer(m.cfg, tensors, meta, options={"window_mean": False})
    poses = [{"body": b} for b in target.load("body")[:6]]
    one = np.stack([s1.step(p) for p in poses])
    batch = np.concatenate([s2.step_batch(poses[:4]), s2.step_batch(poses[4:])])
    assert one.shape == (6, 32, 32, 3) and np.abs(one.astype(int) - batch.astype(int)).max() <= 1
    s1.reset()
    assert np.array_equal(s1.step(poses[0]), one[0])  # reset forgets the previous pose


def test_pix2pix_is_the_paired_branch_alone(clips, logged):
    _, target, other = clips
    m = tiny("pix2pix")
    assert m.cfg.volume.frames == 1 and m.D_s is None
    ds = m.build_dataset([target], [other])
    assert "unpaired clips are not used" in logged()
    batch = m.prepare_batch(torch.utils.data.default_collate([ds[0]]))
    assert batch["pose"].shape == (1, 25, 32, 32) and batch["image"].shape == (1, 3, 32, 32)
    assert "u_pose" not in batch
    out = m.generator_step(batch, step=10**6)
    assert set(out.losses) == {"vgg", "l1", "gan_p"}


# ------------------------------------------------------------------------------------------ end to end
def test_train_save_load_transfer(clips, tmp_path):
    from reenactor.train.checkpoint import load_model
    from reenactor.train.config import build_run_config, method_config
    from reenactor.train.trainer import Trainer
    from reenactor.transfer import transfer

    _, target, other = clips
    run = build_run_config(
        {
            "method": "cloning",
            "model": {**TINY_MODEL, "loss": {"paired_only": 0.5}},
            "trainer": {
                "steps": 4,
                "batch_size": 2,
                "ema": 0.0,
                "tensorboard": False,
                "image_every": 0,
                "progress": False,
                "device": "cpu",
            },
        }
    )
    cls = get_method("cloning")
    m = cls(method_config(cls, run.model))
    path = Trainer(m, run, tmp_path / "run").fit(m.build_dataset([target], [other]))
    assert m.unpaired_from_step == 2  # paired_only 0.5 of 4 steps
    loaded = load_model(path, expect_method="cloning")
    assert loaded.meta["unpaired_branch"] and loaded.meta["n_train_poses"] == 12
    got: list[np.ndarray] = []
    res = transfer(
        path, other.root, tmp_path / "out.mp4", side_by_side=True, progress=False, frame_sink=got.append
    )
    assert res.n_frames == other.n_frames == len(got) and got[0].shape == (32, 32, 3)
    assert (tmp_path / "out.mp4").stat().st_size > 0 and res.normalizer_path.exists()


def test_a_short_default_run_exports_weights_close_to_the_trained_ones(clips, tmp_path):
    """The EMA warm-up: a 200-step run with the trainer's default EMA (0.999 from step 100) exports a model that
    renders its own training poses about as well as the raw generator weights (without the warm-up, 90 % of the
    exported weights were still step 100's). cloning's own default config trains without EMA."""
    from reenactor.modelfile import open_model
    from reenactor.train.run import run_training

    _, target, _ = clips
    frames = np.asarray(target.load("frames"))
    mse = {}
    for ema in (0.999, 0.0):
        trainer = {
            "steps": 200,
            "tensorboard": False,
            "image_every": 0,
            "progress": False,
            "ema": ema,
            "ema_start": 100,
            "lr": 2e-4,
            "checkpoint_every": 500,
        }
        path = run_training(
            {
                "method": "cloning",
                "model": TINY_MODEL,
                "trainer": trainer,
                "data": {"target": [str(target.root)]},
            },
            run_dir=tmp_path / f"ema{ema}",
        )
        synth = open_model(path).synthesizer
        got = synth.step_batch(
            [{k: np.asarray(target.load(k)[t]) for k in ("body", "face")} for t in range(target.n_frames)]
        )
        mse[ema] = float(np.mean([(np.asarray(g, float) - f) ** 2 for g, f in zip(got, frames)]))
    assert mse[0.999] <= 1.1 * mse[0.0], mse


@pytest.mark.parametrize("face", [False, True])
def test_torch_renderer_equals_the_numpy_encoder(face):
    """VolumeEncoder.render (batched torch: training batches and inference) against the per-pose NumPy encoder,
    with random joints and face points inside and outside the frame and random confidences."""
    rng = np.random.default_rng(0)
    enc = VolumeEncoder((40, 36), "upper_body", 3.0, face, 1.5)
    body = np.concatenate([rng.uniform(-5, 45, (6, 25, 2)), rng.uniform(0, 1, (6, 25, 1))], -1).astype(
        np.float32
    )
    fc = np.concatenate([rng.uniform(0, 40, (6, 68, 2)), rng.uniform(0, 1, (6, 68, 1))], -1).astype(
        np.float32
    )
    want = np.stack([enc({"body": body[i], "face": fc[i]}) for i in range(6)])
    got = enc.render(torch.from_numpy(enc.select(body)), torch.from_numpy(enc.clean_face(fc)))
    assert got.shape == want.shape and close(got.numpy(), want)


def test_batched_device_path_equals_the_per_item_host_path(clips):
    """The data path: compact items rendered batched on the device (prepare_batch) give what per-item NumPy
    rendering on the host gave (host_volumes=True), augmentation and unpaired branch included."""
    _, target, other = clips
    m = tiny(augment={"prob": 0.5, "background": "warp", "rotate": 10.0})
    new = m.build_dataset([target], [other])
    old = PoseVolumeDataset(m.cfg, [target], [other], host_volumes=True)
    items_new, items_old = [], []
    for i in range(len(new)):
        for ds, out in ((new, items_new), (old, items_old)):
            np.random.seed(i)  # the same augmentation draw and unpaired pick
            torch.manual_seed(i)
            out.append(ds[i])
    a = m.prepare_batch(torch.utils.data.default_collate(items_new))
    b = m.prepare_batch(torch.utils.data.default_collate(items_old))  # already rendered: passed through
    assert set(a) == set(b) == {"pose", "image", "u_pose", "u_flow", "u_alpha"}
    for k in a:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype == torch.float32, k
        assert close(a[k].numpy(), b[k].numpy()), (k, float((a[k] - b[k]).abs().max()))


def test_alpha_leaves_out_limbs_whose_joints_are_guesses():
    """eq. 4's alpha(y) weighs only limbs whose two joints reach ``loss.alpha_conf``: an elbow MediaPipe guesses
    (confidence 0.3) adds its upper arm at the default 0.05 and not at 0.5."""
    from reenactor.methods.cloning.dataset import limb_alpha
    from reenactor.pose.skeleton import J

    enc = VolumeEncoder((64, 64), "upper_body", 3.0)
    body = np.zeros((25, 3), np.float32)
    for name, x, y, c in [
        ("Neck", 32, 20, 1),
        ("RShoulder", 20, 22, 1),
        ("LShoulder", 44, 22, 1),
        ("LElbow", 50, 45, 0.3),
    ]:
        body[J[name]] = (x, y, c)
    joints = torch.from_numpy(enc.select(body[None]))
    low, high = (limb_alpha(joints, enc, 3.0, conf)[0] for conf in (0.05, 0.5))
    arm = (slice(33, 38), slice(46, 49))  # on the upper arm, halfway from the left shoulder to the elbow
    assert low[arm].min() > 0.5 and high[arm].max() < 0.05
    shoulders = (20, 32)
    assert low[shoulders] > 0.9 and high[shoulders] > 0.9


@pytest.mark.parametrize("frames", [2, 3])
def test_window_mean_averages_every_drawing_of_a_frame_for_any_batching(clips, frames):
    """G draws each frame of its N-frame window: with ``window_mean`` frame t is the mean of what windows t ..
    t+N-1 drew of it, whatever the batches and look-ahead (fewer windows at the video's end); without it, frame t
    is window t's last frame."""
    from reenactor.methods.cloning.synthesizer import PoseVolumeSynthesizer, build_generator, volume_encoder

    _, target, _ = clips
    m = tiny(volume={"frames": frames})
    body = target.load("body")
    poses = [{"body": body[t]} for t in range(9)]
    s = PoseVolumeSynthesizer(build_generator(m.cfg), volume_encoder(m.cfg), frames, window_mean=True)
    assert s.lookahead == frames - 1
    y = s.generate_windows(s._inputs(poses)).float()  # noqa: SLF001 - every window of the whole video at once
    n = frames
    want = []
    for t in range(9):
        drawn = [y[t + k, 3 * (n - 1 - k) : 3 * (n - k)] for k in range(n) if t + k < 9]
        want.append(torch.stack(drawn).mean(0))
    want = to_uint8(torch.stack(want))
    for cuts in ((0, 9), (0, 1, 3, 6, 9), (0, 4, 5, 9)):
        s.reset()
        got = np.concatenate(
            [s.step_batch(poses[a:b], poses[b : b + s.lookahead]) for a, b in zip(cuts, cuts[1:])]
        )
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1, cuts
    last = PoseVolumeSynthesizer(s.G, s.encoder, frames)  # window_mean off: each window's last frame
    assert last.lookahead == 0
    plain = last.step_batch(poses)
    assert np.abs(plain.astype(int) - to_uint8(y[:, -3:]).astype(int)).max() <= 1
    assert np.abs(plain.astype(int) - want.astype(int)).max() > 1  # the mean is not the last frames
    single = tiny(volume={"frames": 1}).cfg  # N = 1 (pix2pix): one drawing per frame, nothing to wait for
    assert (
        PoseVolumeSynthesizer(build_generator(single), volume_encoder(single), 1, window_mean=True).lookahead
        == 0
    )


def test_transfer_gives_the_window_mean_for_any_batch_size_and_pipeline(clips, tmp_path):
    """``reenactor transfer`` hands the synthesizer the poses after each batch: batch sizes 1, 3 and 8, with and
    without the threaded pipeline, render the same frames; ``--no-window-mean`` renders each window's last."""
    from reenactor.transfer import transfer

    _, target, other = clips
    path = export_untrained("cloning", tmp_path / "m.safetensors", [target])
    runs = {}
    for batch, pipeline, mean in ((8, False, True), (3, True, True), (1, False, True), (3, False, False)):
        got: list[np.ndarray] = []
        transfer(
            path,
            other.root,
            tmp_path / f"o{batch}{pipeline}{mean}.mp4",
            progress=False,
            batch_size=batch,
            pipeline=pipeline,
            method_options={"window_mean": mean},
            frame_sink=got.append,
        )
        assert len(got) == other.n_frames
        runs[batch, pipeline, mean] = np.stack(got).astype(int)
    base = runs[8, False, True]
    assert np.abs(runs[3, True, True] - base).max() <= 1 and np.abs(runs[1, False, True] - base).max() <= 1
    assert np.abs(runs[3, False, False] - base).max() > 1


def test_d_s_has_its_own_patch_size():
    """``discriminator.n_layers_s``: D_s's stride-2 layers, so its patches can stay a small part of a 128 px frame
    (the paper's 70 px PatchGAN on 256 px frames) while D_p keeps ``n_layers``; None gives D_s ``n_layers``."""
    x = torch.zeros(1, 6, 32, 32)
    m = tiny(discriminator={"ndf": 8, "n_layers": 3, "n_layers_s": 2})
    p = m.D_p(torch.zeros(1, 2 * (3 + m.n_joints), 32, 32))[0][-1]
    s = m.D_s(x)[0][-1]
    assert s.shape[-1] > p.shape[-1]  # one stride-2 layer fewer: patch logits on a finer grid
    same = tiny(discriminator={"ndf": 8, "n_layers": 3, "n_layers_s": None})
    assert same.D_s(x)[0][-1].shape == p.shape
