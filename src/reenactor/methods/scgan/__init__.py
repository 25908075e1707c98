"""scgan: frames from poses and one image of the person (SCGAN, Yang et al. 2018 §3.3, eqs. 4-10). Kind
``reference``: trained on many people's clips, given one photo at transfer time; inference uses G1."""

from .config import SCGANConfig
from .method import SCGANMethod
from .synthesizer import SCGANSynthesizer

__all__ = ["SCGANConfig", "SCGANMethod", "SCGANSynthesizer"]
