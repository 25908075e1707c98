"""Networks shared by every method: blocks, generators, discriminators, sequence modules, frozen backbones.

No method keeps a private copy of any of these; devices and dtypes come from the tensors (no hard-coded CUDA device calls).
"""

from .backbones import EfficientNetLite0, FeatureNet, VGG19Features, load_feature_net
from .blocks import SPADE, ConvBlock, Decoder, Encoder, ResnetBlock, SPADEResBlock, make_act, make_norm
from .discriminators import MultiscaleDiscriminator, NLayerDiscriminator, SpaceTimeDiscriminator
from .generators import EncoderDecoder, GlobalGenerator, LocalEnhancer, SPADEDecoder, UNetGenerator
from .sequence import SequenceModule

__all__ = [
    "ConvBlock",
    "Decoder",
    "EfficientNetLite0",
    "Encoder",
    "EncoderDecoder",
    "FeatureNet",
    "GlobalGenerator",
    "LocalEnhancer",
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "ResnetBlock",
    "SPADE",
    "SPADEDecoder",
    "SPADEResBlock",
    "SequenceModule",
    "SpaceTimeDiscriminator",
    "UNetGenerator",
    "VGG19Features",
    "load_feature_net",
    "make_act",
    "make_norm",
]
