"""scgan (Yang et al. 2018 §3.3): the shared pose layer, eqs. 6-10's gradient routing, a falling loss, and
train -> save -> load -> transfer through the CLI on the real carphone clip."""

from __future__ import annotations

import pytest
import torch

from reenactor.cli import main
from reenactor.data.clips import TrainingClip
from reenactor.methods.scgan import SCGANConfig, SCGANMethod

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(size=32, n_down=3, ngf=4, max_ch=16, ndf=4, n_layers=2, n_blocks=1)
TINY_SET = [x for k, v in TINY.items() for x in ("--set", f"model.{k}={v}")]


@pytest.fixture(scope="module")
def batch(carphone_clip):
    torch.manual_seed(0)
    m = SCGANMethod(SCGANConfig(**TINY))
    ds = m.build_dataset([TrainingClip(carphone_clip, "carphone", carphone_clip.root)])
    import numpy as np

    np.random.seed(0)
    items = [ds[i] for i in (3, 40, 90)]
    return m.prepare_batch({k: torch.stack([it[k] for it in items]) for k in items[0]})


def test_batches_are_drawn_on_the_device_as_the_items_were(carphone_clip):
    """Issue 30: items carry uint8 frames and the (real, noisy) target poses; prepare_batch draws the heatmaps
    batched in torch and converts the frames: equal to the per-item NumPy heatmaps and to_unit frames."""
    import numpy as np

    from reenactor.nn.convert import to_unit
    from reenactor.pose import heatmaps

    m = SCGANMethod(SCGANConfig(**TINY))
    ds = m.build_dataset([TrainingClip(carphone_clip, "carphone", carphone_clip.root)])
    np.random.seed(0)
    items = [ds[i] for i in (3, 40, 90)]
    assert items[0]["source_frame"].dtype == torch.uint8 and "pose_gt" not in items[0]
    b = m.prepare_batch(torch.utils.data.default_collate(items))
    s, r = m.cfg.size, m.cfg.radius
    for i, it in enumerate(items):
        for key, body in (("pose_gt", it["target_body"]), ("pose_gen", it["noisy_body"])):
            assert np.array_equal(b[key][i].numpy(), heatmaps.encode(body.numpy(), (s, s), s, r))
        for key in ("source_frame", "target_frame"):
            want = to_unit(it[key].permute(1, 2, 0).numpy())
            assert b[key].dtype == torch.float32 and np.array_equal(b[key][i].numpy(), want)
    assert b["pose_gt"].sum() > 0 and not torch.equal(b["pose_gt"], b["pose_gen"])


def test_items_and_shared_layer(batch):
    assert batch["pose_gt"].shape == (3, 18, 32, 32) and batch["source_frame"].shape == (3, 3, 32, 32)
    assert not torch.equal(batch["pose_gt"], batch["pose_gen"])  # the jittered stand-in differs
    m = SCGANMethod(SCGANConfig(**TINY))
    assert m.G1.pose_last is m.G2.pose_last
    assert m.G1.pose_last.conv.weight is m.G2.pose_last.conv.weight


def test_gradients_and_d_which_routing(batch):
    torch.manual_seed(0)
    m = SCGANMethod(SCGANConfig(**TINY))
    out = m.generator_step(batch, 0)
    assert set(out.losses) == {"gan1", "which", "gan2", "l1_gen", "l1_gt"}
    # eq. 10: D_which's gradient reaches G1 only
    out.losses["which"].backward(retain_graph=True)
    shared = {id(p) for p in m.G1.pose_last.parameters()}
    g2_only = [p for p in m.G2.parameters() if id(p) not in shared]
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in g2_only)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.G1.img.parameters())
    m.zero_grad()
    sum(out.losses.values()).backward()
    missing = [
        n
        for n, p in m.named_parameters()
        if n.startswith("G") and (p.grad is None or p.grad.abs().sum() == 0)
    ]
    assert not missing, missing
    m.zero_grad()
    sum(m.discriminator_step(batch, 0, out.cache).values()).backward()
    missing = [
        n
        for n, p in m.named_parameters()
        if n.startswith("D") and (p.grad is None or p.grad.abs().sum() == 0)
    ]
    assert not missing, missing


def test_l1_falls_on_a_fixed_batch(batch):
    torch.manual_seed(0)
    m = SCGANMethod(SCGANConfig(**TINY))
    opt = torch.optim.Adam(m.generator_parameters(), 2e-3)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        out = m.generator_step(batch, 0).losses
        loss = out["l1_gen"] + out["l1_gt"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses[::5]


def test_train_then_transfer_cli(carphone_clip, tmp_path):
    run = tmp_path / "run"
    quiet = [
        "--set",
        "trainer.tensorboard=false",
        "--set",
        "trainer.progress=false",
        "--set",
        "trainer.image_every=0",
    ]
    args = ["train", "--method", "scgan", "--clips", str(carphone_clip.root), "-o", str(run), "--steps", "3"]
    assert main([*args, *TINY_SET, *quiet, "--set", "trainer.batch_size=2"]) == 0
    poses = tmp_path / "talk.poses.npz"
    assert (
        main(["poses", "export", str(carphone_clip.root), "-o", str(poses), "--start", "80", "--stop", "84"])
        == 0
    )
    out = tmp_path / "out.mp4"
    rc = main(
        [
            "transfer",
            "--model",
            str(run / "model.safetensors"),
            "--target-image",
            f"{carphone_clip.root}:0",
            "--driving",
            str(poses),
            "-o",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert rc == 0 and out.stat().st_size > 0


@pytest.mark.parametrize("mode,pose", [("generated", "pose_gen"), ("real", "pose_gt")])
def test_training_alternatives_train_g1_alone(batch, mode, pose):
    """SCGAN-gen / SCGAN-gt (Table 5): G1 alone on the generated / real pose, D1 only; nothing else is built."""
    torch.manual_seed(0)
    m = SCGANMethod(SCGANConfig(**TINY, train_with=mode))
    assert not hasattr(m, "G2") and not hasattr(m, "Dw") and not hasattr(m, "D2")
    out = m.generator_step(batch, 0)
    assert set(out.losses) == {"gan1", "l1_gen"}
    with torch.no_grad():
        want = m.G1(batch["source_frame"], batch[pose])
    assert torch.allclose(out.cache["gen"], want)
    sum(out.losses.values()).backward()
    missing = [n for n, p in m.G1.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
    assert {id(p) for p in m.generator_parameters()} == {id(p) for p in m.G1.parameters()}
    d = m.discriminator_step(batch, 0, out.cache)
    assert set(d) == {"d1"}
    m.zero_grad()
    sum(d.values()).backward()
    assert all(p.grad is not None for p in m.D1.parameters())
    assert len(m.discriminator_parameters()) == len(list(m.D1.parameters()))


def test_pose_skips_carry_the_pose_to_every_decoder_scale(batch):
    """model.pose_skips (ours): the pose encoder's features join the image skips, so changing the pose changes
    the output more than through the bottleneck alone; gradients reach every pose layer."""
    torch.manual_seed(0)
    m = SCGANMethod(SCGANConfig(**TINY, pose_skips=True))
    out = m.G1(batch["source_frame"], batch["pose_gt"])
    assert out.shape == batch["source_frame"].shape
    out.abs().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.G1.pose.parameters())
    first_up = m.G1.up[1].conv.in_channels
    plain = SCGANMethod(SCGANConfig(**TINY)).G1.up[1].conv.in_channels
    assert first_up == plain * 3 // 2  # image skip + pose skip beside the decoder's own channels


def test_blend_keeps_the_image_where_the_mask_is_off(batch):
    """model.blend (ours): out = m z + (1 - m) image. A mask driven fully off returns the image itself, fully
    on the drawn frame z; gradients reach both heads; without blend G draws the frame alone."""
    torch.manual_seed(0)
    g = SCGANMethod(SCGANConfig(**TINY, blend=True)).G1
    img, pose = batch["source_frame"], batch["pose_gt"]
    with torch.no_grad():
        z, m = g.parts(img, pose)
    assert z.shape == img.shape and m.shape == (3, 1, 32, 32) and 0 < float(m.min()) <= float(m.max()) < 1
    with torch.no_grad():
        assert torch.allclose(g(img, pose), m * z + (1 - m) * img)
        g.out.conv.bias[3] = -1e4  # mask off: the image
    assert torch.equal(g(img, pose), img)
    with torch.no_grad():
        g.out.conv.bias[3] = 1e4  # mask on: the drawn frame
    assert torch.allclose(g(img, pose), g.parts(img, pose)[0])
    with torch.no_grad():
        g.out.conv.bias[3] = 0.0
    g(img, pose).sub(img.flip(0)).abs().mean().backward()
    assert g.out.conv.weight.grad[:3].abs().sum() > 0 and g.out.conv.weight.grad[3].abs().sum() > 0
    plain = SCGANMethod(SCGANConfig(**TINY)).G1
    assert plain.out.conv.out_channels == 3 and plain.parts(img, pose)[1] is None
