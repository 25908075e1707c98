"""Background plates (reenactor.data.background) and cloning's pose augmentation (model.augment)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from _cloning_fixtures import TINY_MODEL, _one_torch_thread, make_clip  # noqa: F401 - autouse fixture
from reenactor.config import from_dict
from reenactor.data.augment import affine_keypoints
from reenactor.data.background import background_plate
from reenactor.methods import get_method


def _scene(h: int = 32, w: int = 40) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 5, y * 6, 200 - x * 2], -1).astype(np.uint8)


def test_background_plate_recovers_the_scene_behind_a_moving_person():
    bg = _scene()
    frames, masks = [], []
    for t in range(10):  # a 14 px wide block moving right 1 px a frame: columns 19-23 are always covered
        f, m = bg.copy(), np.zeros(bg.shape[:2], np.uint8)
        f[8:28, 10 + t : 24 + t] = (250, 20, 20)
        m[8:28, 10 + t : 24 + t] = 255
        frames.append(f)
        masks.append(m)
    plate, seen = background_plate(np.stack(frames), np.stack(masks))
    assert plate.shape == bg.shape and plate.dtype == np.uint8
    assert np.array_equal(plate[seen], bg[seen])  # wherever the scene shows once, the plate is the scene
    assert not seen[8:28, 19:24].any() and seen[:8].all()
    # the never-seen block is inpainted from the scene around it, not left black or red
    err = np.abs(plate[~seen].astype(int) - bg[~seen].astype(int))
    assert err.mean() < 20, err.mean()


def test_background_plate_checks_shapes():
    with pytest.raises(ValueError):
        background_plate(np.zeros((3, 8, 8, 3), np.uint8), np.zeros((3, 8, 9), np.uint8))


@pytest.fixture(scope="module")
def masked_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("augment") / "target", n=10, mask=True)


def _dataset(clip, **augment):
    cls = get_method("cloning")
    torch.manual_seed(0)
    m = cls(from_dict(cls.Config, {**TINY_MODEL, "augment": {"prob": 1.0, **augment}}))
    return m.build_dataset([clip])


def _item(ds, i: int) -> dict:
    """Item ``i`` as the networks see it: the compact item rendered as a batch of one (the device path)."""
    from reenactor.methods.cloning.dataset import prepare_volume_batch

    batch = prepare_volume_batch(torch.utils.data.default_collate([ds[i]]), ds.encoder)
    return {k: v[0] for k, v in batch.items()}


def _image(item, k: int = 0) -> np.ndarray:
    return np.round((item["image"][3 * k : 3 * k + 3].numpy().transpose(1, 2, 0) + 1) * 127.5).astype(
        np.int16
    )


@pytest.mark.parametrize("background", ["plate", "warp"])
def test_augmentation_moves_poses_and_frames_together(masked_clip, background):
    ds = _dataset(masked_clip, shift=0.15, scale=0.1, rotate=20, background=background)
    size = ds.size
    body = ds.clips[0].body
    frames = masked_clip.frames()
    masks = masked_clip.load("mask")
    for i in range(4):
        np.random.seed(100 + i)
        item = _item(ds, i)
        np.random.seed(100 + i)
        m = ds.augmentation()  # the same draws
        assert m is not None and not np.allclose(m, [[1, 0, 0], [0, 1, 0]])
        t = ds.index[i][1]
        for k in range(ds.n):
            # every visible joint's channel peaks where the transform sent the joint
            kp = affine_keypoints(body[t + k], m)
            vol = item["pose"][25 * k : 25 * (k + 1)].numpy()
            for j in np.nonzero(body[t + k, :, 2] > 0.5)[0]:
                x, y = kp[j, :2]
                if 1 <= x <= size[1] - 2 and 1 <= y <= size[0] - 2:
                    py, px = np.unravel_index(np.argmax(vol[j]), vol[j].shape)
                    assert abs(px - x) <= 1.0 and abs(py - y) <= 1.0, (j, (px, py), (x, y))
            # the frame moved by the same transform: the person exactly so; the scene moves along (warp) or
            # stays still as the clip's background plate (plate)
            img = _image(item, k)
            moved = cv2.warpAffine(
                frames[t + k], m, size[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            ).astype(np.int16)
            alpha = cv2.warpAffine(masks[t + k], m, size[::-1], flags=cv2.INTER_LINEAR, borderValue=0)
            person = alpha == 255
            assert person.sum() > 20
            assert np.abs(img[person] - moved[person]).max() <= 1
            if background == "plate":
                scene = alpha == 0
                assert np.abs(img[scene] - ds.plates[0][scene].astype(np.int16)).max() <= 1
            else:
                assert np.abs(img - moved).max() <= 1


def test_augmentation_draws_follow_the_numpy_seed_and_prob(masked_clip):
    ds = _dataset(masked_clip)
    np.random.seed(7)
    a = _item(ds, 3)
    np.random.seed(7)
    b = _item(ds, 3)
    assert torch.equal(a["pose"], b["pose"]) and torch.equal(a["image"], b["image"])
    off = _dataset(masked_clip, prob=0.0)
    assert off.plates == [None] and off.augmentation() is None
    it = _item(off, 1)
    assert np.abs(_image(it) - masked_clip.frames()[1].astype(np.int16)).max() <= 1


def test_plate_augmentation_without_person_masks_is_off_and_says_so(tmp_path, logged):
    clip = make_clip(tmp_path / "no_mask", n=6)
    ds = _dataset(clip)
    out = logged()
    assert "no_mask" in out and "no pose augmentation" in out
    assert ds.plates == [None]
    np.random.seed(0)
    it = _item(ds, 2)  # with prob 1 but no plate: the item is the clip's own frame, unmoved
    assert np.abs(_image(it) - clip.frames()[2].astype(np.int16)).max() <= 1


def test_a_person_cut_by_the_frame_edge_stays_cut_by_it():
    """A body that continues below the frame (a seated talker's torso): moved up or sideways, its mask is
    replicated at the edge as the frame is, so no strip of the (inpainted, never seen) plate opens between the
    body and the edge, which no real frame shows."""
    from reenactor.data.augment import AugmentConfig, PersonMover

    class Store:  # the two things PersonMover reads of a clip store
        root = type("R", (), {"name": "seated"})()
        n_frames = 8

        def has(self, name):
            return name == "mask"

        def load(self, name):
            return masks

    h = w = 32
    bg = _scene(h, w)
    frames, masks = [], np.zeros((8, h, w), np.uint8)
    for t in range(8):  # a torso over the bottom edge, swaying a little so the plate sees its sides
        f = bg.copy()
        f[16:, 8 + t : 24 + t] = (20, 30, 200)
        masks[t, 16:, 8 + t : 24 + t] = 255
        frames.append(f)
    mover = PersonMover(AugmentConfig(prob=1.0), [Store()], (h, w), lambda ci, t: frames[t])
    up_left = np.array([[1, 0, -4], [0, 1, -6]], np.float32)
    out = mover.move(0, [frames[3]], [3], up_left)[0]
    torso = (20, 30, 200)
    assert (out[-1, 8:20] == torso).all()  # the bottom row under the body is still body, not plate
    assert (out[:9, :] != torso).any(axis=-1).all()  # above the moved body: scene


def test_plate_all_lays_the_unmoved_items_over_the_plate_too(masked_clip):
    """``plate_all``: an item drawn to stay where it is keeps its person pixel for pixel, but its background is
    the still plate, as a moved item's is, so no training frame's background varies with its pose."""
    frames, masks = masked_clip.frames(), masked_clip.load("mask")
    for prob in (0.0, 0.5):
        ds = _dataset(masked_clip, prob=prob, plate_all=True)
        assert ds.plates[0] is not None  # made even when nothing moves
        kept = 0
        for i in range(6):
            np.random.seed(200 + i)
            item = _item(ds, i)
            np.random.seed(200 + i)
            if ds.mover.draw(0) is not None:
                continue
            kept += 1
            t = ds.index[i][1]
            for k in range(ds.n):
                img, frame, alpha = _image(item, k), frames[t + k].astype(np.int16), masks[t + k]
                person, scene = alpha == 255, alpha == 0
                assert person.sum() > 20 and scene.sum() > 20
                assert np.abs(img[person] - frame[person]).max() <= 1
                assert np.abs(img[scene] - ds.plates[0][scene].astype(np.int16)).max() <= 1
                # the frame's own background differs from the plate there (the fixture's scene moves)
                assert np.abs(frame[scene] - ds.plates[0][scene].astype(np.int16)).max() > 1
        assert kept >= 2
    # without plate_all the unmoved item is the clip's own frame
    ds = _dataset(masked_clip, prob=0.0)
    assert np.abs(_image(_item(ds, 2)) - frames[2].astype(np.int16)).max() <= 1
