"""remot's inference (Yang et al. 2021, REMOT): one target photo, then driving poses one by one, each frame fed
the previous outputs (the generated layouts, each region's previous output, the earlier coarse persons).

Once per photo (:meth:`RemotSynthesizer.set_reference`): its layout in REMOT's six classes (the reference's, else
estimated), the person x_s M_s and the background plate B.

Per frame (:meth:`RemotSynthesizer.step`): stick figure of the (normalized) driving pose -> Layout GAN with the
k previous poses and generated layouts (eq. 2) -> its argmax as the region masks (the Region GAN trained on
one-hot real layouts) -> GAM of the source onto it (eq. 4) -> Region GAN per region with that region's previous
output (eqs. 3, 5) -> coarse person (eq. 11) -> WCN with the earlier coarse frames (eqs. 12-15; with
``composition.warp: parts`` also the photo moved part by part onto the driving keypoints) over B; without
the WCN (the ablation) the coarse person is pasted over B where the generated layout is not background. The
first frame has no history: the Layout GAN's mask is 1 there and the earlier coarse frames repeat the first.
The side-by-side middle panel is the generated layout.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
import torch

from ...errors import InputError
from ...nn.convert import one_hot, to_uint8
from ...pose.skeleton import KEYPOINT_ARRAYS
from ..base import Synthesizer
from . import maps
from .config import RemotConfig
from .method import aligned_source, region_inputs
from .networks import build_generators, composite

logger = logging.getLogger(__name__)


class RemotSynthesizer(Synthesizer):
    """See the module docstring."""

    def __init__(
        self,
        cfg: RemotConfig,
        nets: dict[str, torch.nn.Module],
        stages: set[str],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        wcn: bool | None = None,
        flow_gain: float | None = None,
    ):
        self.cfg = cfg
        if wcn and not cfg.wcn:
            raise InputError(
                "this remot model was trained without a Whole Composition Network (model.wcn false)",
                fix="leave --wcn out (its frames are the coarse person over the background)",
            )
        #: compose with the WCN (the model's model.wcn, or the ``wcn`` inference option: False = w/o WCN)
        self.use_wcn = bool(cfg.wcn if wcn is None else wcn)
        self.device = torch.device(device)
        self.precision = precision
        self.nets = {k: n.to(self.device).eval() for k, n in nets.items()}
        #: the scale of the WCN's learned flow (the ``flow_gain`` option: the model's calibrated value, else 1)
        self.flow_gain = 1.0 if flow_gain is None else float(flow_gain)
        if "WCN" in self.nets:
            self.nets["WCN"].flow_gain = self.flow_gain
        self.size = (int(cfg.size), int(cfg.size))
        self.stages = set(stages)
        missing = [s for s in ("layout", "region", "wcn") if s not in stages and (s != "wcn" or self.use_wcn)]
        if missing:
            logger.warning(
                f"[remot] WARNING: this model's {', '.join(missing)} never trained: its frames are noise (train "
                "them: reenactor train --method remot --set model.stage=NAME --set model.init_from=MODEL)"
            )
        self._source: dict[str, torch.Tensor] | None = None
        self._warper = None  # composition.warp parts: the photo's PoseWarper (set_reference)
        self._view: np.ndarray | None = None
        self.reset()

    @classmethod
    def from_state(
        cls,
        cfg: RemotConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        wcn: bool | None = None,
        flow_gain: float | None = None,
    ) -> RemotSynthesizer:
        nets = build_generators(cfg)
        for name, n in nets.items():
            n.load_state_dict({k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")})
        return cls(cfg, nets, set(meta.get("stages", [])), device, precision, wcn, flow_gain)

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))[None].to(self.device)

    # ------------------------------------------------------------------ once per target
    @torch.inference_mode()
    def set_reference(self, reference: Any) -> None:
        if tuple(reference.size) != self.size:
            raise InputError(f"reference is {reference.size}, remot renders {self.size}")
        layout, where = reference.layout_at(self.size[0])
        labels = maps.classes(layout)
        self._source = {
            "image": self._tensor(reference.image.transpose(2, 0, 1) / 127.5 - 1.0),
            "labels": torch.from_numpy(labels.astype(np.int64))[None].to(self.device),
            "onehot": self._tensor(maps.one_hot(labels)),
        }
        self.background = reference.background
        self._warper = None
        if self.use_wcn and self.cfg.composition.warp == "parts":
            from ...pose.part_warp import PoseWarper

            self._warper = PoseWarper(reference.image, reference.mask, reference.keypoints)
        share = ", ".join(f"{n} {(labels == i + 1).mean():.0%}" for i, n in enumerate(maps.REGIONS))
        logger.info(f"[remot] target: {where} layout; regions of the frame: {share}")

    # ------------------------------------------------------------------ per frame
    def input_view(self) -> np.ndarray | None:
        """The layout the Layout GAN generated for the last frame (a member label's colour per class)."""
        return self._view

    def reset(self) -> None:
        self._poses: list[torch.Tensor] = []
        self._layouts: list[torch.Tensor] = []
        self._regions: torch.Tensor | None = None
        self._coarse: list[torch.Tensor] = []

    def warm_up(self, batch: int = 1) -> None:
        if self._source is not None:
            self.step({"body": np.zeros((25, 3), np.float32)}, {"background": self.background})
            self.reset()
            self._view = None

    @torch.inference_mode()
    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        if self._source is None:
            raise InputError("remot needs the target photo before the first frame (set_reference)")
        c, s, src = self.cfg, self.size[0], self._source
        n, k = maps.N_CLASSES, c.k
        stick = maps.stick_figures({k: self._tensor(v) for k, v in pose.items() if k in KEYPOINT_ARRAYS}, s)
        first = not self._poses
        if first:
            self._poses = [stick] * (k + 1)
            self._layouts = [torch.zeros(1, n, s, s, device=self.device)] * k
            self._regions = torch.zeros(1, maps.N_REGIONS, 3, s, s, device=self.device)
        else:
            self._poses = [*self._poses[1:], stick]
        cold = torch.full((1,), float(first), device=self.device)
        bg = (extras or {}).get("background")
        bg = self._tensor((self.background if bg is None else bg).transpose(2, 0, 1) / 127.5 - 1.0)
        with self._autocast():
            lay, _, _, _ = self.nets["LayoutGAN"](src["onehot"], torch.cat(self._poses, 1),
                                                  torch.cat(self._layouts, 1), cold)  # fmt: skip
            self._layouts = [*self._layouts[1:], lay.float()]
            labels = lay.float().argmax(1)
            onehot = one_hot(labels, n)
            fg, fg_lay = aligned_source(src["image"], src["labels"], labels if c.gam else None, c.gam_edges)
            m, x, p = region_inputs(onehot[:, 1:], fg, fg_lay, self._regions)
            regions = self.nets["RegionGAN"](m, x, p.to(x.dtype)).float()
            self._regions = regions.reshape(1, maps.N_REGIONS, 3, s, s)
            coarse = self._regions.sum(1)
            if self.use_wcn:
                if first:
                    self._coarse = [coarse] * (c.composition.n_coarse - 1)
                parts = None
                if self._warper is not None:
                    parts = maps.part_warped_unit(
                        torch.from_numpy(maps.part_warped(self._warper, pose))[None].to(self.device)
                    )
                person, mask = self.nets["WCN"](torch.cat([*self._coarse, coarse], 1),
                                                torch.cat([onehot, stick], 1), fg, parts)  # fmt: skip
                frame = composite(person.float(), mask.float(), bg, c.composition.blend)
                self._coarse = [*self._coarse, coarse][1:] if c.composition.n_coarse > 1 else []
            else:
                person = (labels > 0)[:, None].float()
                frame = person * coarse + (1 - person) * bg
        lab = labels[0].to(torch.uint8).cpu().numpy()
        self._view = maps.colourize(lab)
        return to_uint8(frame)[0]
