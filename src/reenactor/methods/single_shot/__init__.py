"""single_shot: single-shot freestyle dance reenactment (Gafni, Ashual and Wolf 2021): Pose2Body, Body2Frame and
face refinement, trained on many people's clips and given one photo of the target at transfer time."""

from .config import SingleShotConfig
from .method import SingleShotMethod
from .synthesizer import SingleShotSynthesizer

__all__ = ["SingleShotConfig", "SingleShotMethod", "SingleShotSynthesizer"]
