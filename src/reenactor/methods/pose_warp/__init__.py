"""pose_warp: the training-free single-image baseline ("Pose Warping" of Table 1 in Gafni et al.'s (2021) single-shot
dance reenactment paper): the target's one photo is warped part by part onto each driving pose."""

from .method import PoseWarpConfig, PoseWarpMethod, PoseWarpSynthesizer

__all__ = ["PoseWarpConfig", "PoseWarpMethod", "PoseWarpSynthesizer"]
