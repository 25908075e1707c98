"""Many-clip training data: clip lists and identities, frame pairs of one identity (deterministic and the same
after a resume, through the real trainer), the run's data checks per method kind, and batch extraction of a
folder of videos / photos."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from reenactor.data.clips import TrainingClip, open_clips, resolve_clips
from reenactor.data.clipstore import ClipStore
from reenactor.data.pairs import FramePairs, PairOptions, unit_frames
from reenactor.errors import ConfigError, InputError
from reenactor.losses import l1
from reenactor.methods.base import REFERENCE, Method, StepOutput, Synthesizer
from reenactor.train.config import build_run_config
from reenactor.train.run import default_run_dir, run_training

sys.path.insert(0, str(Path(__file__).parent))
from tiny_method import TinyMethod  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

QUIET = ["trainer.progress=false", "trainer.tensorboard=false", "trainer.image_every=0"]


def make_clip(root: Path, n: int, code: int, size: int = 16, gaps: tuple[int, ...] = ()) -> ClipStore:
    """A clip store whose frame t is the colour (8 t, 10 code, 0) and whose body joints sit at (t, code): every
    item can be traced back to its clip and frame. Frames in ``gaps`` show no person."""
    frames = np.zeros((n, size, size, 3), np.uint8)
    frames[..., 0] = (8 * np.arange(n) % 256)[:, None, None].astype(np.uint8)
    frames[..., 1] = 10 * code
    body = np.zeros((n, 25, 3), np.float32)
    body[:, :, 0] = np.arange(n)[:, None]
    body[:, :, 1] = code
    body[:, :, 2] = 1
    person = np.ones(n, bool)
    person[list(gaps)] = False
    store = ClipStore.create(root, n_frames=n, fps=25.0, size=[size, size])
    for name, a in (("frames", frames), ("body", body), ("person", person)):
        store.save(name, a, stage="extract")
    store.set_stage("extract")
    return store


@pytest.fixture(scope="module")
def people(tmp_path_factory) -> Path:
    """clips/: ann_a (20 frames, no person in 5-7), ann_b (12), bob (16), plus a photo clip (1 frame) of ann."""
    root = tmp_path_factory.mktemp("people") / "clips"
    make_clip(root / "ann_a", 20, 1, gaps=(5, 6, 7))
    make_clip(root / "ann_b", 12, 2)
    make_clip(root / "bob", 16, 3)
    make_clip(root / "ann_photo", 1, 4)
    (root / "people.txt").write_text(
        '# clip identity\nann_a ann\nann_b   ann\n\nbob  # identity: the folder name\n"ann_photo" ann\n'
    )
    return root


# ------------------------------------------------------------------------------------------ clip lists
def test_resolve_clips_entry_forms(people, tmp_path):
    notes: list[str] = []
    # a folder of clip stores: every sub-folder that is one (not the list file, not unfinished extractions)
    (people.parent / "extra").mkdir(exist_ok=True)
    shutil.copytree(people / "bob", people.parent / "extra" / "carl.partial", dirs_exist_ok=True)
    (people.parent / "extra" / "notes").mkdir(exist_ok=True)
    make_clip(people.parent / "extra" / "dan", 3, 5)
    got = resolve_clips([people.parent / "extra"], log=notes.append)
    assert got == [(people.parent / "extra" / "dan", "dan")]
    assert any("carl.partial" in n and "unfinished" in n for n in notes)
    # the folder of clips: identities are the folder names
    assert resolve_clips([people]) == [(people / n, n) for n in ("ann_a", "ann_b", "ann_photo", "bob")]
    # a single clip store; a list file with identities, comments, blank lines and quoting, relative to the file
    assert resolve_clips([str(people / "bob")]) == [(people / "bob", "bob")]
    listed = resolve_clips([people / "people.txt"])
    assert listed == [
        (people / "ann_a", "ann"),
        (people / "ann_b", "ann"),
        (people / "bob", "bob"),
        (people / "ann_photo", "ann"),
    ]
    # a list elsewhere with absolute paths, an identity for a whole folder, and duplicates (removed with a note)
    other = tmp_path / "more.list"
    other.write_text(f"{people.parent / 'extra'} crowd\n{people / 'bob'}\n")
    notes.clear()
    both = resolve_clips([people / "bob", other, str(people / "bob") + "/"], log=notes.append)
    assert both == [(people / "bob", "bob"), (people.parent / "extra" / "dan", "crowd")]
    assert any("more than once" in n for n in notes)
    clips = open_clips([people / "people.txt"])
    assert [type(c) for c in clips] == [TrainingClip] * 4 and clips[0].store.n_frames == 20


def test_resolve_clips_errors(people, tmp_path):
    with pytest.raises(InputError, match="not found") as e:
        resolve_clips([tmp_path / "nope"])
    assert "reenactor extract" in str(e.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "video.mp4").write_bytes(b"x")
    with pytest.raises(InputError, match="no clip stores") as e:
        resolve_clips([tmp_path / "empty"])
    assert str(tmp_path / "empty") in str(
        e.value
    ) and "reenactor extract VIDEO_OR_FOLDER -o CLIPS_DIR" in str(e.value)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{people / 'bob'}\n# fine so far\nmissing_clip carl\n")
    with pytest.raises(InputError, match="line 3 names a clip that does not exist") as e:
        resolve_clips([bad])
    assert str(bad) in str(e.value) and "missing_clip" in str(e.value)
    with pytest.raises(InputError, match="not a clip list"):
        resolve_clips([tmp_path / "empty" / "video.mp4"])
    (tmp_path / "blank.txt").write_text("# nothing\n\n")
    with pytest.raises(InputError, match="names no clips"):
        resolve_clips([tmp_path / "blank.txt"])
    (tmp_path / "three.txt").write_text(f"{people / 'bob'} bob extra\n")
    with pytest.raises(InputError, match="line 1 has 3 words"):
        resolve_clips([tmp_path / "three.txt"])
    (tmp_path / "twice.txt").write_text(f"{people / 'bob'} robert\n")
    with pytest.raises(InputError, match="two identities"):
        resolve_clips([people / "bob", tmp_path / "twice.txt"])


# ------------------------------------------------------------------------------------------ frame pairs
def _all_pairs(ds: FramePairs, seed: int) -> list:
    np.random.seed(seed)
    return [ds.pair(i) for i in range(len(ds))]


def test_frame_pairs_stay_within_identity_and_distance(people):
    clips = open_clips([people / "people.txt"])  # ann_a, ann_b, bob, ann_photo: ann is clips 0, 1 and 3
    ident = [c.identity for c in clips]
    usable = [set(np.flatnonzero(c.store.person_present())) for c in clips]
    ds = FramePairs(clips, PairOptions(max_distance=3))
    assert len(ds) == 17 + 12 + 16 + 1  # one item per frame with a person
    assert [ds.target(i) for i in (0, 4, 5, 17, 45)] == [(0, 0), (0, 4), (0, 8), (1, 0), (3, 0)]
    dists = []
    for seed in range(6):
        for i, p in enumerate(_all_pairs(ds, seed)):
            assert (p.clip, p.target_t) == ds.target(i)
            assert p.source_clip == p.clip  # same clip only
            assert p.source_t in usable[p.clip] and abs(p.source_t - p.target_t) <= 3
            if p.clip != 3:  # the photo clip has one frame: it pairs with itself; nobody else does
                assert p.source_t != p.target_t
            dists.append(abs(p.source_t - p.target_t))
    assert set(dists) == {1, 2, 3} | {0}  # every allowed distance occurs (0 only for the photo)
    # frame 4 of ann_a: 5-7 show no person, so its window holds 1, 2, 3 only
    assert {_all_pairs(ds, s)[4].source_t for s in range(40)} == {1, 2, 3}
    # across clips of one identity: sources come from the other ann clips too, never from bob
    wide = FramePairs(clips, PairOptions(max_distance=0, across_clips=True))
    seen = set()
    for seed in range(4):
        for p in _all_pairs(wide, seed):
            assert ident[p.source_clip] == ident[p.clip] and (p.source_clip, p.source_t) != (
                p.clip,
                p.target_t,
            )
            seen.add((p.clip, p.source_clip))
    assert seen == {(a, b) for a in (0, 1, 3) for b in (0, 1, 3) if (a, b) != (3, 3)} | {(2, 2)}
    # the draw depends on NumPy's global RNG alone: the same seed, the same pairs
    assert _all_pairs(wide, 7) == _all_pairs(wide, 7) and _all_pairs(wide, 7) != _all_pairs(wide, 8)


def test_frame_pairs_items_and_sizes(people, tmp_path):
    clips = open_clips([people / "ann_a", people / "bob"])
    ds = FramePairs(clips, PairOptions(max_distance=2))
    np.random.seed(0)
    item = ds[20]
    assert sorted(item) == [
        "clip",
        "source_body",
        "source_clip",
        "source_frame",
        "source_t",
        "target_body",
        "target_frame",
        "target_t",
    ]
    assert item["source_frame"].shape == (3, 16, 16) and item["source_frame"].dtype == torch.uint8
    assert item["target_body"].shape == (25, 3)
    c, s, t = int(item["clip"]), int(item["source_t"]), int(item["target_t"])
    assert (c, t) == ds.target(20) == (1, 3)
    unit = unit_frames(torch.utils.data.default_collate([item]))  # as a method's prepare_batch reads them
    for side, frame_t in (("source", s), ("target", t)):  # the tensors are those frames' pixels and joints
        assert torch.equal(item[f"{side}_frame"][0], torch.full((16, 16), 8 * frame_t, dtype=torch.uint8))
        assert torch.equal(item[f"{side}_frame"][1], torch.full((16, 16), 30, dtype=torch.uint8))
        rgb = (unit[f"{side}_frame"][0] + 1) * 127.5
        assert unit[f"{side}_frame"].dtype == torch.float32
        assert torch.allclose(rgb[0], torch.full((16, 16), 8.0 * frame_t), atol=1e-3)
        assert float(item[f"{side}_body"][0, 0]) == frame_t and float(item[f"{side}_body"][0, 1]) == 3
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    assert batch["source_frame"].shape == (4, 3, 16, 16)
    # clips of two stored sizes: an error naming the fix, or resized with the keypoints
    make_clip(tmp_path / "big", 4, 6, size=32)
    mixed = clips + open_clips([tmp_path / "big"])
    with pytest.raises(InputError, match="different frame sizes") as e:
        FramePairs(mixed)
    assert "--size" in str(e.value)
    small = FramePairs(mixed, size=8)
    np.random.seed(1)
    it = small[len(small) - 1]
    assert it["target_frame"].shape == (3, 8, 8) and float(it["target_body"][0, 0]) == 3 / 4  # (t=3) * 8/32
    make_clip(tmp_path / "nobody", 3, 7, gaps=(0, 1, 2))
    with pytest.raises(InputError, match="no clip has a frame with a person"):
        FramePairs(open_clips([tmp_path / "nobody"]))


# ------------------------------------------------------------------------------------------ through the trainer
@dataclass
class TinyRefConfig:
    size: int = 16  # frame size
    width: int = 4  # hidden channels


class TinyRefMethod(Method):
    """A tiny reference method: redraws the target frame from the source frame (one conv pair, L1). It
    records the pairs of every step, for the resume test."""

    name = "tinyref"
    Config = TinyRefConfig
    kind = REFERENCE

    def __init__(self, cfg: TinyRefConfig):
        super().__init__(cfg)
        self.G = nn.Sequential(
            nn.Conv2d(3, cfg.width, 3, padding=1), nn.ReLU(), nn.Conv2d(cfg.width, 3, 3, padding=1)
        )
        self.seen: list[torch.Tensor] = []

    def build_dataset(self, clips: list[TrainingClip], pairs: PairOptions | None = None) -> FramePairs:
        return FramePairs(clips, pairs, size=self.cfg.size)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.G.parameters())

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        self.seen.append(
            torch.stack([batch["clip"], batch["source_clip"], batch["source_t"], batch["target_t"]], 1).cpu()
        )
        return StepOutput({"l1": l1(self.G(batch["source_frame"]), batch["target_frame"])})

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        return unit_frames(batch)

    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {f"G.{k}": v for k, v in self.G.state_dict().items()}, {"size": [self.cfg.size] * 2}

    @classmethod
    def synthesizer(
        cls,
        cfg: Any,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        **kwargs: Any,
    ) -> Synthesizer:
        raise NotImplementedError


class TinyWarpMethod(TinyRefMethod):
    """A reference method with nothing to train (like pose_warp)."""

    name = "tinywarp"
    needs_training = False


def _data(clips: list, steps: int, method: str = "tinyref", **data) -> dict:
    return {
        "method": method,
        "data": {"clips": [str(c) for c in clips], "pair_max_distance": 4, **data},
        "trainer": {"steps": steps, "batch_size": 2, "checkpoint_every": 4, "ema": 0.0, "seed": 3},
    }


def _train(clips, run_dir, steps, resume=False, callbacks=None, cls=TinyRefMethod, **data):
    return run_training(
        _data(clips, steps, cls.name, **data),
        QUIET,
        run_dir=run_dir,
        resume=resume,
        method_cls=cls,
        callbacks=callbacks,
    )


def _recorder(into: dict[int, torch.Tensor], stop_at: int | None = None):
    def cb(trainer, logs):
        into[trainer.step] = trainer.method.seen[-1]
        if trainer.step == stop_at:
            raise KeyboardInterrupt

    return cb


def test_resumed_run_sees_the_same_pairs(people, tmp_path):
    """8 straight steps vs 6 steps + an interruption (Ctrl-C saves step 6) + --resume to 8: the same pairs at
    every step, pairs within one identity and distance, and the same weights."""
    from reenactor.train import load_model

    entries = [people / "people.txt"]
    straight: dict[int, torch.Tensor] = {}
    a = _train(entries, tmp_path / "a", 8, callbacks=[_recorder(straight)], pair_across_clips=True)
    first: dict[int, torch.Tensor] = {}
    with pytest.raises(KeyboardInterrupt):
        _train(entries, tmp_path / "b", 8, callbacks=[_recorder(first, stop_at=6)], pair_across_clips=True)
    resumed: dict[int, torch.Tensor] = {}
    b = _train(
        entries, tmp_path / "b", 8, resume=True, callbacks=[_recorder(resumed)], pair_across_clips=True
    )
    assert sorted(straight) == list(range(1, 9)) and sorted(resumed) == [7, 8]
    for step in range(1, 9):
        again = first[step] if step <= 6 else resumed[step]
        assert torch.equal(straight[step], again), step
    ident = [c.identity for c in open_clips(entries)]
    rows = torch.cat(list(straight.values()))
    assert len({tuple(r) for r in rows.tolist()}) > 8  # not one pair over and over
    for c, sc, s, t in rows.tolist():
        assert ident[c] == ident[sc] and (c != sc or abs(s - t) <= 4)
    ta, tb = load_model(a).tensors, load_model(b).tensors
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
    rec = (tmp_path / "a" / "clips.json").read_text()
    assert "ann_photo" in rec and '"identity": "ann"' in rec


def test_run_refuses_wrong_data_for_the_kind(people, tmp_path):
    clip = str(people / "bob")
    # per-person method given --clips
    with pytest.raises(ConfigError, match=r"--clips .* per-person") as e:
        run_training(
            {"method": "tiny", "data": {"clips": [clip]}},
            QUIET,
            run_dir=tmp_path / "r1",
            method_cls=TinyMethod,
        )
    assert "--target CLIP_DIR" in str(e.value)
    with pytest.raises(ConfigError, match="no target clip"):
        run_training({"method": "tiny"}, QUIET, run_dir=tmp_path / "r1", method_cls=TinyMethod)
    # reference method given --target (with or without --clips), or nothing
    for data in ({"target": [clip]}, {"target": [clip], "clips": [clip]}):
        with pytest.raises(ConfigError, match=r"--target \(data.target\) does not apply") as e:
            run_training(
                {"method": "tinyref", "data": data}, QUIET, run_dir=tmp_path / "r2", method_cls=TinyRefMethod
            )
        assert "--clips" in str(e.value)
    with pytest.raises(ConfigError, match="no training clips given") as e:
        run_training({"method": "tinyref"}, QUIET, run_dir=tmp_path / "r2", method_cls=TinyRefMethod)
    # a reference method with nothing to train
    with pytest.raises(ConfigError, match="nothing to train") as e:
        _train([people], tmp_path / "r3", 2, cls=TinyWarpMethod)
    assert "reenactor transfer --method tinywarp --target-image PHOTO" in str(e.value)
    assert not (tmp_path / "r3").exists()
    with pytest.raises(ConfigError, match="pair_max_distance"):
        build_run_config({"method": "tinyref"}, ["data.pair_max_distance=-1"])


def test_resume_refuses_changed_clips_and_default_run_dir(people, tmp_path):
    folder = tmp_path / "clips"
    shutil.copytree(people, folder)
    _train([folder], tmp_path / "run", 2)
    make_clip(folder / "zed", 5, 9)  # the folder gained a clip since the run started
    with pytest.raises(ConfigError, match=r"changed since the run started \(1 added, 0 gone\)"):
        _train([folder], tmp_path / "run", 4, resume=True)
    shutil.rmtree(folder / "zed")
    assert load_steps(_train([folder], tmp_path / "run", 4, resume=True)) == 4
    cfg = build_run_config(_data([folder], 1))
    assert default_run_dir(cfg) == Path("runs/tinyref-clips")
    cfg = build_run_config(_data([people / "people.txt"], 1))
    assert default_run_dir(cfg) == Path("runs/tinyref-people")


def load_steps(path: Path) -> int:
    from reenactor.train import load_model

    return int(load_model(path).run["step"])


def test_train_cli_clips_flag(people, tmp_path, capsys, monkeypatch):
    import reenactor.methods as methods
    from reenactor.cli import main

    orig = methods.get_method
    monkeypatch.setattr(
        methods, "get_method", lambda n: {"tinyref": TinyRefMethod, "tiny": TinyMethod}.get(n) or orig(n)
    )
    assert (
        main(["train", "--method", "tinyref", "--target", str(people / "bob"), "-o", str(tmp_path / "x")])
        == 2
    )
    err = capsys.readouterr().err
    assert (
        "does not apply to 'tinyref', a reference method" in err
        and "fix: pass the training clips with --clips" in err
    )
    assert main(["train", "--method", "tiny", "--clips", str(people), "-o", str(tmp_path / "x")]) == 2
    assert "per-person method" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--method",
                "tinyref",
                "--clips",
                str(people / "ann_a"),
                str(people / "bob"),
                "--steps",
                "1",
                "--batch-size",
                "2",
                "-o",
                str(tmp_path / "ok"),
                *sum((["--set", s] for s in QUIET), []),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "[train] data: 2 clips of 2 identities, 36 frames" in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--clips" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ batch extraction
def test_extract_a_folder_of_videos_and_photos(tmp_path, capsys):
    from reenactor.cli import main
    from reenactor.extract import clip_names
    from reenactor.io.video import iter_frames, write_video
    from reenactor.samples import sample_path

    src = tmp_path / "people"
    src.mkdir()
    shutil.copy(sample_path("astronaut"), src / "person.png")  # two photos sharing a name
    shutil.copy(sample_path("hopper"), src / "person.jpg")
    write_video(src / "talk.mp4", list(iter_frames(sample_path("carphone"), stop=4)), fps=25)
    (src / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)  # corrupt
    write_video(src / "empty_room.mp4", [np.full((64, 64, 3), 128, np.uint8)] * 3, fps=25)  # no person
    (src / "notes.txt").write_text("not media")
    out = tmp_path / "clips"
    args = ["extract", str(src), "-o", str(out), "--size", "64", "-q"]
    assert main(args) == 2
    text = capsys.readouterr().out
    lines = [ln for ln in text.splitlines() if ln.startswith("[")]
    assert [ln.split(" ", 2)[1].rstrip(":") for ln in lines] == [
        "broken.mp4",
        "empty_room.mp4",
        "person.jpg",
        "person.png",
        "talk.mp4",
    ]
    assert "FAILED" in lines[0] and "FAILED" in lines[1] and "no person" in lines[1]
    assert (
        "person_jpg: 1 frame(s) at 64 px" in lines[2]
        and "person_png" in lines[3]
        and "talk: 4 frame(s)" in lines[4]
    )
    assert "notes.txt" in text and text.rstrip().splitlines()[-1] == (
        f"extract: 3 of 5 files extracted into {out}; 2 failed: broken.mp4, empty_room.mp4"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "person_jpg",
        "person_png",
        "talk",
    ]  # nothing half-written
    # re-running finishes nothing twice; without the bad files the batch succeeds
    (src / "broken.mp4").unlink()
    (src / "empty_room.mp4").unlink()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.count("(already extracted)") == 3 and text.rstrip().endswith(
        f"3 of 3 files extracted into {out}"
    )
    # the output folder is many-clip training data as it is
    clips = resolve_clips([out])
    assert [i for _, i in clips] == ["person_jpg", "person_png", "talk"]
    assert clip_names(
        [Path("a.mp4"), Path("a.MP4"), Path("a.png"), Path("a_png.mov"), Path("x.partial.gif")]
    ) == ["a_mp4", "a_mp4-2", "a_png-2", "a_png", "x_partial"]
    assert (
        main(["extract", str(tmp_path / "clips" / "talk"), "-o", str(tmp_path / "o")]) == 2
    )  # no media inside
    assert "holds no video or image files" in capsys.readouterr().err
