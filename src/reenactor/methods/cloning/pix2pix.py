"""The pix2pix baseline of Aberman et al. 2019 (section 5.1): the paired branch of performance cloning alone.

pix2pix (Isola et al. 2017) extended to take part-confidence-map volumes instead of images, trained on the
target's pose/frame pairs only: one pose volume in, one frame out (N = 1), L_rec of eq. 3 (feature L1 +
conditional PatchGAN), no unpaired branch and no temporal term. It is the cloning method under another
configuration (its defaults below), so the two can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import CloningConfig, VolumeConfig
from .method import CloningMethod


def _single_frame() -> VolumeConfig:
    return VolumeConfig(frames=1)


@dataclass
class Pix2PixConfig(CloningConfig):
    """:class:`CloningConfig` with N = 1 and the unpaired branch off (see configs/pix2pix/default.yaml)."""

    volume: VolumeConfig = field(default_factory=_single_frame)
    unpaired: bool = False


class Pix2PixMethod(CloningMethod):
    """pix2pix on pose volumes: the paired branch alone. ``--unpaired`` clips are ignored (printed)."""

    name = "pix2pix"
    Config = Pix2PixConfig
