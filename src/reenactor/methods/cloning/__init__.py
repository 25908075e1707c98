"""Performance cloning (Aberman et al. 2019): pose volumes, the two-branch method and its synthesizer."""

from .config import CloningConfig
from .method import CloningMethod
from .synthesizer import PoseVolumeSynthesizer

__all__ = ["CloningConfig", "CloningMethod", "PoseVolumeSynthesizer"]
