"""Body-part label sets: the 22-label layout reenactor stores, the human-parsing sets users import, and the
coarser views methods condition on. Adding a label set is a table here, not code.

``LAYOUT`` is what a clip store's ``layout.npy`` and a :class:`reenactor.reference.Reference`'s ``layout`` hold:
the 20 CIHP labels (Gong et al. 2018; LIP, Gong et al. 2017, has the same indices with 10 = jumpsuits) plus
left and right hand (20, 21), as used for the single-shot method's parsing input (Gafni et al. 2021, sec. 3:
"20 labels ... with 2 additional labels for the hands"). Left and right are the *person's* left and right, as
in BODY_25 and in LIP/CIHP's annotations (the person's left arm appears on the image's right for a person
facing the camera).

Palettes: ``LAYOUT`` and ``CIHP``/``LIP`` use the colours of the LIP/CIHP reference code (``label_colours`` of
LIP_JPPNet and PGN), extended with two hand colours; ``ATR`` uses the PASCAL-VOC bit-spread palette that SCHP
writes for its ATR model. An imported parsing is read by index (palette-mode or single-channel PNG) or by colour
(RGB PNG) through a set's ``palette``, then mapped to ``LAYOUT`` with ``to_layout``.

Views (:data:`VIEWS`) merge layout labels into the classes a method conditions on, e.g. REMOT's six
(Yang et al. 2021, sec. 3.1: head, top, bottom, shoes, limbs, background).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def voc_palette(n: int) -> np.ndarray:
    """The PASCAL-VOC bit-spread palette (label bits spread over the high bits of R, G, B), (n, 3) uint8."""
    pal = np.zeros((n, 3), np.uint8)
    for j in range(n):
        lab, i = j, 0
        while lab:
            for c in range(3):
                pal[j, c] |= ((lab >> c) & 1) << (7 - i)
            i += 1
            lab >>= 3
    return pal


# LIP / CIHP reference colours (LIP_JPPNet and PGN ``label_colours``), then two hand colours of our own.
_LIP_COLOURS = [
    (0, 0, 0), (128, 0, 0), (255, 0, 0), (0, 85, 0), (170, 0, 51), (255, 85, 0), (0, 0, 85),
    (0, 119, 221), (85, 85, 0), (0, 85, 85), (85, 51, 0), (52, 86, 128), (0, 128, 0), (0, 0, 255),
    (51, 170, 221), (0, 255, 255), (85, 255, 170), (170, 255, 85), (255, 255, 0), (255, 170, 0),
]  # fmt: skip
_HAND_COLOURS = [(255, 0, 255), (170, 0, 255)]


@dataclass(frozen=True)
class LabelSet:
    """A named list of labels with one colour each. ``to_layout[i]`` is the :data:`LAYOUT` label of label ``i``
    (identity for ``LAYOUT`` itself)."""

    name: str
    labels: tuple[str, ...]
    palette: np.ndarray = field(repr=False)  # (n, 3) uint8 RGB
    to_layout: tuple[int, ...] = field(repr=False, default=())
    description: str = ""

    def __post_init__(self) -> None:
        pal = np.asarray(self.palette, np.uint8).reshape(-1, 3)
        object.__setattr__(self, "palette", pal)
        if len(pal) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.labels)} labels but {len(pal)} colours")
        if len({tuple(c) for c in pal.tolist()}) != len(pal):
            raise ValueError(f"{self.name}: two labels share a colour")
        if not self.to_layout:
            object.__setattr__(self, "to_layout", tuple(range(len(self.labels))))
        if len(self.to_layout) != len(self.labels):
            raise ValueError(
                f"{self.name}: to_layout has {len(self.to_layout)} entries, not {len(self.labels)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, name: str) -> int:
        return self.labels.index(name)

    def colourize(self, labels: np.ndarray) -> np.ndarray:
        """(..., ) integer labels -> (..., 3) uint8 RGB in this set's palette."""
        return self.palette[np.asarray(labels, np.int64).clip(0, len(self) - 1)]

    def from_colours(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 colours -> ``(labels (H, W) uint8, unknown (H, W) bool)``: pixels whose colour is no
        label's colour are marked unknown (label 0)."""
        rgb = np.asarray(rgb, np.uint8)[..., :3]
        key = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        pal = self.palette.astype(np.int64)
        pkey = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
        order = np.argsort(pkey)
        pos = np.searchsorted(pkey[order], key).clip(0, len(pkey) - 1)
        found = pkey[order][pos] == key
        labels = np.where(found, order[pos], 0).astype(np.uint8)
        return labels, ~found

    def map_to_layout(self, labels: np.ndarray) -> np.ndarray:
        """Labels of this set -> :data:`LAYOUT` labels (uint8)."""
        lut = np.asarray(self.to_layout, np.uint8)
        return lut[np.asarray(labels, np.int64)]


def resize_labels(labels: np.ndarray, size: int) -> np.ndarray:
    """(H, W) labels -> (size, size) uint8 by nearest neighbour (labels are never blended)."""
    import cv2

    labels = np.asarray(labels, np.uint8)
    if labels.shape == (size, size):
        return labels
    return cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)


LAYOUT = LabelSet(
    "layout",
    (
        "background",
        "hat",
        "hair",
        "glove",
        "sunglasses",
        "upper_clothes",
        "dress",
        "coat",
        "socks",
        "pants",
        "torso_skin",
        "scarf",
        "skirt",
        "face",
        "left_arm",
        "right_arm",
        "left_leg",
        "right_leg",
        "left_shoe",
        "right_shoe",
        "left_hand",
        "right_hand",
    ),  # fmt: skip
    np.array(_LIP_COLOURS + _HAND_COLOURS, np.uint8),
    description="reenactor's stored layout: the 20 CIHP labels + left/right hand",
)

CIHP = LabelSet(
    "cihp",
    LAYOUT.labels[:20],
    np.array(_LIP_COLOURS, np.uint8),
    description="CIHP (Gong et al. 2018), 20 labels, LIP_JPPNet/PGN colours",
)

LIP = LabelSet(
    "lip",
    LAYOUT.labels[:10] + ("jumpsuits",) + LAYOUT.labels[11:20],
    np.array(_LIP_COLOURS, np.uint8),
    # a jumpsuit covers torso and legs; upper clothes is the closer of the layout labels for the torso part
    to_layout=tuple(range(10)) + (LAYOUT.index("upper_clothes"),) + tuple(range(11, 20)),
    description="LIP (Gong et al. 2017), 20 labels (10 = jumpsuits), LIP_JPPNet colours",
)

_ATR_LABELS = (
    "background", "hat", "hair", "sunglasses", "upper_clothes", "skirt", "pants", "dress", "belt",
    "left_shoe", "right_shoe", "face", "left_leg", "right_leg", "left_arm", "right_arm", "bag", "scarf",
)  # fmt: skip
_ATR_TO_LAYOUT = {"belt": "upper_clothes", "bag": "background"}  # no layout label of their own
ATR = LabelSet(
    "atr",
    _ATR_LABELS,
    voc_palette(len(_ATR_LABELS)),
    to_layout=tuple(LAYOUT.index(_ATR_TO_LAYOUT.get(n, n)) for n in _ATR_LABELS),
    description="ATR (Liang et al. 2015) as SCHP writes it, 18 labels, PASCAL-VOC colours",
)

#: label sets a user's parsing can be imported from
IMPORT_SETS: dict[str, LabelSet] = {s.name: s for s in (LAYOUT, CIHP, LIP, ATR)}


@dataclass(frozen=True)
class View:
    """A coarser view of :data:`LAYOUT`: ``classes`` names, and per layout label the class index."""

    name: str
    classes: tuple[str, ...]
    of_layout: tuple[int, ...] = field(repr=False)
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.of_layout) != len(LAYOUT):
            raise ValueError(f"view {self.name}: needs one class per layout label ({len(LAYOUT)})")

    def apply(self, layout: np.ndarray) -> np.ndarray:
        """(..., ) layout labels -> (..., ) class indices (uint8)."""
        return np.asarray(self.of_layout, np.uint8)[np.asarray(layout, np.int64)]

    def one_hot(self, layout: np.ndarray) -> np.ndarray:
        """(H, W) layout labels -> (C, H, W) float32 one-hot of this view's classes."""
        idx = self.apply(layout)
        return (np.arange(len(self.classes), dtype=np.uint8)[:, None, None] == idx[None]).astype(np.float32)


def _view(name: str, classes: tuple[str, ...], groups: dict[str, tuple[str, ...]], description: str) -> View:
    of = [0] * len(LAYOUT)
    for cls, members in groups.items():
        for m in members:
            of[LAYOUT.index(m)] = classes.index(cls)
    return View(name, classes, tuple(of), description)


#: REMOT's six classes (Yang et al. 2021, sec. 3.1); gloves and hands are limbs, scarf and coat are top
REMOT6 = _view(
    "remot6",
    ("background", "head", "top", "bottom", "shoes", "limbs"),
    {
        "head": ("hat", "hair", "sunglasses", "face"),
        "top": ("upper_clothes", "dress", "coat", "torso_skin", "scarf"),
        "bottom": ("pants", "skirt", "socks"),
        "shoes": ("left_shoe", "right_shoe"),
        "limbs": ("glove", "left_arm", "right_arm", "left_leg", "right_leg", "left_hand", "right_hand"),
    },
    "REMOT's six parsing classes (Yang et al. 2021)",
)

VIEWS: dict[str, View] = {v.name: v for v in (REMOT6,)}

__all__ = [
    "LabelSet",
    "View",
    "LAYOUT",
    "CIHP",
    "LIP",
    "ATR",
    "IMPORT_SETS",
    "REMOT6",
    "VIEWS",
    "voc_palette",
]
