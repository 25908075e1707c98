"""remot: region-to-whole motion transfer (Yang et al. 2021, REMOT): Layout GAN, Global Alignment Module, Region
GAN and Whole Composition Network with its Texture Alignment Module, trained on many people's clips and given one
photo of the target at transfer time."""

from .config import RemotConfig
from .method import RemotMethod
from .synthesizer import RemotSynthesizer

__all__ = ["RemotConfig", "RemotMethod", "RemotSynthesizer"]
