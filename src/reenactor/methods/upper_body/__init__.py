"""Upper-body video synthesis with a realistic face (Liu et al. 2019): FAUP -> facial landmarks -> frame."""

from .config import FrameGenConfig, LandmarkGenConfig, UpperBodyConfig
from .method import UpperBodyMethod, UpperBodySynthesizer

__all__ = [
    "FrameGenConfig",
    "LandmarkGenConfig",
    "UpperBodyConfig",
    "UpperBodyMethod",
    "UpperBodySynthesizer",
]
