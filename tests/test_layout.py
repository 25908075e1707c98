"""Estimated body-part layouts (parsing.layout), their stage, references' layouts, and the checks of
parsing.quality: on a drawn person whose parts are known, and on real footage (carphone, a cyclist from
bikes.mp4, the astronaut photo)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from reenactor.parsing import layout as L
from reenactor.parsing import quality as Q
from reenactor.parsing.labels import LAYOUT

LAB = LAYOUT.index
SKIN_RGB, SHIRT_RGB, HAIR_RGB, PANTS_RGB = (210, 160, 130), (40, 60, 160), (60, 40, 30), (30, 30, 90)


def _person(size: int = 128, sleeve_right: bool = False, face: bool = True, seed: int = 0):
    """A drawn person facing the camera (their right on the image's left): bare right arm, sleeved left arm,
    blue shirt, navy shorts, bare calves, dark hair. Returns image, mask, body, face_raw, key points."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), (120, 160, 120), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    j = {  # BODY_25 joints in a 128 x 128 frame
        "Nose": (64, 30), "Neck": (64, 52), "RShoulder": (44, 54), "RElbow": (36, 74), "RWrist": (32, 94),
        "LShoulder": (84, 54), "LElbow": (92, 74), "LWrist": (96, 94), "MidHip": (64, 90), "RHip": (54, 90),
        "RKnee": (54, 108), "RAnkle": (54, 124), "LHip": (74, 90), "LKnee": (74, 108), "LAnkle": (74, 124),
        "REye": (58, 25), "LEye": (70, 25), "REar": (51, 27), "LEar": (77, 27),
    }  # fmt: skip
    from reenactor.pose.skeleton import BODY_NAMES

    body = np.zeros((25, 3), np.float32)
    for name, (x, y) in j.items():
        body[BODY_NAMES.index(name)] = (x, y, 0.95)

    def line(p, q, colour, thick):
        cv2.line(img, j[p], j[q], colour, thick)
        cv2.line(mask, j[p], j[q], 255, thick)

    def ellipse(centre, axes, colour):
        cv2.ellipse(img, centre, axes, 0, 0, 360, colour, -1)
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)

    def rect(p, q, colour):
        cv2.rectangle(img, p, q, colour, -1)
        cv2.rectangle(mask, p, q, 255, -1)

    ellipse((64, 22), (16, 14), HAIR_RGB)
    rect((58, 40), (70, 54), SKIN_RGB)  # neck
    rect((42, 50), (86, 92), SHIRT_RGB)
    for p, q in (("RShoulder", "RElbow"), ("RElbow", "RWrist")):
        line(p, q, SHIRT_RGB if sleeve_right else SKIN_RGB, 9)
    for p, q in (("LShoulder", "LElbow"), ("LElbow", "LWrist")):
        line(p, q, SHIRT_RGB, 9)
    for hip, knee, ankle in (("RHip", "RKnee", "RAnkle"), ("LHip", "LKnee", "LAnkle")):
        line(hip, knee, PANTS_RGB, 14)
        line(knee, ankle, SKIN_RGB, 9)
    ellipse((64, 28), (12, 15), SKIN_RGB)
    for x in (58, 70):  # eyes and mouth: dark, left out of the skin sample
        cv2.circle(img, (x, 25), 2, (30, 20, 20), -1)
    cv2.ellipse(img, (64, 36), (4, 2), 0, 0, 360, (150, 50, 60), -1)
    noise = rng.integers(-4, 5, img.shape)
    img = np.clip(img.astype(int) + noise * (mask[..., None] > 0), 0, 255).astype(np.uint8)
    face_raw = np.zeros((478, 3), np.float32)
    if face:
        face_raw[:, :2] = (64, 28)
        ang = np.linspace(-np.pi / 2, 1.5 * np.pi, len(L.FACE_OVAL), endpoint=False)
        face_raw[list(L.FACE_OVAL), 0] = 64 + 12 * np.cos(ang)
        face_raw[list(L.FACE_OVAL), 1] = 28 + 15 * np.sin(ang)
        face_raw[L.MESH_FOREHEAD, :2], face_raw[L.MESH_CHIN, :2] = (64, 13), (64, 43)
        face_raw[L.MESH_RIGHT_CHEEK, :2], face_raw[L.MESH_LEFT_CHEEK, :2] = (52, 28), (76, 28)
        for group, (x, y) in (
            (L.MESH_EYES[0], (58, 25)),
            (L.MESH_EYES[1], (70, 25)),
            (L.MESH_LIPS, (64, 36)),
        ):
            k = len(group)
            face_raw[list(group), 0] = x + 3 * np.cos(np.arange(k) * 2 * np.pi / k)
            face_raw[list(group), 1] = y + 2 * np.sin(np.arange(k) * 2 * np.pi / k)
    return img, mask, body, face_raw, j


def _at(lab, p):
    return int(lab[p[1], p[0]])


# ------------------------------------------------------------------------------------------ drawn person
def test_drawn_person_parts_sides_and_skin_versus_sleeves():
    img, mask, body, face_raw, j = _person()
    lab = L.estimate_layout(img, mask, body, face_raw)
    assert lab.shape == mask.shape and lab.dtype == np.uint8
    assert Q.outside_mask(lab, mask) == 0
    assert ((lab > 0) == (mask >= L.MASK_THRESHOLD)).all()  # every person pixel labelled, nothing else
    assert _at(lab, j["RElbow"]) == LAB("right_arm")  # bare: arm; on the image's left: the person's right
    assert _at(lab, j["LElbow"]) == LAB("upper_clothes")  # sleeve
    assert _at(lab, (64, 28)) == LAB("face") and _at(lab, (64, 10)) == LAB("hair")
    assert _at(lab, (64, 75)) == LAB("upper_clothes") and _at(lab, (64, 48)) == LAB("torso_skin")  # neck
    assert _at(lab, (54, 98)) == LAB("pants") and _at(lab, (74, 98)) == LAB("pants")
    assert _at(lab, (54, 116)) == LAB("right_leg") and _at(lab, (74, 116)) == LAB("left_leg")
    assert Q.face_coverage(lab, face_raw)[0] >= 0.95
    hits = Q.limb_hits(lab, body)
    assert (hits.visible, hits.hit, hits.clothes, hits.other_side) == (4, 2, 2, 0)

    # the same person with the right arm sleeved: the elbow becomes upper clothes
    img2, mask2, *_ = _person(sleeve_right=True)
    lab2 = L.estimate_layout(img2, mask2, body, face_raw)
    assert _at(lab2, j["RElbow"]) == LAB("upper_clothes")

    # mirrored image with the joints' sides swapped: the left arm is now the bare one, on the image's right
    flip = {i: i for i in range(25)}
    for right, left in ((2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14), (15, 16), (17, 18)):
        flip[right], flip[left] = left, right
    body_m = body[[flip[i] for i in range(25)]].copy()
    body_m[:, 0] = 127 - body_m[:, 0]
    face_m = face_raw.copy()
    face_m[:, 0] = 127 - face_m[:, 0]
    lab_m = L.estimate_layout(img[:, ::-1], mask[:, ::-1], body_m, face_m)
    assert _at(lab_m, (127 - j["RElbow"][0], j["RElbow"][1])) == LAB("left_arm")
    assert Q.limb_hits(lab_m, body_m).hit == 2


def test_hands_from_landmarks_and_missing_parts():
    img, mask, body, face_raw, j = _person()
    hand = np.zeros((21, 3), np.float32)
    ang = np.linspace(0, np.pi, 21)
    hand[:, 0] = j["RWrist"][0] + 5 * np.cos(ang)
    hand[:, 1] = j["RWrist"][1] + 5 * np.sin(ang)
    hand[:, 2] = 1.0
    lab = L.estimate_layout(img, mask, body, face_raw, hand_right=hand)
    assert _at(lab, j["RWrist"]) == LAB("right_hand") and (lab == LAB("left_hand")).sum() == 0

    # no face mesh: the head is a disc split by colour, still every person pixel labelled
    lab_nf = L.estimate_layout(img, mask, body, np.zeros((478, 3), np.float32))
    assert ((lab_nf > 0) == (mask >= 128)).all()
    assert _at(lab_nf, (64, 30)) == LAB("face") and _at(lab_nf, (64, 10)) == LAB("hair")
    # no keypoints at all: the person is labelled body (skin or clothes), nothing raises
    lab_nb = L.estimate_layout(img, mask, np.zeros((25, 3), np.float32))
    assert ((lab_nb > 0) == (mask >= 128)).all()
    assert set(np.unique(lab_nb)) <= {0, LAB("torso_skin"), LAB("upper_clothes")}
    # low-confidence joints are not used: arms gone, their pixels take the nearest part
    weak = body.copy()
    weak[[3, 4, 6, 7], 2] = 0.05
    lab_w = L.estimate_layout(img, mask, weak, face_raw)
    assert not np.isin(lab_w, [LAB("left_arm"), LAB("right_arm")]).any()
    assert ((lab_w > 0) == (mask >= 128)).all()
    # an empty mask: nothing labelled
    assert not L.estimate_layout(img, np.zeros_like(mask), body, face_raw).any()
    # the same input twice: the same labels
    assert np.array_equal(
        L.estimate_layout(img, mask, body, face_raw), L.estimate_layout(img, mask, body, face_raw)
    )


def test_face_mesh_index_lists_match_mediapipe():
    conn = pytest.importorskip("mediapipe").solutions.face_mesh_connections
    edges = {frozenset(e) for e in conn.FACEMESH_FACE_OVAL}
    ring = L.FACE_OVAL
    assert len(set(ring)) == len(ring) == len({i for e in edges for i in e})
    assert all(frozenset((ring[i], ring[(i + 1) % len(ring)])) in edges for i in range(len(ring)))
    assert set(L.MESH_LIPS) == {i for e in conn.FACEMESH_LIPS for i in e}
    right = {i for e in conn.FACEMESH_RIGHT_EYE | conn.FACEMESH_RIGHT_EYEBROW for i in e}
    left = {i for e in conn.FACEMESH_LEFT_EYE | conn.FACEMESH_LEFT_EYEBROW for i in e}
    assert set(L.MESH_EYES[0]) == right and set(L.MESH_EYES[1]) == left


def test_skin_models():
    # the table-based Gaussian test equals the Mahalanobis distance computed directly
    rng = np.random.default_rng(1)
    ycc = np.stack(
        [rng.integers(0, 256, (48, 48)), rng.integers(115, 185, (48, 48)), rng.integers(80, 140, (48, 48))],
        -1,
    ).astype(np.uint8)
    cov = np.array([[30.0, -5.0], [-5.0, 20.0]])
    sk = L.SkinModel.gaussian((145.0, 110.0), cov, 40, 220, y_mean=120, y_sd=20)
    d = ycc[..., 1:].astype(float) - (145.0, 110.0)
    d2 = np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)
    want = (
        (d2 < 9.21)
        & (ycc[..., 0] >= 40)
        & (ycc[..., 0] <= 220)
        & (np.hypot(*(ycc[..., 1:] - 128.0).T).T >= 4)
    )
    skin, lit = sk.classify(ycc)
    assert 100 < want.sum() and np.array_equal(skin.astype(bool), want)
    assert np.array_equal(lit.astype(bool), want & (ycc[..., 0] >= 90))

    # fitting on a face recovers its colour and rejects the shirt
    img, mask, body, face_raw, _ = _person()
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
    fit = L.fit_skin(img, mask, face_raw, ycc)
    assert fit.fitted
    skin_ycc = cv2.cvtColor(np.uint8([[SKIN_RGB]]), cv2.COLOR_RGB2YCrCb)[0, 0]
    assert np.allclose(fit.mean, skin_ycc[1:], atol=2)
    probe = cv2.cvtColor(np.uint8([[SKIN_RGB, SHIRT_RGB, HAIR_RGB, PANTS_RGB]]), cv2.COLOR_RGB2YCrCb)
    assert fit.is_skin(probe)[0].tolist() == [True, False, False, False]

    # the generic model: skin tones in, greys, white, black and saturated clothes out
    tones = [(224, 172, 105), (141, 85, 36), (255, 219, 172), (198, 134, 66), (170, 120, 100)]
    others = [(128, 128, 128), (250, 250, 250), (15, 15, 15), (40, 60, 160), (30, 160, 40), (250, 120, 0)]
    g = L.SkinModel.generic().is_skin(cv2.cvtColor(np.uint8([tones + others]), cv2.COLOR_RGB2YCrCb))[0]
    assert g.tolist() == [True] * len(tones) + [False] * len(others)


# ------------------------------------------------------------------------------------------ quality checks
def test_quality_checks_on_known_layouts():
    lay = np.zeros((2, 32, 32), np.uint8)
    lay[:, 8:24, 8:24] = LAB("upper_clothes")
    mask = np.zeros((2, 32, 32), np.uint8)
    mask[:, 8:24, 8:22] = 255
    assert Q.outside_mask(lay, mask) == 2 * 16 * 2
    # face coverage: an oval whose left half is labelled face
    face = np.zeros((478, 3), np.float32)
    ang = np.linspace(0, 2 * np.pi, len(L.FACE_OVAL), endpoint=False)
    face[list(L.FACE_OVAL), 0] = 16 + 8 * np.cos(ang)
    face[list(L.FACE_OVAL), 1] = 16 + 8 * np.sin(ang)
    f = np.zeros((32, 32), np.uint8)
    f[:, :16] = LAB("face")
    cov = Q.face_coverage(np.stack([f, f]), np.stack([face, np.zeros_like(face)]))
    assert cov[0] == pytest.approx(0.5, abs=0.08) and np.isnan(cov[1])
    # limb hits: the right elbow in the right arm, the left elbow in the right arm (swapped), a wrist off-frame,
    # a low-confidence joint not counted
    arms = np.zeros((32, 32), np.uint8)
    arms[:, :16] = LAB("right_arm")
    body = np.zeros((25, 3), np.float32)
    body[3] = (5, 5, 0.9)  # RElbow
    body[6] = (10, 20, 0.9)  # LElbow, in the right arm's label
    body[4] = (40, 5, 0.9)  # RWrist, outside the frame
    body[7] = (25, 25, 0.2)  # LWrist, not sure enough
    hits = Q.limb_hits(arms, body)
    assert (hits.visible, hits.hit, hits.other_side, hits.rate) == (2, 1, 1, 0.5)


def test_flow_stability_follows_motion():
    from reenactor.io.video import read_image
    from reenactor.samples import sample_path

    photo = cv2.resize(np.asarray(read_image(sample_path("astronaut")))[..., :3], (112, 112))
    frames = np.stack([photo[8 : 8 + 96, 8 - 2 * i : 8 - 2 * i + 96] for i in range(4)])  # moves right 2 px
    base = np.zeros((112, 112), np.uint8)
    base[30:80, 30:70] = LAB("upper_clothes")
    base[20:40, 40:60] = LAB("face")
    moving = np.stack([base[8 : 8 + 96, 8 - 2 * i : 8 - 2 * i + 96] for i in range(4)])
    good = Q.flow_stability(moving, frames)
    assert good.pairs == 3 and len(good.ious) == 6 and good.median > 0.9
    still = np.repeat(moving[:1], 4, axis=0)  # labels that do not follow the picture
    bad = Q.flow_stability(still, frames)
    assert bad.median < good.median - 0.05
    cut = frames.copy()
    cut[2:] = 255 - cut[2:]  # a scene cut between frames 1 and 2 is left out
    assert Q.flow_stability(moving, cut).skipped == 1


# ------------------------------------------------------------------------------------------ real footage
def test_layout_stage_on_carphone(clip_copy, monkeypatch):
    clip = clip_copy
    assert L.add_layout_stage(clip) is clip
    st = json.loads((clip.root / "manifest.json").read_text())["stages"]["layout"]
    assert st["status"] == "done" and st["source"] == "estimated" and st["n_frames"] == clip.n_frames
    assert st["frames_with_face_mesh"] == clip.n_frames and {"face", "hair", "upper_clothes"} <= set(
        st["label_share"]
    )
    lay = clip.load("layout")
    assert lay.shape == (clip.n_frames, *clip.size) and lay.dtype == np.uint8
    masks, face_raw, frames = clip.load("mask"), clip.load("face_raw"), clip.load("frames")

    # the checks: nothing outside the mask, every person pixel labelled, the face oval covered,
    # stable under the flow
    assert Q.outside_mask(lay, masks) == 0
    assert ((np.asarray(lay) > 0) == (np.asarray(masks) >= L.MASK_THRESHOLD)).all()
    cov = Q.face_coverage(lay, face_raw)
    has = ~np.isnan(cov)
    assert has.sum() >= 0.9 * clip.n_frames and (cov[has] >= 0.95).mean() >= 0.95
    stab = Q.flow_stability(lay, frames)
    assert stab.pairs >= 100 and stab.median >= 0.8
    assert stab.per_label()["face"] >= 0.9
    # carphone's elbows and wrists are below the frame: the limb check is measured on the cyclist instead
    assert Q.limb_hits(lay, clip.load("body")).visible == 0

    # deterministic: the stored frames equal a fresh estimate, and a forced re-run gives the same array
    t = 37
    again = L.estimate_layout(
        frames[t], masks[t], clip.load("body")[t], face_raw[t], clip.load("hand_left")[t],
        clip.load("hand_right")[t], clip.load("pose_raw")[t],
    )  # fmt: skip
    assert np.array_equal(again, lay[t])
    before = np.array(lay)

    # done: skipped (nothing rewritten)
    mtime = clip.path("layout").stat().st_mtime_ns
    L.add_layout_stage(clip)
    assert clip.path("layout").stat().st_mtime_ns == mtime

    # killed half-way by an error: no layout file left, the stage is not done; a re-run finishes it
    clip.set_stage("layout", status="stale")
    clip.path("layout").unlink()
    calls = {"n": 0}
    real = L.estimate_layout

    def dies(*a, **k):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(L, "estimate_layout", dies)
    with pytest.raises(KeyboardInterrupt):
        L.add_layout_stage(clip)
    assert not clip.path("layout").exists() and not clip.stage_done("layout")
    assert not list(clip.root.glob("layout*.npy*"))
    monkeypatch.undo()
    L.add_layout_stage(clip)
    assert np.array_equal(np.asarray(clip.load("layout")), before)

    # an imported layout is kept unless forced
    clip.set_stage("layout", status="done", source="imported")
    mtime = clip.path("layout").stat().st_mtime_ns
    L.add_layout_stage(clip)
    assert clip.path("layout").stat().st_mtime_ns == mtime
    L.add_layout_stage(clip, force=True)
    assert clip.stage("layout")["source"] == "estimated"


@pytest.fixture(scope="module")
def cyclist(tmp_path_factory):
    """Frames 104..136 of bikes.mp4 (a cyclist with bare arms, tracked throughout; the frames around them
    hold a false detection on a car and a scene cut) extracted at 128 x 128."""
    from reenactor.extract import extract
    from reenactor.io.video import iter_frames, probe, write_video
    from reenactor.samples import sample_path

    src = sample_path("bikes")
    tmp = tmp_path_factory.mktemp("cyclist")
    write_video(tmp / "cyclist.mp4", list(iter_frames(src, start=104, stop=137)), fps=probe(src).fps)
    return extract(tmp / "cyclist.mp4", tmp / "clip", size=128, progress=False, log=lambda *_: None)


def test_elbows_and_wrists_in_their_arm_on_a_cyclist(cyclist):
    L.add_layout_stage(cyclist)
    lay = cyclist.load("layout")
    assert Q.outside_mask(lay, cyclist.load("mask")) == 0
    hits = Q.limb_hits(lay, cyclist.load("body"))
    assert hits.visible >= 100
    assert hits.rate >= 0.9 and hits.other_side == 0
    assert Q.flow_stability(lay, cyclist.load("frames")).median >= 0.8


def test_reference_gets_a_layout(clip_copy):
    from reenactor.reference import load_reference

    ref = load_reference("sample:astronaut", 128)
    lay = ref.layout
    assert lay is not None and lay.shape == (128, 128) and lay.dtype == np.uint8
    assert ((lay > 0) == (ref.mask >= L.MASK_THRESHOLD)).all()
    assert ref.extras["layout_source"] == "estimated" and ref.extras["face_raw"].shape == (478, 3)
    assert Q.face_coverage(lay, ref.extras["face_raw"])[0] >= 0.95
    assert {LAB("face"), LAB("hair"), LAB("upper_clothes")} <= set(np.unique(lay).tolist())

    # a clip frame with a stored layout uses it (here a made-up one: everyone is a left shoe), rescaled
    lay_store = np.where(np.asarray(clip_copy.load("mask")) >= 128, LAB("left_shoe"), 0).astype(np.uint8)
    clip_copy.save("layout", lay_store, stage="layout")
    clip_copy.set_stage("layout", status="done", source="imported")
    ref2 = load_reference(f"{clip_copy.root}:3", 64)
    assert ref2.extras["layout_source"] == "imported"
    assert set(np.unique(ref2.layout).tolist()) == {0, LAB("left_shoe")}
    assert ((ref2.layout > 0) == (ref2.mask >= L.MASK_THRESHOLD)).all()
