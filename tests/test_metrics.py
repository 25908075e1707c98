"""Unit tests of reenactor.metrics: golden values, cross-checks with scikit-image / scipy, weight loading."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reenactor.errors import CheckpointError
from reenactor.metrics import image as im

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def _natural(h: int = 64, w: int = 80) -> np.ndarray:
    from reenactor.io.video import read_image
    from reenactor.samples import sample_path

    a = read_image(sample_path("astronaut"))
    return np.ascontiguousarray(a[40 : 40 + 4 * h : 4, 150 : 150 + 4 * w : 4])


# ----------------------------------------------------------------------------------------------- SSIM / PSNR
@pytest.mark.parametrize("gaussian", [False, True])
def test_ssim_matches_skimage(gaussian):
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False) if gaussian else {}
    nat = _natural()
    cases = [
        (
            rng.integers(0, 256, (40, 56, 3), dtype=np.uint8),
            rng.integers(0, 256, (40, 56, 3), dtype=np.uint8),
        ),
        (nat, np.clip(nat + rng.normal(0, 12, nat.shape), 0, 255).astype(np.uint8)),
        (nat, np.roll(nat, 2, axis=1)),
        (nat, (nat * 0.7 + 30).astype(np.uint8)),
    ]
    for a, b in cases:
        ref = structural_similarity(a, b, channel_axis=-1, data_range=255, **kw)
        assert abs(im.ssim(a, b, gaussian) - ref) < 1e-4
    # masked SSIM is SSIM of the masked frames
    mask = np.zeros(nat.shape[:2], np.uint8)
    mask[10:50, 20:60] = 255
    b = cases[1][1]
    ref = structural_similarity(
        nat * (mask[..., None] > 0), b * (mask[..., None] > 0), channel_axis=-1, data_range=255, **kw
    )
    assert abs(im.masked_ssim(nat, b, mask, gaussian) - ref) < 1e-4


def test_ssim_psnr_golden_values():
    a = np.full((16, 16, 3), 100, np.uint8)
    # constant images: only the luminance term is left
    assert im.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    b = np.full((16, 16, 3), 110, np.uint8)
    assert im.ssim(a, b) == pytest.approx((2 * 100 * 110 + C1) / (100**2 + 110**2 + C1), abs=1e-10)
    black, white = np.zeros_like(a), np.full_like(a, 255)
    assert im.ssim(black, white) == pytest.approx(C1 / (255**2 + C1), abs=1e-10)
    # PSNR: MSE 100 -> 10 log10(255² / 100)
    assert im.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-9)
    assert im.psnr(a, b) == pytest.approx(28.130803608679, abs=1e-9)
    c = a.copy()
    c[0, 0, 0] = 101  # one pixel off by 1: MSE = 1 / 768
    assert im.psnr(a, c) == pytest.approx(10 * math.log10(255**2 * 768), abs=1e-9)
    assert im.psnr(black, white) == pytest.approx(0.0, abs=1e-12)
    assert im.psnr(a, a) == math.inf


def test_masked_variants_ignore_background():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    b = a.copy()
    b[:, :16] = rng.integers(0, 256, (32, 16, 3), dtype=np.uint8)  # differ only on the left half
    mask = np.zeros((32, 32), np.uint8)
    mask[:, 16:] = 255
    assert im.psnr(a, b) < 20
    assert im.masked_psnr(a, b, mask) == math.inf
    assert im.masked_ssim(a, b, mask) == pytest.approx(1.0, abs=1e-12)
    # difference inside the person: the masked PSNR sees all of it (same squared error, same pixel count)
    mask_all = np.full((32, 32), 255, np.uint8)
    assert im.masked_psnr(a, b, mask_all) == pytest.approx(im.psnr(a, b))
    assert im.binarize_mask(np.array([[0, 127, 128, 255]], np.uint8)).tolist() == [[False, False, True, True]]
    with pytest.raises(ValueError):
        im.apply_mask(a, np.ones((8, 8), np.uint8))


# ----------------------------------------------------------------------------------------------- FID
def test_frechet_distance_matches_scipy_sqrtm():
    import scipy.linalg

    from reenactor.metrics.fid import FeatureStats, frechet_distance

    rng = np.random.default_rng(0)
    for n1, n2, d in ((50, 60, 16), (200, 150, 8), (12, 10, 32)):  # the last is rank-deficient (N < D)
        a = rng.normal(size=(n1, d)) @ rng.normal(size=(d, d)) * 0.5
        b = rng.normal(size=(n2, d)) * 1.3 + 0.2
        m1, s1 = a.mean(0), np.cov(a, rowvar=False)
        m2, s2 = b.mean(0), np.cov(b, rowvar=False)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        direct = float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))
        ours = frechet_distance(m1, s1, m2, s2)
        assert ours == pytest.approx(direct, rel=1e-6, abs=1e-6)
        # the streaming statistics equal numpy's
        st1, st2 = FeatureStats(d), FeatureStats(d)
        for chunk in np.array_split(a, 3):
            st1.update(chunk)
        st2.update(torch.from_numpy(b))
        mu, cov = st1.mean_cov()
        np.testing.assert_allclose(mu, m1, atol=1e-10)
        np.testing.assert_allclose(cov, s1, atol=1e-9)
        assert (st1._rows is not None) == (n1 < d)  # few samples: the exact n1 x n2 shortcut is used
        assert st1.distance(st2) == pytest.approx(ours, rel=1e-6)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-6)
    # golden: 1-D Gaussians N(0, 4) and N(3, 1): 9 + 4 + 1 - 2*2 = 10
    assert frechet_distance(np.zeros(1), np.eye(1) * 4, np.full(1, 3.0), np.eye(1)) == pytest.approx(10.0)


def test_inception_layout_and_file_loading(tmp_path):
    from safetensors.torch import save_file

    from reenactor.metrics.fid import InceptionV3Pool, load_fid_extractor

    torch.manual_seed(0)
    net = InceptionV3Pool(fid=True)
    sd = net.state_dict()
    # torchvision / pytorch-fid key layout
    assert tuple(sd["Conv2d_1a_3x3.conv.weight"].shape) == (32, 3, 3, 3)
    assert tuple(sd["Mixed_5b.branch_pool.conv.weight"].shape) == (32, 192, 1, 1)
    assert tuple(sd["Mixed_6b.branch7x7dbl_5.conv.weight"].shape) == (192, 128, 1, 7)
    assert tuple(sd["Mixed_7c.branch3x3dbl_3b.bn.running_var"].shape) == (384,)
    # torchvision's inception_v3 has 27,161,264 parameters; minus fc (2,049,000) and AuxLogits (3,326,696)
    assert sum(p.numel() for p in net.parameters()) == 27_161_264 - 2_049_000 - 3_326_696
    # a pytorch-fid style file: 1008-class fc, no BN step counters -> FID blocks
    state = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"] = torch.zeros(1008, 2048)
    state["fc.bias"] = torch.zeros(1008)
    fid_file = tmp_path / "pt_inception.pth"
    torch.save(state, fid_file)
    loaded = load_fid_extractor(fid_file, verbose=False)
    assert loaded.name == "fid" and loaded.fid_blocks
    x = torch.rand(2, 3, 40, 48) * 2 - 1
    f = loaded(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    torch.testing.assert_close(f, net(x))
    # a torchvision-style safetensors file (1000 classes) -> stock blocks
    state["fc.weight"] = torch.zeros(1000, 2048)
    state["fc.bias"] = torch.zeros(1000)
    tv_file = tmp_path / "inception.safetensors"
    save_file(state, str(tv_file))
    assert not load_fid_extractor(tv_file, verbose=False).fid_blocks
    # wrong files raise a clear CheckpointError
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(CheckpointError, match="not an Inception-v3 state dict"):
        load_fid_extractor(bad, verbose=False)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_fid_extractor(junk, verbose=False)


def test_fid_missing_file_falls_back_with_notice(logged, tmp_path):
    from reenactor.metrics.fid import load_fid_extractor

    net = load_fid_extractor(tmp_path / "missing.pth")
    out = logged()
    assert "not found" in out and "fid_effnet" in out
    assert net.name == "fid_effnet" and net.dim == 1280
    f = net(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert f.shape == (2, 1280)


# ----------------------------------------------------------------------------------------------- LPIPS
def test_lpips_real_linear_layers_load():
    from reenactor.metrics.lpips import LPIPS_CHANNELS, load_lin_layers, lpips_lin_path

    for net in ("alex", "vgg"):
        path = lpips_lin_path(net)
        assert path.is_file() and path.parent.name == "v0.1"
        lins = load_lin_layers(net)
        assert [tuple(w.shape) for w in lins] == [(1, c, 1, 1) for c in LPIPS_CHANNELS[net]]
        # learned weights: non-negative, not uniform
        for w in lins:
            assert (w >= 0).all() and w.std() > 0


@pytest.mark.parametrize("net_cls,suffix", [("AlexNetFeatures", ".pth"), ("VGG16Features", ".safetensors")])
def test_lpips_on_backbone_file(tmp_path, net_cls, suffix):
    from safetensors.torch import save_file

    from reenactor.metrics import lpips as lp

    torch.manual_seed(0)
    backbone = getattr(lp, net_cls)()
    state = dict(backbone.state_dict())
    state["classifier.1.weight"] = torch.zeros(4, 4)  # torchvision files carry the classifier: ignored
    path = tmp_path / f"backbone{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    metric = lp.load_lpips(path, verbose=False)
    assert metric.name == "lpips"
    assert metric.net_name == ("alex" if net_cls == "AlexNetFeatures" else "vgg")
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 48, 48, generator=g) * 2 - 1
    assert torch.allclose(metric(a, a), torch.zeros(2))
    # the formula by hand: scaling layer, unit-normalised features, learned weights, spatial mean, sum
    b = (a + 0.3 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    fa, fb = backbone((a - shift) / scale), backbone((b - shift) / scale)
    want = sum(
        (
            (w.view(1, -1, 1, 1))
            * (x / (x.norm(dim=1, keepdim=True) + 1e-10) - y / (y.norm(dim=1, keepdim=True) + 1e-10)) ** 2
        )
        .sum(1)
        .mean((1, 2))
        for x, y, w in zip(fa, fb, lp.load_lin_layers(metric.net_name))
    )
    torch.testing.assert_close(metric(a, b), want, rtol=1e-5, atol=1e-7)
    # more noise, larger distance
    c = (a + 0.8 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    assert (metric(a, c) > metric(a, b)).all()


def test_lpips_bad_and_missing_files(tmp_path, logged):
    from reenactor.metrics.lpips import load_lpips

    metric = load_lpips(None)
    out = logged()
    assert "lpips_effnet" in out and "NOT comparable" in out
    assert metric.name == "lpips_effnet"
    a = torch.rand(2, 3, 40, 40) * 2 - 1
    assert torch.allclose(metric(a, a), torch.zeros(2))
    assert (metric(a, torch.flip(a, dims=[3])) > 0).all()
    vgg19ish = tmp_path / "vgg19.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, vgg19ish)
    with pytest.raises(CheckpointError, match="missing"):
        load_lpips(vgg19ish, verbose=False)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    with pytest.raises(CheckpointError, match="AlexNet/VGG16"):
        load_lpips(other, verbose=False)


# ----------------------------------------------------------------------------------------------- TCM
def _moving_frames(n: int = 8, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """A textured scene panned by a varying amount per frame (non-uniform motion)."""
    nat = _natural(h, w + 24)
    shifts = np.cumsum([0, 2, 1, 3, 2, 1, 2, 3, 1, 2][:n])
    return [np.ascontiguousarray(nat[:, s : s + w]) for s in shifts]


def test_tcm_reference_points_and_monotonic():
    from reenactor.metrics.tcm import tcm, warp_backward

    # backward warping with a constant flow u = 2 is a shift
    img = _natural(32, 40)
    flow = np.zeros((32, 40, 2), np.float32)
    flow[..., 0] = 2
    np.testing.assert_allclose(warp_backward(img, flow)[:, :-2], img[:, 2:].astype(np.float32))
    gt = _moving_frames()
    assert tcm(gt, gt) == pytest.approx(math.exp(-1), abs=1e-9)  # identical: the ground truth's own score
    const = [np.full_like(f, 90) for f in gt]
    assert tcm(const, gt) == pytest.approx(1.0, abs=1e-6)  # exactly flow-consistent: the maximum
    rng = np.random.default_rng(0)
    noisy = [
        tcm([np.clip(f + rng.normal(0, s, f.shape), 0, 255).astype(np.uint8) for f in gt], gt)
        for s in (2, 6, 15)
    ]
    assert math.exp(-1) > noisy[0] > noisy[1] > noisy[2] > 0


# ----------------------------------------------------------------------------------------------- pose
def test_pose_accuracy_golden():
    from reenactor.metrics.pose import BODY_PARTS, body_height, compare_keypoints

    t = 3
    ref = np.zeros((t, 25, 3), np.float32)
    ref[:, :, 0] = np.arange(25)[None] * 2.0 + 10
    ref[:, :, 1] = np.linspace(0, 100, 25)[None]  # body height 100 -> PCK threshold 5 px
    ref[:, :, 2] = 1.0
    ref[:, 19:, 2] = 0.0  # no feet in the reference
    assert body_height(ref).tolist() == pytest.approx([np.linspace(0, 100, 25)[18]] * t)
    pred = ref.copy()
    pred[:, :, 0] += 3.0
    pred[:, :, 1] += 4.0  # every joint 5 px off
    pred[:, 19:, 2] = 1.0
    r = compare_keypoints({"body": pred}, {"body": ref})
    h = float(np.linspace(0, 100, 25)[18])
    assert r["body"]["mean_px_error"] == pytest.approx(5.0)
    assert r["body"]["pck"] == (1.0 if 5.0 <= 0.05 * h else 0.0)
    assert "feet" not in r["parts"] and set(r["parts"]) == set(BODY_PARTS) - {"feet"}
    # move the arms further, drop the head in the prediction
    pred2 = pred.copy()
    pred2[:, BODY_PARTS["arms"], 0] += 20
    pred2[:, BODY_PARTS["head"], 2] = 0
    r2 = compare_keypoints({"body": pred2}, {"body": ref})
    assert r2["parts"]["head"]["detected"] == 0.0 and r2["parts"]["head"]["pck"] == 0.0
    assert r2["parts"]["head"]["mean_px_error"] is None
    assert r2["parts"]["arms"]["mean_px_error"] == pytest.approx(math.hypot(23, 4))
    assert r2["parts"]["torso"]["mean_px_error"] == pytest.approx(5.0)
    assert r2["per_frame"]["pose_error"].shape == (t,)
    # PCK boundary: 0.05 x height; one px inside vs outside
    near = ref.copy()
    near[:, :, 0] += 0.05 * h - 0.01
    far = ref.copy()
    far[:, :, 0] += 0.05 * h + 0.01
    assert compare_keypoints({"body": near}, {"body": ref})["body"]["pck"] == 1.0
    assert compare_keypoints({"body": far}, {"body": ref})["body"]["pck"] == 0.0


def test_pose_reference_npz(tmp_path):
    from reenactor.errors import InputError
    from reenactor.metrics.pose import load_pose_reference

    body = np.ones((4, 25, 3), np.float32) * 10
    np.savez(tmp_path / "ref.npz", body=body, size=np.array([64, 64]))
    kp, notes = load_pose_reference(tmp_path / "ref.npz", (128, 64))
    assert kp["body"][0, 0, 1] == 20 and kp["body"][0, 0, 0] == 10 and notes
    np.savez(tmp_path / "bad.npz", face=body)
    with pytest.raises(InputError, match="body"):
        load_pose_reference(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="not found"):
        load_pose_reference(tmp_path / "nope.npz")


# ----------------------------------------------------------------------------------------------- identity
def test_face_descriptors_distinguish_people():
    from reenactor.face.identity import FaceDescriber, descriptor_distance, model_path
    from reenactor.io.video import iter_frames, read_image
    from reenactor.samples import sample_path

    assert model_path("resnet").is_file()
    fd = FaceDescriber()
    astro = fd.describe(read_image(sample_path("astronaut")))
    frames = list(iter_frames(sample_path("carphone"), stop=40))
    man0, man1 = fd.describe(frames[0]), fd.describe(frames[39])
    assert astro is not None and man0 is not None and man1 is not None
    assert astro.descriptor.shape == (128,)
    assert descriptor_distance(man0.descriptor, fd.describe(frames[0]).descriptor) == pytest.approx(
        0.0, abs=1e-6
    )
    assert descriptor_distance(man0.descriptor, man1.descriptor) < 0.6  # same person
    assert descriptor_distance(man0.descriptor, astro.descriptor) > 0.6  # different people
    assert fd.describe(np.full((96, 96, 3), 128, np.uint8)) is None


def test_identity_reference_image_and_errors(tmp_path):
    from reenactor.errors import InputError
    from reenactor.io.video import iter_frames, write_image
    from reenactor.metrics.identity import IdentityAccumulator
    from reenactor.samples import sample_path

    frames = list(iter_frames(sample_path("carphone"), stop=3))
    ref = tmp_path / "target.png"
    write_image(ref, frames[0])
    acc = IdentityAccumulator(ref)
    assert acc.ref_frames == 1
    assert acc.update(frames[2]) < 0.6
    assert acc.update(np.full_like(frames[0], 90)) != acc.update(frames[0])  # nan (no face) vs a distance
    r = acc.result()
    assert r["face_detected"] == pytest.approx(2 / 3) and r["same_person_share"] == 1.0
    other = IdentityAccumulator(sample_path("astronaut"))
    assert other.update(frames[0]) > 0.6
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(InputError, match="no face found"):
        IdentityAccumulator(blank)
    with pytest.raises(InputError, match="not found"):
        IdentityAccumulator(tmp_path / "nobody.png")
