"""single_shot's inference (Gafni et al. 2021, eqs. 1-8): one target photo, then driving poses one by one.

Once per photo (:meth:`SingleShotSynthesizer.set_reference`): its layout p^M* (the reference's, else estimated),
the five appearance crops and their encodings e_z, B2F's FC on e_z ("constant for a specific user, hence run
only once", sec. 3.2), FR's projection of the target face's descriptor and, with ``b2f.region_colour``
(ours), the mean colour of each region of the photo's layout.

Per frame (:meth:`SingleShotSynthesizer.step`): stick figure + pseudo-IUV of the (normalized) driving pose ->
P2B -> the layout P^M in that pose (its argmax, one-hot, as B2F saw real layouts in training) + the driving
face parts -> B2F -> z, m; f^0 = z m + b (1 - m) over the chosen background (eq. 7); FR refines the face crop
of the generated face label and blends it back (eq. 8). The side-by-side middle panel is the generated layout.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
import torch

from ...errors import InputError
from ...nn.convert import to_uint8
from ...pose.skeleton import KEYPOINT_ARRAYS
from ..base import Synthesizer
from . import maps
from .appearance import AppearanceEncoder, FaceEmbedder
from .config import SingleShotConfig, face_side
from .networks import b2f_condition, build_generators, crop, paste

logger = logging.getLogger(__name__)


class SingleShotSynthesizer(Synthesizer):
    """See the module docstring. ``face_refine``: run FR (None: when the model's FR was trained and
    ``fr.apply``)."""

    def __init__(
        self,
        cfg: SingleShotConfig,
        nets: tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module],
        appearance: AppearanceEncoder,
        stages: set[str],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        face_refine: bool | None = None,
    ):
        self.cfg = cfg
        self.device = torch.device(device)
        self.precision = precision
        self.P2B, self.B2F, self.FR = (n.to(self.device).eval() for n in nets)
        self.appearance = appearance.to(self.device).eval()
        self.embedder = FaceEmbedder()
        self.size = (int(cfg.size), int(cfg.size))
        self.stages = set(stages)
        self.refine = (cfg.fr.apply and "fr" in stages) if face_refine is None else bool(face_refine)
        missing = [s for s in ("p2b", "b2f") if s not in stages]
        if missing:
            logger.warning(
                f"[single_shot] WARNING: this model's {' and '.join(missing)} never trained: its frames are noise "
                "(train them: reenactor train --method single_shot --set model.stage=NAME --set "
                "model.init_from=MODEL)"
            )
        if face_refine and "fr" not in stages:
            logger.info("[single_shot] note: --face-refine runs an FR that was never trained")
        self._target: dict[str, Any] | None = None
        self._view: np.ndarray | None = None
        #: a list to record every frame's generated layout and B2F mask into (``{"layout": (H, W) uint8,
        #: "mask": (H, W) float32 m in [0, 1]}``; the benchmarks set it), None: not recorded. reset() empties it.
        self.trace: list[dict[str, np.ndarray]] | None = None

    @classmethod
    def from_state(
        cls,
        cfg: SingleShotConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> SingleShotSynthesizer:
        from ...nn.backbones import load_feature_net

        net = load_feature_net(cfg.b2f.feature_net, cfg.b2f.feature_weights, device=device, verbose=False)
        appearance = AppearanceEncoder(net)
        nets = build_generators(cfg, appearance.dim)
        for name, n in zip(("P2B", "B2F", "FR"), nets):
            n.load_state_dict({k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")})
        stages = set(meta.get("stages", []))
        return cls(cfg, nets, appearance, stages, device, precision, (options or {}).get("face_refine"))

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))[None].to(self.device)

    # ------------------------------------------------------------------ once per target
    @torch.inference_mode()
    def set_reference(self, reference: Any) -> None:
        s = self.size[0]
        if tuple(reference.size) != self.size:
            raise InputError(f"reference is {reference.size}, single_shot renders {self.size}")
        layout, source = reference.layout_at(s)
        kp = reference.keypoints
        crops, area = maps.appearance_crops(reference.image, layout, self.cfg.b2f.crop)
        box = maps.face_box(layout, kp.get("face"), pad=1.0)
        desc = self.embedder.embed(reference.image, maps.dlib_box(box))
        with self._autocast():
            e_z = torch.cat([self._tensor(desc), self.appearance(self._tensor(crops))], 1)
            h0 = self.B2F.start(e_z)
            emb = self.FR.embed(self._tensor(desc))
        c = self.cfg
        colours = self._tensor(maps.region_colours(reference.image, layout)) if c.b2f.region_colour else None
        self._target = {
            "layout": self._tensor(maps.one_hot(layout)),
            "h0": h0,
            "emb": emb,
            "colours": colours,
        }
        self.background = reference.background
        shares = ", ".join(f"{n.replace('_', ' ')} {a:.0%}" for n, a in zip(maps.BODY_CROPS, area))
        logger.info(
            f"[single_shot] target: {source} layout; face descriptor "
            f"{'from the face label' if box is not None else 'absent (no face): zeros'}; crops of the frame: "
            f"{shares}"
        )

    @torch.inference_mode()
    def blank_appearance(self) -> None:
        """Forget what the photo says about the person's appearance (benchmarks): e_z zeroed (B2F's FC on zeros)
        and, with the region colours, their paint grey. The layout, background and FR's inputs stay."""
        if self._target is None:
            raise InputError("single_shot needs the target photo first (set_reference)")
        fc = self.B2F.fc
        with self._autocast():
            self._target["h0"] = self.B2F.start(torch.zeros(1, fc.in_features, device=fc.weight.device))
        if self._target["colours"] is not None:
            self._target["colours"] = torch.zeros_like(self._target["colours"])

    # ------------------------------------------------------------------ per frame
    def input_view(self) -> np.ndarray | None:
        """The layout P2B generated for the last frame, in the LIP/CIHP palette."""
        return self._view

    def reset(self) -> None:
        if self.trace is not None:
            self.trace.clear()

    def warm_up(self, batch: int = 1) -> None:
        if self._target is not None:
            trace, self.trace = self.trace, None
            try:
                self.step({"body": np.zeros((25, 3), np.float32)}, {"background": self.background})
            finally:
                self.trace = trace
            self._view = None

    @torch.inference_mode()
    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        if self._target is None:
            raise InputError("single_shot needs the target photo before the first frame (set_reference)")
        s, t, c = self.size[0], self._target, self.cfg
        parts = [maps.stick_figures({k: self._tensor(v) for k, v in pose.items() if k in KEYPOINT_ARRAYS}, s)]
        if c.p2b.densepose:
            parts.append(self._tensor(maps.iuv_map(pose, s)))
        with self._autocast():
            logits = self.P2B(torch.cat([t["layout"], *parts], 1))
        layout = logits.float().argmax(1)[0].to(torch.uint8).cpu().numpy()
        seg = [maps.one_hot(layout)]
        if c.b2f.face_parts:
            seg.append(maps.face_parts(pose.get("face"), s))
        bg = (extras or {}).get("background")
        bg = self.background if bg is None else bg
        with self._autocast():
            z, m = self.B2F.decode(t["h0"], b2f_condition(self._tensor(np.concatenate(seg)), t["colours"]))
            b = self._tensor(bg.transpose(2, 0, 1) / 127.5 - 1.0).to(z.dtype)
            f = z * m + b * (1 - m)
            box = maps.face_box(layout, pose.get("face"), c.face_pad) if self.refine else None
            if box is not None:
                theta = torch.from_numpy(maps.box_theta(box, s))[None].to(self.device)
                c0 = crop(f, theta, face_side(c))
                refined, mc = self.FR(c0, t["emb"])
                f = paste(f, refined.to(f.dtype), mc.to(f.dtype), theta)
        self._view = maps.colourize(layout)
        if self.trace is not None:
            self.trace.append({"layout": layout, "mask": m[0, 0].float().cpu().numpy()})
        return to_uint8(f)[0]
