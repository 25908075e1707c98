"""The spine for single-image targets: references, method kinds, pose files, and pose_warp end to end on the
bundled real footage (astronaut photo, carphone and bikes videos)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _cloning_fixtures import export_untrained, make_clip
from reenactor.cli import main
from reenactor.errors import InputError, NoPersonError
from reenactor.io.video import iter_frames, probe, write_image
from reenactor.transfer import transfer

ASTRONAUT = "sample:astronaut"
S = 256  # pose_warp's default frame size


@pytest.fixture(scope="module")
def astronaut():
    from reenactor.reference import load_reference

    return load_reference(ASTRONAUT, S)


@pytest.fixture(scope="module")
def cloning_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    return export_untrained("cloning", root / "cloning.safetensors", [make_clip(root / "target", n=6)])


def _frames(path) -> list[np.ndarray]:
    return list(iter_frames(path))


def test_reference_from_photo_has_pose_mask_and_plate(astronaut):
    r = astronaut
    assert r.size == (S, S) and r.image.shape == (S, S, 3) and r.background.shape == (S, S, 3)
    body = r.keypoints["body"]
    assert body.shape == (25, 3) and (body[:, 2] > 0.5).sum() >= 8  # head, neck, shoulders at least
    person = r.mask >= 128
    assert 0.2 < person.mean() < 0.8
    # the plate differs from the photo on the person (inpainted) and equals it far from the person
    import cv2

    soft = (r.mask >= 64).astype(np.uint8)  # the plate removes the mask's soft edge too
    far = ~cv2.dilate(soft, np.ones((31, 31), np.uint8)).astype(bool)
    assert far.mean() > 0.1
    assert np.abs(r.background[far].astype(int) - r.image[far].astype(int)).max() == 0
    assert np.abs(r.background[person].astype(int) - r.image[person].astype(int)).mean() > 20


def test_reference_from_clip_frame_and_video_frame(carphone_clip, carphone_path):
    from reenactor.reference import load_reference

    r = load_reference(f"{carphone_clip.root}:80", 128)
    assert np.array_equal(r.image, np.asarray(carphone_clip.load("frames")[80]))
    assert np.array_equal(r.keypoints["body"], np.asarray(carphone_clip.load("body")[80]))
    up = load_reference(f"{carphone_clip.root}:80", 256)  # resized with its keypoints
    assert up.size == (256, 256)
    assert np.allclose(up.keypoints["body"][:, :2], r.keypoints["body"][:, :2] * 2)
    v = load_reference(f"{carphone_path}:80", 128)  # a video frame, extracted in static mode
    assert v.size == (128, 128) and (v.keypoints["body"][:, 2] > 0.5).sum() >= 5
    with pytest.raises(InputError, match="outside the clip"):
        load_reference(f"{carphone_clip.root}:500", 128)
    with pytest.raises(InputError, match="needs a frame index"):
        load_reference(str(carphone_clip.root), 128)
    with pytest.raises(InputError, match="is a video"):
        load_reference(str(carphone_path), 128)


@pytest.mark.parametrize("background", [None, "driving", "#00ff00", "file"])
def test_pose_warp_astronaut_driven_by_carphone(carphone_clip, astronaut, tmp_path, background):
    bg = background
    if bg == "file":
        img = np.zeros((40, 60, 3), np.uint8)
        img[:, :, 2] = 255  # blue
        bg = str(tmp_path / "bg.png")
        write_image(bg, img)
    out = tmp_path / "out.mp4"
    got: list[np.ndarray] = []
    res = transfer(
        None,
        carphone_clip.root,
        out,
        method="pose_warp",
        target_image=ASTRONAUT,
        side_by_side=True,
        max_frames=8,
        background=bg,
        progress=False,
        frame_sink=got.append,
    )
    info = probe(out)
    assert res.n_frames == info.n_frames == len(got) == 8
    assert (info.height, info.width) == (S, 3 * S)  # driving | pose | result, each at the result's height
    frames = _frames(out)
    corner = np.stack([g[:12, :12].reshape(-1, 3) for g in got]).mean((0, 1))
    if background is None:  # the photo's own scene, the person inpainted away
        assert np.abs(corner - astronaut.background[:12, :12].reshape(-1, 3).mean(0)).max() < 3
    elif background == "#00ff00":
        assert np.abs(corner - [0, 255, 0]).max() < 2
    elif background == "file":
        assert np.abs(corner - [0, 0, 255]).max() < 2
    else:  # the driving frames (128 px, fit to 256) behind the person
        drv = np.asarray(carphone_clip.load("frames")[:8])[:, :6, :6].reshape(-1, 3).mean(0)
        assert np.abs(corner - drv).max() < 12
    # the left panel shows the driving frame, the middle one the drawn normalized pose (mostly black)
    assert frames[0][:, S : 2 * S].mean() < 40
    # the person moves with the driver: consecutive results differ on the person
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(got, got[1:])) > 0.05


def test_pose_warp_driven_by_bikes(astronaut, tmp_path):
    """bikes.mp4 is a montage (scene cuts, several small people, skeletons on objects): its first frame is a poor
    anchor, so the default first_frame fit is refused with the numbers and the fix; edn_upper (the driver's median
    torso and neck) renders it."""
    out = tmp_path / "bikes.mp4"
    with pytest.raises(
        InputError, match="first_frame .auto. normalization fitted on this driver looks broken"
    ):
        transfer(
            None,
            "sample:bikes",
            out,
            method="pose_warp",
            target_image=ASTRONAUT,
            max_frames=12,
            progress=False,
        )
    assert not out.exists()
    res = transfer(
        None,
        "sample:bikes",
        out,
        method="pose_warp",
        target_image=ASTRONAUT,
        side_by_side=True,
        max_frames=12,
        progress=False,
        normalization="edn_upper",
    )
    info = probe(out)
    assert res.n_frames == info.n_frames == 12 and info.height == S


def test_pose_file_round_trip_gives_identical_frames(carphone_clip, tmp_path):
    from reenactor.pose.posefile import export_clip, load_poses

    pf = tmp_path / "talk.poses.npz"
    seq = export_clip(carphone_clip.root, pf, start=80)
    back = load_poses(pf)
    assert back.n_frames == seq.n_frames == carphone_clip.n_frames - 80 and back.size == carphone_clip.size
    assert np.array_equal(back.arrays["body"], np.asarray(carphone_clip.load("body")[80:]))
    from reenactor.driving import ClipSource

    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    ref = f"{carphone_clip.root}:79"
    transfer(
        None,
        pf,
        tmp_path / "a.mp4",
        method="pose_warp",
        target_image=ref,
        progress=False,
        frame_sink=a.append,
    )
    transfer(
        None,
        ClipSource(carphone_clip, start=80),
        tmp_path / "b.mp4",
        method="pose_warp",
        target_image=ref,
        progress=False,
        frame_sink=b.append,
    )
    assert len(a) == len(b) == 40
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # and render draws it
    assert main(["render", str(pf), "-o", str(tmp_path / "pose.mp4"), "-q"]) == 0
    assert probe(tmp_path / "pose.mp4").n_frames == 40


def test_cli_kind_errors_exit_2_and_write_nothing(cloning_model, carphone_clip, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    drive = ["--driving", str(carphone_clip.root), "-o", str(out), "--no-progress"]
    # a per-person model given a photo
    assert main(["transfer", "--model", str(cloning_model), "--target-image", ASTRONAUT, *drive]) == 2
    err = capsys.readouterr().err
    assert "--target-image applies to reference methods" in err and "cloning" in err
    # a reference method without one
    assert main(["transfer", "--method", "pose_warp", *drive]) == 2
    assert "--target-image PHOTO" in capsys.readouterr().err
    # a method that must be trained, without a model
    assert main(["transfer", "--method", "cloning", "--target-image", ASTRONAUT, *drive]) == 2
    assert "must be trained first" in capsys.readouterr().err
    # a photo with no person
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((200, 200, 3), 127, np.uint8))
    assert main(["transfer", "--method", "pose_warp", "--target-image", str(blank), *drive]) == 2
    err = capsys.readouterr().err
    assert "no person found in the target image" in err and str(blank) in err
    # a precision the method does not declare
    assert (
        main(
            ["transfer", "--method", "pose_warp", "--target-image", ASTRONAUT, "--precision", "bf16", *drive]
        )
        == 2
    )
    assert "fp32 only" in capsys.readouterr().err
    # a bad background
    assert (
        main(
            ["transfer", "--method", "pose_warp", "--target-image", ASTRONAUT, "--background", "#12", *drive]
        )
        == 2
    )
    assert "#rrggbb" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [blank]


def test_pose_file_of_another_skeleton_is_one_clear_error(tmp_path, capsys):
    from reenactor.pose.posefile import FORMAT, load_poses

    bad = tmp_path / "coco.poses.npz"
    meta = {
        "format": FORMAT,
        "version": 1,
        "fps": 25,
        "size": [64, 64],
        "skeleton": {"name": "COCO_18", "body": [f"j{i}" for i in range(18)]},
    }
    np.savez(bad, meta=np.array(json.dumps(meta)), body=np.zeros((4, 18, 3), np.float32))
    with pytest.raises(InputError, match="skeleton 'COCO_18' with 18 body joints"):
        load_poses(bad)
    out = tmp_path / "o.mp4"
    rc = main(
        [
            "transfer",
            "--method",
            "pose_warp",
            "--target-image",
            ASTRONAUT,
            "--driving",
            str(bad),
            "-o",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 2 and not out.exists()
    err = capsys.readouterr().err
    assert str(bad) in err and "BODY_25" in err
    corrupt = tmp_path / "corrupt.poses.npz"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable pose file"):
        load_poses(corrupt)


def test_poses_export_cli_refuses_to_overwrite(carphone_clip, tmp_path, capsys):
    pf = tmp_path / "p.poses.npz"
    assert main(["poses", "export", str(carphone_clip.root), "-o", str(pf), "--stop", "10"]) == 0
    assert "10 frames" in capsys.readouterr().out
    assert main(["poses", "export", str(carphone_clip.root), "-o", str(pf)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["poses", "export", str(carphone_clip.root), "-o", str(tmp_path / "p.npy")]) == 2


def test_info_describes_kinds(cloning_model, capsys):
    assert main(["info", str(cloning_model)]) == 0
    out = capsys.readouterr().out
    assert "method:      cloning" in out and "kind:        per-person" in out and "fp32, bf16" in out
    assert main(["info", "--method", "pose_warp", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "reference" and d["needs_training"] is False and d["frame_size"] == S
    # a trained reference method described by name: its defaults, and how to make a model of it
    assert main(["info", "--method", "single_shot"]) == 0
    out = capsys.readouterr().out
    assert "reenactor train --method single_shot" in out and "--model M --target-image" in out
    assert "nothing to train" not in out


def test_reference_normalizations(carphone_clip, tmp_path, logged):
    """auto runs first_frame onto the reference; global_alignment uses the driving and reference masks; edn is refused."""
    for kind, expect in (
        ("auto", "first_frame"),
        ("edn_upper", "edn_upper"),
        ("global_alignment", "global_alignment"),
    ):
        res = transfer(
            None,
            carphone_clip.root,
            tmp_path / f"{kind}.mp4",
            method="pose_warp",
            normalization=kind,
            target_image=f"{carphone_clip.root}:80",
            max_frames=3,
            progress=False,
            size=128,
        )
        assert res.normalizer == expect
        saved = json.loads(res.normalizer_path.read_text())["normalizer"]
        # the reference is a frame of the same clip at the same size: the fit is close to the identity
        assert saved["params"]["scale"] == pytest.approx(1.0, abs=0.25)
    assert "coverage is not computed for a reference" in logged()
    with pytest.raises(InputError, match="a reference is one photo"):
        transfer(
            None,
            carphone_clip.root,
            tmp_path / "edn.mp4",
            method="pose_warp",
            normalization="edn",
            target_image=f"{carphone_clip.root}:80",
            progress=False,
        )


def test_several_people_in_a_photo_is_refused(tmp_path):
    from reenactor.io.video import read_image
    from reenactor.reference import load_reference
    from reenactor.samples import sample_path

    one = read_image(sample_path("astronaut"))
    two = np.concatenate([one, one[:, ::-1]], axis=1)  # the astronaut beside her mirror image
    path = tmp_path / "two.png"
    write_image(path, two)
    with pytest.raises(InputError, match="shows 2 people"):
        load_reference(path, 128)
    with pytest.raises(NoPersonError):
        blank = tmp_path / "blank.png"
        write_image(blank, np.full((64, 64, 3), 200, np.uint8))
        load_reference(blank, 128)


def test_transfer_and_render_check_the_output_path_first(carphone_clip, tmp_path, capsys):
    drive = [
        "transfer",
        "--method",
        "pose_warp",
        "--target-image",
        ASTRONAUT,
        "--driving",
        str(carphone_clip.root),
        "--max-frames",
        "2",
        "--no-progress",
    ]
    assert main([*drive, "-o", str(tmp_path)]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err
    assert main([*drive, "-o", str(tmp_path / "r.png")]) == 2  # a format it does not write
    assert "writes .mp4 here, not .png" in capsys.readouterr().err
    out = tmp_path / "o.mp4"
    assert main([*drive, "-o", str(out)]) == 0
    before = out.stat().st_mtime_ns
    assert main([*drive, "-o", str(out)]) == 2  # never overwritten silently
    assert "--force" in capsys.readouterr().err and out.stat().st_mtime_ns == before
    assert main([*drive, "-o", str(out), "--force"]) == 0
    assert main(["render", str(carphone_clip.root), "-o", str(out), "-q"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4", "o.normalizer.json"]
