"""The five-part human encoder of B2F (Gafni et al. 2021, sec. 3.2, eq. 5): e_z = [VGGFace2(t_1), VGG(t_2..5)].

Offline stand-ins, both frozen (as the paper's pre-trained encoders are):

* t_1 (face and hair) -> dlib's 128-d face descriptor (:mod:`reenactor.face.identity`; the paper: VGGFace2's
  2048-d penultimate layer). dlib is NumPy code, not a torch module: the descriptor is measured, never
  optimised through, and is computed in the data pipeline (training) or once per target photo (transfer),
  aligned by dlib's 5-point model inside the face box of the layout.
* t_2 .. t_5 (upper clothes, lower clothes, shoes, skin) -> the offline ImageNet network
  (:mod:`reenactor.nn.backbones`: EfficientNet-Lite0 by default, VGG-19 with a user's weights file), the
  spatial mean of its deepest map (320-d each for EfficientNet-Lite0; the paper: 512-d VGG features).

So e_z has 128 + 4 x 320 = 1408 dimensions here against the paper's 4096.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...nn.backbones import FeatureNet
from .maps import BODY_CROPS

FACE_DIM = 128  # dlib's descriptor


class FaceEmbedder:
    """dlib's face descriptor of the face inside a given box (no detection: the box comes from the layout).

    ``embed(image (H, W, 3) uint8, box (left, top, right, bottom) or None) -> (128,) float32``; zeros without a
    box. Built lazily (the dlib models load in ~0.4 s) and dropped when pickled (DataLoader workers rebuild it).
    """

    description = (
        "dlib_face_recognition_resnet_model_v1 128-d descriptor with dlib's 5-point alignment "
        "(package face-recognition-models), in place of VGGFace2"
    )

    def __init__(self) -> None:
        self._describer = None

    def _get(self):
        if self._describer is None:
            from ...face.identity import FaceDescriber

            self._describer = FaceDescriber()
        return self._describer

    def embed(self, image: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
        if box is None:
            return np.zeros(FACE_DIM, np.float32)
        import dlib

        d = self._get()
        img = np.ascontiguousarray(image, dtype=np.uint8)
        shape = d.shape(img, dlib.rectangle(*box))
        return np.asarray(d.net.compute_face_descriptor(img, shape, 0), np.float32)

    def __getstate__(self) -> dict:
        return {"_describer": None}


class AppearanceEncoder(nn.Module):
    """t_2 .. t_5 through a frozen ImageNet :class:`FeatureNet`: ``forward(crops (B, 4, 3, C, C) in [-1, 1])
    -> (B, 4 * D)``, D = the network's deepest channel count, each the spatial mean of the deepest map. No
    gradient flows into the network (its parameters are frozen and the pass runs without autograd)."""

    def __init__(self, net: FeatureNet):
        super().__init__()
        self.net = net
        self.dim = int(net.channels[-1])
        self.out_dim = len(BODY_CROPS) * self.dim

    @property
    def description(self) -> str:
        return f"{self.net.description}, mean of its deepest map ({self.dim}-d per crop), in place of VGG"

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        b = crops.shape[0]
        with torch.no_grad():
            feats = self.net(crops.flatten(0, 1))[-1]
        return feats.float().mean(dim=(2, 3)).reshape(b, self.out_dim)


def appearance_vector(face_desc: torch.Tensor, body: torch.Tensor) -> torch.Tensor:
    """e_z of eq. 5: (B, 128) face descriptor and (B, 4 D) crop features -> (B, 128 + 4 D)."""
    return torch.cat([face_desc.float(), body.float()], 1)
