"""Procedural actions: labelled pose sequences animated from real rest poses (offline action data for PSGAN).

The paper trains on UCF101 + Weizmann (22 actions) and CK+; none of them ships offline. This module makes a
**procedural** stand-in: a *rest pose* measured on real footage (a frame of a clip store, or a photo through
:func:`reenactor.reference.load_reference`) is animated by a hand-written motion per action, with
per-sample variation of speed, amplitude, body proportions, placement and phase. It is labelled
``procedural`` wherever it is used: every written file's ``source`` says so, and :func:`write_action_data`
writes ``ACTIONS.json`` with ``"procedural": true`` at the top of the folder.

Actions (:data:`ACTIONS`): ``wave`` (right forearm swings overhead), ``raise`` (both arms up and down),
``clap`` (both wrists meet in front of the chest, repeatedly), ``nod`` (head and face dip and rise),
``bend`` (the upper body leans sideways about the hips and back), ``jump`` (the body rises and falls,
arms lifting in flight). Facial expressions (:data:`EXPRESSIONS`: happy, surprise, sad, angry, disgust, fear,
the CK+ classes) hold the body still and ramp the 68 face points from neutral to apex through the
expression-warp modes (:mod:`reenactor.face.expression_warp`); pass their names as ``actions``.

Confidences are kept honest: a joint the rest pose saw (confidence >= :data:`SEEN`) keeps its confidence; a
joint MediaPipe only placed (an off-frame elbow or hip, confidence below :data:`SEEN`) gets
:data:`PLACED` when the motion brings it into the frame; a joint outside the frame gets 0; a joint without a
position stays missing. Upper-body footage keeps its legs off-frame: what exists is animated, nothing is
invented.

Layout written by :func:`write_action_data` (the documented layout of action data, for users' own data too:
see :mod:`reenactor.data.actions`)::

    ACTIONS_DIR/ACTIONS.json              {"procedural": true, "actions": [...], "seed": ..., ...}
    ACTIONS_DIR/wave/0000.poses.npz       one pose-sequence file per sample
    ACTIONS_DIR/clap/...
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..pose.posefile import PoseSequence, save_poses
from ..pose.skeleton import J

#: sequences per action written for training (`reenactor poses actions`, the demo, `reenactor benchmark psgan`):
#: on the benchmark's held-out poses 128 gave a keypoint error of 4.3 px against 5.4 px with 32 (docs/psgan.md)
PER_ACTION = 128
#: procedural actions, in label order
ACTIONS: tuple[str, ...] = ("wave", "raise", "clap", "nod", "bend", "jump")
#: a rest-pose joint at least this sure counts as seen (it keeps its confidence when animated)
SEEN = 0.5
#: confidence of a joint the rest pose only placed (off-frame, low confidence) once the motion brings it in view
PLACED = 0.5
HEAD = [J["Nose"], J["REye"], J["LEye"], J["REar"], J["LEar"]]
LEGS = [J[n] for n in ("RKnee", "RAnkle", "LKnee", "LAnkle")] + list(range(19, 25))


@dataclass(frozen=True)
class Variation:
    """Per-sample variation (drawn by :func:`draw_variation`): ``speed`` scales the number of motion cycles,
    ``amplitude`` the motion's extent, ``arm`` the arm segment lengths, ``shoulder`` the shoulder width,
    ``scale`` the whole body about the neck, ``shift`` (dx, dy) in pixels, ``phase`` in cycles."""

    speed: float = 1.0
    amplitude: float = 1.0
    arm: float = 1.0
    shoulder: float = 1.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    phase: float = 0.0


#: ranges the variation is drawn from (uniform)
RANGES = {
    "speed": (0.75, 1.33),
    "amplitude": (0.7, 1.3),
    "arm": (0.9, 1.1),
    "shoulder": (0.92, 1.08),
    "scale": (0.9, 1.1),
    "shift": (-0.05, 0.05),  # fraction of the frame
    "phase": (0.0, 0.15),
}


def draw_variation(rng: np.random.Generator, size: tuple[int, int]) -> Variation:
    """One sample's :class:`Variation` from :data:`RANGES`."""
    u = {k: float(rng.uniform(*r)) for k, r in RANGES.items() if k != "shift"}
    sx, sy = (float(rng.uniform(*RANGES["shift"])) for _ in range(2))
    return Variation(shift=(sx * size[1], sy * size[0]), **u)


# ------------------------------------------------------------------------------------------ geometry
def _dir(theta: float, side: float) -> np.ndarray:
    """Unit vector at ``theta`` (radians) from straight down, towards the body's ``side`` (+1: image right)."""
    return np.array([side * math.sin(theta), math.cos(theta)])


def _angle(v: np.ndarray, side: float) -> float:
    """Inverse of :func:`_dir`: the angle from straight down of ``v``, positive away from the body."""
    return math.atan2(side * v[0], v[1])


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


class _Body:
    """A rest pose prepared for animation: positions, confidences and arm geometry."""

    def __init__(self, body: np.ndarray, face: np.ndarray | None, var: Variation):
        self.xy = body[:, :2].astype(np.float64).copy()
        self.conf = body[:, 2].astype(np.float64).copy()
        self.face = None if face is None else face.astype(np.float64).copy()
        #: joints with a position in the rest pose (a joint at (0, 0) has none and stays missing)
        self.placed = np.abs(self.xy).sum(-1) > 0
        self.face_placed = None if face is None else np.abs(self.face[:, :2]).sum(-1) > 0
        neck = self.xy[J["Neck"]].copy()
        # proportions: shoulders about the neck, then the arms along their own directions, then the body
        for s in ("RShoulder", "LShoulder"):
            self.xy[J[s]] = neck + var.shoulder * (self.xy[J[s]] - neck)
        for s, e, w in (("RShoulder", "RElbow", "RWrist"), ("LShoulder", "LElbow", "LWrist")):
            up, fo = self.xy[J[e]] - self._rest(s), self.xy[J[w]] - self.xy[J[e]]
            self.xy[J[e]] = self.xy[J[s]] + var.arm * up
            self.xy[J[w]] = self.xy[J[e]] + var.arm * fo
        self.xy = neck + var.scale * (self.xy - neck) + np.array(var.shift)
        if self.face is not None:
            self.face[:, :2] = neck + var.scale * (self.face[:, :2] - neck) + np.array(var.shift)
        self.width = float(np.linalg.norm(self.xy[J["RShoulder"]] - self.xy[J["LShoulder"]])) or 1.0
        self.neck = self.xy[J["Neck"]].copy()
        hips = self.xy[[J["RHip"], J["LHip"]]]
        self.hip = hips.mean(0) if np.abs(hips).sum() > 0 else self.neck + np.array([0, 1.6 * self.width])
        self.arms = {}
        for name, s, e, w in (("R", "RShoulder", "RElbow", "RWrist"), ("L", "LShoulder", "LElbow", "LWrist")):
            side = float(np.sign(self.xy[J[s]][0] - self.neck[0]) or (-1 if name == "R" else 1))
            sh, el, wr = self.xy[J[s]], self.xy[J[e]], self.xy[J[w]]
            up, fo = np.linalg.norm(el - sh), np.linalg.norm(wr - el)
            if up < 0.3 * self.width or fo < 0.3 * self.width:  # no usable arm geometry: canonical lengths
                up, fo = 0.9 * self.width, 0.8 * self.width
                a1 = a2 = math.radians(10)
            else:
                a1, a2 = _angle(el - sh, side), _angle(wr - el, side)
            self.arms[name] = {
                "side": side,
                "up": up,
                "fo": fo,
                "a1": a1,
                "a2": a2,
                "joints": (J[s], J[e], J[w]),
            }

    def _rest(self, joint: str) -> np.ndarray:
        return self.xy[J[joint]]

    def pose_arm(self, xy: np.ndarray, name: str, a1: float, a2: float) -> None:
        """Place arm ``name`` (R/L) at upper-arm angle ``a1`` and forearm angle ``a2`` (radians from down)."""
        arm = self.arms[name]
        s, e, w = arm["joints"]
        xy[e] = xy[s] + arm["up"] * _dir(a1, arm["side"])
        xy[w] = xy[e] + arm["fo"] * _dir(a2, arm["side"])


def _rotate(xy: np.ndarray, centre: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    d = xy - centre
    return centre + np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], -1)


# ------------------------------------------------------------------------------------------ the motions
# Each motion: (body, t in [0, 1), variation, cycles) -> (body xy (25, 2), face offset function or None)
def _wave(b: _Body, t: float, v: Variation, cyc: float) -> tuple[np.ndarray, Callable | None]:
    xy = b.xy.copy()
    r = b.arms["R"]
    up = _smooth(t / 0.2)
    a1 = r["a1"] + up * (math.radians(100 + 25 * v.amplitude) - r["a1"])
    swing = math.radians(30 * v.amplitude) * math.sin(2 * math.pi * (cyc * t + v.phase))
    a2 = r["a2"] + up * (math.radians(165) + swing - r["a2"])
    b.pose_arm(xy, "R", a1, a2)
    return xy, None


def _raise(b: _Body, t: float, v: Variation, cyc: float) -> tuple[np.ndarray, Callable | None]:
    xy = b.xy.copy()
    s = math.sin(math.pi * min(1.0, cyc * 0.5 * t + v.phase)) ** 2
    top = math.radians(min(180.0, 100 + 60 * v.amplitude))
    for name in ("R", "L"):
        a = b.arms[name]
        b.pose_arm(xy, name, a["a1"] + s * (top - a["a1"]), a["a2"] + s * (top + math.radians(5) - a["a2"]))
    return xy, None


def _clap(b: _Body, t: float, v: Variation, cyc: float) -> tuple[np.ndarray, Callable | None]:
    xy = b.xy.copy()
    centre = b.neck + np.array([0.0, 0.9 * b.width])
    up = _smooth(t / 0.15)
    closed = 0.5 - 0.5 * math.cos(2 * math.pi * (cyc * t + v.phase))  # 0 open, 1 hands together
    gap = b.width * (0.05 + 0.55 * v.amplitude * (1 - closed))
    for name in ("R", "L"):
        a = b.arms[name]
        s, e, w = a["joints"]
        a1 = a["a1"] + up * (math.radians(35) - a["a1"])
        xy[e] = xy[s] + a["up"] * _dir(a1, a["side"])
        target = centre + np.array([a["side"] * gap / 2, 0.0])
        rest_w = xy[e] + a["fo"] * _dir(a["a2"], a["side"])
        xy[w] = rest_w + up * (target - rest_w)
    return xy, None


def _nod(b: _Body, t: float, v: Variation, cyc: float) -> tuple[np.ndarray, Callable | None]:
    xy = b.xy.copy()
    dy = 0.22 * b.width * v.amplitude * (0.5 - 0.5 * math.cos(2 * math.pi * (cyc * t + v.phase)))
    xy[HEAD, 1] += dy
    return xy, lambda f: f + np.array([0.0, dy])


def _bend(b: _Body, t: float, v: Variation, cyc: float) -> tuple[np.ndarray, Callable | None]:
    angle = math.radians(25 * v.amplitude) * math.sin(math.pi * min(1.0, cyc * 0.5 * t + v.phase)) ** 2
    xy = b.xy.copy()
    upper = [i for i in range(25) if i not in LEGS and i not in (J["RHip"], J["LHip"], J["MidHip"])]
    xy[upper] = _rotate(xy[upper], b.hip, angle)
    return xy, lambda f: _rotate(f, b.hip, angle)


def _jump(b: _Body, t: float, v: Variation, cyc: float) -> tuple[np.ndarray, Callable | None]:
    flight = abs(math.sin(math.pi * (cyc * t + v.phase)))
    dy = -0.6 * b.width * v.amplitude * flight
    xy = b.xy.copy()
    for name in ("R", "L"):
        a = b.arms[name]
        lift = math.radians(40) * flight
        b.pose_arm(xy, name, a["a1"] + lift, a["a2"] + lift)
    xy[:, 1] += dy
    return xy, lambda f: f + np.array([0.0, dy])


MOTIONS: dict[str, tuple[Callable, float]] = {
    # name: (motion, base number of cycles over the sequence)
    "wave": (_wave, 2.0),
    "raise": (_raise, 1.0),
    "clap": (_clap, 3.0),
    "nod": (_nod, 2.0),
    "bend": (_bend, 1.0),
    "jump": (_jump, 2.0),
}


# ------------------------------------------------------------------------------------------ expressions
#: procedural facial expressions (the CK+ variant's six classes): apex amplitudes of the expression-warp modes
#: (:data:`reenactor.face.expression_warp.MODES`, fractions of the inter-ocular distance), ramped from neutral
EXPRESSIONS: dict[str, dict[str, float]] = {
    "happy": {"smile": 0.30, "jaw": 0.05},
    "surprise": {"jaw": 0.35, "brow": 0.15},
    "sad": {"smile": -0.15, "brow": -0.04},
    "angry": {"brow": -0.10, "smile": -0.06},
    "disgust": {"smile": -0.10, "jaw": 0.08, "brow": -0.06},
    "fear": {"jaw": 0.20, "brow": 0.12, "smile": -0.08},
}


def _expression(face: np.ndarray, name: str, t: float, v: Variation) -> np.ndarray:
    """(68, 3) face at time ``t`` of expression ``name``: apex * amplitude * smoothstep ramp (neutral at the
    start, apex after ``0.7 / speed`` of the sequence, then held), as CK+ sequences run neutral -> apex."""
    from ..face.expression_warp import ExpressionField

    ramp = _smooth((t - v.phase) * v.speed / 0.7)
    amp = {k: a * v.amplitude * ramp for k, a in EXPRESSIONS[name].items()}
    return ExpressionField(face, amp).move_points(face)


# ------------------------------------------------------------------------------------------ sequences
def animate(
    action: str,
    rest: dict[str, np.ndarray],
    frames: int,
    size: tuple[int, int],
    variation: Variation | None = None,
) -> dict[str, np.ndarray]:
    """Animate one rest pose: ``rest`` {"body": (25, 3), "face": (68, 3) optional} pixels of ``size`` (H, W)
    -> {"body": (frames, 25, 3), "face": (frames, 68, 3) when given} float32 (confidences per the module
    docstring)."""
    if action not in MOTIONS and action not in EXPRESSIONS:
        raise ValueError(
            f"unknown procedural action {action!r}; known: {', '.join(ACTIONS)} and expressions "
            f"{', '.join(EXPRESSIONS)}"
        )
    v = variation or Variation()
    face = rest.get("face")
    if action in EXPRESSIONS:
        if face is None:
            raise ValueError("a procedural expression needs the rest pose's 68 face points")
        return _animate_expression(action, rest, face, frames, size, v)
    motion, base = MOTIONS[action]
    b = _Body(np.asarray(rest["body"], np.float32), None if face is None else np.asarray(face), v)
    cyc = base * v.speed
    body = np.zeros((frames, 25, 3), np.float32)
    faces = None if b.face is None else np.zeros((frames, 68, 3), np.float32)
    h, w = size
    for i in range(frames):
        t = i / max(frames - 1, 1)
        xy, face_fn = motion(b, t, v, cyc)
        body[i] = _honest(xy, b.conf, b.placed, h, w)
        if faces is not None:
            fxy = b.face[:, :2] if face_fn is None else face_fn(b.face[:, :2])
            faces[i] = _honest(fxy, b.face[:, 2], b.face_placed, h, w)
    out = {"body": body}
    if faces is not None:
        out["face"] = faces
    return out


def _animate_expression(
    name: str, rest: dict[str, np.ndarray], face: np.ndarray, frames: int, size: tuple[int, int], v: Variation
) -> dict[str, np.ndarray]:
    """The body held still (placement and proportions varied as for actions), the face ramped to the apex."""
    b = _Body(np.asarray(rest["body"], np.float32), np.asarray(face, np.float32), v)
    h, w = size
    body = np.repeat(_honest(b.xy, b.conf, b.placed, h, w)[None], frames, 0)
    f0 = np.concatenate([b.face[:, :2], np.asarray(face)[:, 2:3]], -1).astype(np.float32)
    faces = np.zeros((frames, 68, 3), np.float32)
    for i in range(frames):
        f = _expression(f0, name, i / max(frames - 1, 1), v)
        faces[i] = _honest(f[:, :2].astype(np.float64), f0[:, 2], b.face_placed, h, w)
    return {"body": body, "face": faces}


def _honest(xy: np.ndarray, conf: np.ndarray, placed: np.ndarray, h: int, w: int) -> np.ndarray:
    """[x, y, conf]: seen joints keep their confidence, placed ones get PLACED, off-frame / unplaced get 0
    (an unplaced joint also keeps no position)."""
    xy = np.where(placed[:, None], xy, 0.0)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    c = np.where(conf >= SEEN, conf, np.where(placed, PLACED, 0.0))
    c = np.where(inside & placed, c, 0.0)
    return np.concatenate([xy, c[:, None]], -1).astype(np.float32)


@dataclass
class RestPose:
    """A real rest pose to animate: ``body`` (25, 3), ``face`` (68, 3) or None, pixels of ``size`` (H, W);
    ``source`` names where it was measured (e.g. ``carphone:40``)."""

    body: np.ndarray
    face: np.ndarray | None
    size: tuple[int, int]
    source: str

    def framed(self, zoom: float) -> RestPose:
        """The pose seen by a camera zoomed out by ``zoom`` (< 1) about the frame centre: a tight upper-body
        crop (the bundled footage's shoulders nearly touch the frame's sides) leaves room for the arms to move
        in view. Joints MediaPipe placed off-frame come into view with their low confidence (see
        :data:`PLACED`); nothing is added."""
        c = np.array([(self.size[1] - 1) / 2, (self.size[0] - 1) / 2], np.float32)

        def z(kp):
            if kp is None:
                return None
            out = kp.copy()
            placed = np.abs(kp[:, :2]).sum(-1) > 0
            out[placed, :2] = c + zoom * (kp[placed, :2] - c)
            return out

        return RestPose(z(self.body), z(self.face), self.size, f"{self.source} (zoom {zoom:g})")


def rest_poses_from_clip(
    store, frames: Sequence[int] | None = None, name: str | None = None
) -> list[RestPose]:
    """Rest poses from frames of a clip store (default: 4 frames spread over it; frames without a seen neck
    and shoulders are skipped)."""
    n = store.n_frames
    frames = list(np.linspace(0, n - 1, min(4, n)).round().astype(int)) if frames is None else list(frames)
    body, face = store.load("body"), store.load("face") if store.has("face") else None
    name = name or Path(str(store.root)).name
    out = []
    for i in frames:
        b = np.asarray(body[i], np.float32)
        if (b[[J["Neck"], J["RShoulder"], J["LShoulder"]], 2] < SEEN).any():
            continue
        f = None if face is None else np.asarray(face[i], np.float32)
        out.append(RestPose(b, f, tuple(store.size), f"{name}:{i}"))
    return out


def rest_pose_from_reference(reference) -> RestPose:
    """The rest pose of a :class:`reenactor.reference.Reference` (a photo through ``load_reference``)."""
    kp = reference.keypoints
    return RestPose(
        np.asarray(kp["body"], np.float32),
        None if kp.get("face") is None else np.asarray(kp["face"], np.float32),
        reference.size,
        str(reference.source),
    )


def procedural_sequences(
    rests: Sequence[RestPose],
    per_action: int,
    frames: int,
    seed: int = 0,
    actions: Sequence[str] = ACTIONS,
    fps: float = 25.0,
) -> list[tuple[str, PoseSequence, Variation]]:
    """``per_action`` samples of every action, each from a rest pose (cycled) with its own
    :class:`Variation`; deterministic per ``seed``. Returns (action, sequence, variation) triples whose
    ``source`` starts with ``procedural``."""
    return list(_sequences(rests, per_action, frames, seed, actions, fps))


def _sequences(rests, per_action, frames, seed, actions, fps):
    """:func:`procedural_sequences`, one at a time."""
    for ai, action in enumerate(actions):
        for k in range(per_action):
            rng = np.random.default_rng([seed, ai, k])
            rest = rests[(k + ai) % len(rests)]
            var = draw_variation(rng, rest.size)
            arrays = animate(action, {"body": rest.body, "face": rest.face}, frames, rest.size, var)
            src = f"procedural action {action!r} (reenactor.synthetic.actions, seed {seed}, sample {k}) from rest pose {rest.source}"
            yield action, PoseSequence(arrays, fps, rest.size, src), var


def write_action_data(
    out_dir: str | Path,
    rests: Sequence[RestPose],
    per_action: int = 8,
    frames: int = 32,
    seed: int = 0,
    actions: Sequence[str] = ACTIONS,
    fps: float = 25.0,
    zoom: float = 0.5,
    progress: bool = False,
) -> Path:
    """Write procedural action data as a folder per action of ``.poses.npz`` files, plus ``ACTIONS.json``
    (``"procedural": true``, the actions, seed, sample count, frames, ``zoom`` and rest poses). The rest poses
    are first framed by ``zoom`` (:meth:`RestPose.framed`; 1 = as measured). Returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rests = [r.framed(zoom) for r in rests] if zoom != 1 else list(rests)
    from tqdm import tqdm

    seqs = _sequences(rests, per_action, frames, seed, actions, fps)
    bar = tqdm(seqs, total=per_action * len(actions), desc="write", unit="sequence", disable=not progress)
    count: dict[str, int] = {}  # files per action folder: numbered after what it already holds
    for action, seq, _ in bar:
        d = out / action
        if action not in count:
            d.mkdir(exist_ok=True)
            count[action] = len(list(d.glob("*.poses.npz")))
        save_poses(d / f"{count[action]:04d}.poses.npz", seq)
        count[action] += 1
    info = {
        "procedural": True,
        "generator": "reenactor.synthetic.actions",
        "actions": list(actions),
        "seed": seed,
        "per_action": per_action,
        "frames": frames,
        "zoom": zoom,
        "rest_poses": [r.source for r in rests],
    }
    (out / "ACTIONS.json").write_text(json.dumps(info, indent=1))
    return out


__all__ = [
    "ACTIONS",
    "PER_ACTION",
    "EXPRESSIONS",
    "RANGES",
    "Variation",
    "RestPose",
    "animate",
    "draw_variation",
    "procedural_sequences",
    "rest_poses_from_clip",
    "rest_pose_from_reference",
    "write_action_data",
]
