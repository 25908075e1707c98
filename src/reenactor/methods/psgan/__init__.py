"""psgan: pose sequences generated from one pose and an action label (PSGAN, Yang, Wang, Pu and Wei 2018,
"Pose Guided Human Video Generation", §3.2-3.4, eqs. 1-3). Kind ``pose-sequence``: it writes driving poses
(``reenactor poses generate``), which any per-person or reference model then renders."""

from .config import PSGANConfig
from .method import PSGANMethod
from .synthesizer import PSGANGenerator

__all__ = ["PSGANConfig", "PSGANMethod", "PSGANGenerator"]
