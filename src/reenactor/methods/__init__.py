"""Methods (one per paper, plus baselines), found by name. Each is imported only when asked for."""

from __future__ import annotations

import importlib

from ..errors import ReenactorError

#: name -> "module:Class" (relative to reenactor.methods). Add one line per method.
REGISTRY: dict[str, str] = {}
REGISTRY["cloning"] = "cloning:CloningMethod"
REGISTRY["pix2pix"] = "cloning.pix2pix:Pix2PixMethod"  # a preset of cloning, in its package
REGISTRY["nearest_neighbor"] = "nearest_neighbor:NearestNeighborMethod"
REGISTRY["upper_body"] = "upper_body:UpperBodyMethod"
REGISTRY["pose_warp"] = "pose_warp:PoseWarpMethod"
REGISTRY["single_shot"] = "single_shot:SingleShotMethod"
REGISTRY["remot"] = "remot:RemotMethod"
REGISTRY["psgan"] = "psgan:PSGANMethod"
REGISTRY["scgan"] = "scgan:SCGANMethod"


def method_names() -> list[str]:
    return sorted(REGISTRY)


def get_method(name: str):
    """The Method class registered under ``name``."""
    if name not in REGISTRY:
        raise ReenactorError(f"unknown method {name!r}; available: {', '.join(method_names()) or '(none)'}")
    mod, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(f"reenactor.methods.{mod}"), cls)
