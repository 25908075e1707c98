"""Performance cloning (paper 004): pose volumes, the two-branch method and its synthesizer."""

from .config import CloningConfig
from .method import CloningMethod
from .synthesizer import PoseVolumeSynthesizer

__all__ = ["CloningConfig", "CloningMethod", "PoseVolumeSynthesizer"]
