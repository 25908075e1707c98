"""`reenactor benchmark psgan` and `benchmark scgan` (Yang et al. 2018, Tables 1 and 5): the measures, the action
classifier on held-out procedural data, and both protocols end to end at tiny sizes (with reuse on a re-run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.commands.benchmark import PSGAN_VARIANTS
from reenactor.evaluation import psgan as bench
from reenactor.evaluation import scgan as scbench

pytestmark = pytest.mark.usefixtures("one_thread")

PSGAN_TINY = [
    f"model.{k}={v}"
    for k, v in dict(
        size=16, n_down=3, frames=8, radius=1.5, ngf=4, hidden=16, ndf=4, n_layers=2, n_blocks=1
    ).items()
]
SCGAN_TINY = [
    f"model.{k}={v}"
    for k, v in dict(size=32, n_down=3, ngf=4, max_ch=16, ndf=4, n_layers=2, n_blocks=1).items()
] + ["trainer.batch_size=2"]


def test_variant_names_match_the_cli():
    assert tuple(bench.VARIANTS) == PSGAN_VARIANTS


def _walk(t: int = 6, dx: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    kp = np.zeros((t, 25, 3), np.float32)
    kp[:, :, :2] = rng.uniform(20, 100, (1, 25, 2)) + np.arange(t)[:, None, None] * np.array([dx, 0.0])
    kp[:, :, 2] = 1
    kp[:, 19:, 2] = 0  # feet missing
    return kp


def test_amplitude_and_keypoint_error():
    kp = _walk(6, 2.0)
    assert bench.amplitude(np.repeat(kp[:1], 6, 0)) == 0
    assert bench.amplitude(kp) == pytest.approx(np.mean([2.0 * t for t in range(1, 6)]), rel=1e-5)
    assert bench.keypoint_error(kp, kp) == 0
    moved = kp.copy()
    moved[..., 1] += 3
    assert bench.keypoint_error(moved, kp) == pytest.approx(3.0)


def test_amplitude_is_measured_on_the_joint_frames_the_real_sequence_sees():
    """A real wave takes the wrist out of the frame (no position); a generator that keeps drawing it there
    must not count those frames, and one that loses the wrist has not moved it."""
    real = _walk(6, 0.0)
    real[:, 4, 0] += np.array([0, 10, 20, 30, 40, 50], np.float32)  # the wrist moves 10 px per frame
    gen = real.copy()
    real[3:, 4, 2] = 0  # ... and leaves the frame after frame 2
    over = bench.seen(real)
    assert over.shape == (5, 25) and not over[2:, 4].any() and over[:2, 4].all()
    assert bench.amplitude(gen, over=over) == pytest.approx(bench.amplitude(real))
    assert bench.amplitude(gen) > 2 * bench.amplitude(real)  # counted on one side: visibility, not motion
    lost = gen.copy()
    lost[1:, 4, 2] = 0  # a generator that drops the wrist
    assert bench.amplitude(lost, over=over) == 0  # no motion, not a ratio over the still joints
    assert bench.amplitude(lost) == 0


def test_class_mean_motion_of_one_sample_is_that_sample():
    kp = _walk(8, 1.5)
    kp[4:, 4, :2] += [5.0, -3.0]  # the right wrist moves on its own
    motion = bench.class_mean_motion([(kp, 0)], 8)
    again = bench.apply_mean_motion(kp[0], motion[0], 8)
    coco = list(bench.heatmaps.COCO18_FROM_BODY25)  # the joints heatmaps carry (MidHip and feet are not)
    assert np.abs(again[:, coco, :2] - kp[:, coco, :2]).max() < 1e-3


def test_classifier_labels_held_out_procedural_actions(carphone_clip):
    """Trained on one set of rest poses and variations, the skeleton classifier labels another (different
    frames of the clip, other variations) almost perfectly: what the benchmark's accuracy column needs."""
    from reenactor.synthetic.actions import ACTIONS, procedural_sequences, rest_poses_from_clip

    def sets(frames, seed, per):
        rests = [r.framed(0.5) for r in rest_poses_from_clip(carphone_clip, frames)]
        out = []
        for action, seq, _ in procedural_sequences(rests, per, 16, seed):
            maps = bench.heatmaps.encode(seq.arrays["body"], seq.size, 32, 2.0)
            out.append((bench.heatmaps.decode(maps, seq.size, 0.3), ACTIONS.index(action)))
        return out

    train, test = sets(range(5, 80, 10), 2000, 6), sets(range(85, 120, 10), 1000, 3)
    clf = bench.train_classifier([k for k, _ in train], [lab for _, lab in train], len(ACTIONS))
    pred = bench.classify(clf, [k for k, _ in test])
    acc = float((pred == [lab for _, lab in test]).mean())
    assert acc >= 0.9, acc
    # it is the motion, not the body, that it reads: the first pose held still is not recognised as the action
    still = bench.classify(clf, [np.repeat(k[:1], 16, 0) for k, _ in test])
    assert float((still == [lab for _, lab in test]).mean()) < 0.5


def test_psgan_benchmark_end_to_end_and_reuse(carphone_clip, tmp_path, monkeypatch):
    opts = bench.PSGANBenchmarkOptions(
        clip=str(carphone_clip.root),
        out_dir=tmp_path / "b",
        train_photo=None,
        test_photo=None,
        classifier_photo=None,
        per_action=2,
        test_per_action=1,
        classifier_per_action=2,
        steps=2,
        overrides=PSGAN_TINY,
        progress=False,
    )
    rows = bench.run(opts)
    names = [r["method"] for r in rows]
    assert names == ["static", "class-mean motion (ref.)", *bench.VARIANTS]
    by = {r["method"]: r for r in rows}
    assert set(by["static"]["amplitude_ratio"].values()) == {0.0}
    assert all(r["steps"] == 2 for r in rows[2:])
    saved = json.loads((opts.out_dir / "results.json").read_text())
    assert saved["meta"]["procedural"] and saved["meta"]["sequences"]["test"] == 6
    assert "PROCEDURAL" in (opts.out_dir / "table.md").read_text()
    for name in ("train", "test", "classifier"):
        assert json.loads((opts.out_dir / "data" / name / "ACTIONS.json").read_text())["procedural"]

    # a re-run reuses the data and the trained runs: no training happens
    def refuse(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr("reenactor.evaluation.self_reenactment.train_model", refuse)
    again = bench.run(opts)
    assert [r["heatmap_l2"] for r in again] == [r["heatmap_l2"] for r in rows]
    monkeypatch.undo()

    # ... but not runs of another spec: more training data (the train set is written again) or other steps
    opts.per_action, opts.steps, opts.variants = 3, 3, ("psgan",)
    third = bench.run(opts)
    assert json.loads((opts.out_dir / "data" / "train" / "ACTIONS.json").read_text())["per_action"] == 3
    assert third[-1]["steps"] == 3
    spec = json.loads((opts.out_dir / "runs" / "psgan_seed0" / "benchmark_run.json").read_text())["spec"]
    assert spec["steps"] == 3 and spec["data"]["per_action"] == 3


def test_one_per_action_default():
    """`benchmark psgan`, `poses actions` and the demo write as many training sequences per action."""
    from reenactor.cli import build_parser
    from reenactor.commands.benchmark import PSGAN_PER_ACTION
    from reenactor.synthetic.actions import PER_ACTION

    assert bench.PSGANBenchmarkOptions().per_action == PSGAN_PER_ACTION == PER_ACTION
    parser = build_parser()
    assert parser.parse_args(["poses", "actions", "--from", "x", "-o", "y"]).per_action == PER_ACTION
    assert parser.parse_args(["benchmark", "psgan"]).per_action == PER_ACTION


def test_a_killed_benchmark_run_continues_from_its_checkpoint(carphone_clip, tmp_path, caplog):
    """A learned row killed after a checkpoint (no exported model yet) continues from it on the re-run."""
    import logging

    opts = bench.PSGANBenchmarkOptions(
        clip=str(carphone_clip.root),
        out_dir=tmp_path / "k",
        train_photo=None,
        test_photo=None,
        classifier_photo=None,
        per_action=1,
        test_per_action=1,
        classifier_per_action=1,
        steps=2,
        variants=("psgan",),
        overrides=[*PSGAN_TINY, "trainer.checkpoint_every=1"],
        progress=False,
    )
    bench.run(opts)
    run = opts.out_dir / "runs" / "psgan_seed0"
    (run / "model.safetensors").unlink()  # as if killed before the export
    (run / "benchmark_run.json").unlink()
    opts.steps = 3
    with caplog.at_level(logging.INFO):
        rows = bench.run(opts)
    assert "resumed from" in caplog.text and "(step 2)" in caplog.text
    assert rows[-1]["steps"] == 3


def test_generated_pose_stand_in_is_seeded():
    body = np.tile(_walk(1)[0], (200, 1, 1))
    a = scbench.generated_poses(body, 1.5, 0.1, seed=3)
    assert np.array_equal(a, scbench.generated_poses(body, 1.5, 0.1, seed=3))
    dropped = (a[..., 2] == 0) & (body[..., 2] > 0)
    assert 0.07 < dropped.sum() / (body[..., 2] > 0).sum() < 0.13
    assert 1.2 < np.std(a[..., :2] - body[..., :2]) < 1.8


def test_scgan_benchmark_end_to_end(carphone_clip, tmp_path):
    opts = scbench.SCGANBenchmarkOptions(
        clip=str(carphone_clip.root), out_dir=tmp_path / "s", steps=2, overrides=SCGAN_TINY, progress=False
    )
    rows = scbench.run(opts)
    by = {r["method"]: r for r in rows}
    assert list(by) == ["static", "SCGAN-gen", "SCGAN", "SCGAN, real poses (ref.)", "SCGAN-gt"]
    assert by["SCGAN-gt"]["pose"] == "real" and by["SCGAN-gen"]["pose"] == "generated"
    assert all(-1 <= r["ssim"] <= 1 and -1 <= r["masked_ssim"] <= 1 for r in rows)  # tiny models: any sign
    table = (opts.out_dir / "table.md").read_text()
    assert "static < SCGAN-gen <= SCGAN <= SCGAN-gt" in table
    assert (opts.out_dir / "frames.png").stat().st_size > 0
    for name, mode in scbench.ALTERNATIVES.items():
        cfg = (opts.out_dir / "runs" / name / "config.yaml").read_text()
        assert f"train_with: {mode}" in cfg
    # other training frames: the split is made again and the runs are trained again on it
    opts.train_frames = 60
    scbench.run(opts)
    from reenactor.data.clipstore import ClipStore

    assert ClipStore.open(opts.out_dir / "train").n_frames == 60
    spec = json.loads((opts.out_dir / "runs" / "SCGAN" / "benchmark_run.json").read_text())["spec"]
    assert spec["data"]["train_frames"] == 60


def test_psgan_benchmark_expression_variant(carphone_clip, tmp_path):
    """`benchmark psgan --expressions`: CK+-style procedural expressions of the 68 face points, trained from
    configs/psgan/face.yaml; the face boxes put every decoded point back around the face."""
    opts = bench.PSGANBenchmarkOptions(
        clip=str(carphone_clip.root),
        out_dir=tmp_path / "e",
        train_photo=None,
        test_photo=None,
        classifier_photo=None,
        per_action=1,
        test_per_action=1,
        classifier_per_action=2,
        steps=2,
        variants=("psgan",),
        expressions=True,
        overrides=PSGAN_TINY,
        progress=False,
    )
    rows = bench.run(opts)
    saved = json.loads((opts.out_dir / "results.json").read_text())
    assert saved["meta"]["points"] == "face" and saved["meta"]["config"] == "psgan/face"
    assert saved["meta"]["actions"] == sorted(["happy", "surprise", "sad", "angry", "disgust", "fear"])
    assert [r["method"] for r in rows] == ["static", "class-mean motion (ref.)", "psgan"]
    assert rows[1]["keypoint_error_px"] < 3  # the class-mean expression lands on the face (128 px frames)
    cfg = (opts.out_dir / "runs" / "psgan_seed0" / "config.yaml").read_text()
    assert "points: face" in cfg
