"""Inference of performance cloning / pix2pix: driving poses -> pose volumes -> G -> frames.

G sees N consecutive pose volumes (the previous N-1 driving poses and the current one; at the start of a video
the first pose is repeated) and its last 3 output channels are the current frame. G's input depends on the
poses only, so frames can be generated in batches (:meth:`PoseVolumeSynthesizer.step_batch`) with the same
result as frame by frame.

G draws all N frames of its window, so with N >= 2 every frame is drawn N times, by the window that ends on it
and by the N-1 windows after it. ``window_mean`` (cloning's inference option, on by default) outputs the mean of
those N drawings, which needs N-1 poses of look-ahead (:attr:`PoseVolumeSynthesizer.lookahead`; ``reenactor
transfer`` passes them as ``ahead``); a frame with fewer windows after it (the video's last) averages those it
has.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ...nn.convert import to_uint8
from ..base import Synthesizer
from .config import CloningConfig
from .volumes import VolumeEncoder, volume_encoder


def build_generator(cfg: CloningConfig) -> nn.Module:
    """pix2pix's U-Net (reenactor.nn) over J*N input channels and 3*N output channels in [-1, 1]."""
    from ...nn import UNetGenerator

    g = cfg.generator
    n = cfg.volume.frames
    j = volume_encoder(cfg).n_channels
    return UNetGenerator(
        j * n, 3 * n, num_downs=g.num_downs, ngf=g.ngf, norm=g.norm, dropout=g.dropout, upsample=g.upsample
    )


class PoseVolumeSynthesizer(Synthesizer):
    """Frames from poses (``body`` (25, 3), and ``face`` (68, 3) when the volumes draw it) in model pixels. ``precision``: "fp32" or "bf16" (autocast)."""

    def __init__(
        self,
        G: nn.Module,
        encoder: VolumeEncoder,
        frames: int,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        window_mean: bool = False,
    ):
        self.G = G.to(device).eval()
        self.encoder = encoder
        self.n = int(frames)
        self.window_mean = bool(window_mean) and self.n > 1
        self.device = torch.device(device)
        self.precision = precision
        self.size = encoder.size
        self._hist: deque[torch.Tensor] = deque(maxlen=max(self.n - 1, 0))
        self._free: list[torch.Tensor] = []  # batch buffers handed back by release()
        self._lent: dict[int, torch.Tensor] = {}  # data pointer -> batch buffer given out by prepare()
        # data pointer -> frames of a batch from prepare() (its windows beyond them are look-ahead)
        self._frames: dict[int, int] = {}
        self._lock = threading.Lock()

    @property
    def lookahead(self) -> int:
        """Driving poses after a batch that :meth:`step_batch` / :meth:`prepare` take as ``ahead``: N-1 with
        ``window_mean`` (the windows after a frame draw it too), else 0."""
        return self.n - 1 if self.window_mean else 0

    @classmethod
    def from_state(
        cls,
        cfg: CloningConfig,
        tensors: dict[str, torch.Tensor],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        window_mean: bool = False,
    ) -> PoseVolumeSynthesizer:
        G = build_generator(cfg)
        state = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
        G.load_state_dict(state, strict=True)
        return cls(G, volume_encoder(cfg), cfg.volume.frames, device, precision, window_mean)

    def reset(self) -> None:
        self._hist.clear()

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _inputs(self, poses: Sequence[dict[str, np.ndarray]]) -> torch.Tensor:
        """(B, C*N, H, W) generator inputs for consecutive poses (see :meth:`_build`)."""
        return self._build(poses)[1]

    def _build(
        self, poses: Sequence[dict[str, np.ndarray]], ahead: Sequence[dict[str, np.ndarray]] = ()
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(buffer, inputs)``: (B+A, C*N, H, W) generator inputs for B consecutive poses and the A poses after
        them (``ahead``, at most :attr:`lookahead`: their windows only draw earlier frames), advancing the
        history by the B poses.

        The new volumes go into one buffer (a recycled one, see :meth:`release`) after the N-1 previous ones
        (repeated at the start of a video), ``V`` of (B+A+N-1, C, H, W); the input of window b is ``V[b:b+N]``,
        so the batch is a strided view of ``V`` (each volume is written once, not N times). The volumes come
        from :meth:`VolumeEncoder.render`, the batched torch renderer that also makes every training batch.
        """
        c, n, (h, w) = self.encoder.n_channels, self.n, self.size
        ahead = list(ahead)[: self.lookahead]
        b, n_ahead = len(poses), len(ahead)
        poses = list(poses) + ahead
        shape = (b + n_ahead + n - 1, c, h, w)
        with self._lock:
            buf = next((self._free.pop(i) for i, a in enumerate(self._free) if a.shape == shape), None)
        if buf is None:
            buf = torch.empty(shape, dtype=torch.float32)
        cur = buf[n - 1 :]
        joints = torch.from_numpy(self.encoder.select(np.stack([np.asarray(p["body"]) for p in poses])))
        face = None
        if self.encoder.face:  # a pose without face landmarks draws empty face channels (confidence 0)
            face = torch.from_numpy(
                self.encoder.clean_face(
                    np.stack(
                        [np.zeros((68, 3), np.float32) if p.get("face") is None else p["face"] for p in poses]
                    )
                )
            )
        cur.copy_(self.encoder.render(joints, face))  # the renderer of the training batches
        if n > 1:
            hist = list(
                self._hist
            )  # the previous n-1 volumes, oldest first (fewer at the start: repeat the first)
            for i, v in enumerate(([hist[0]] if hist else [cur[0]]) * (n - 1 - len(hist)) + hist):
                buf[i] = v
            self._hist.clear()
            self._hist.extend(v.clone() for v in buf[b : b + n - 1])  # copies: the buffer is recycled
        return buf, buf.as_strided((b + n_ahead, n * c, h, w), (c * h * w, h * w, w, 1))

    def warm_up(self, batch: int = 1) -> None:
        # the batch shape transfer runs: its frames and the look-ahead windows (first calls of a shape cost)
        self.generate(torch.zeros((batch + self.lookahead, self.encoder.n_channels * self.n) + self.size))

    def release(self, x: torch.Tensor) -> None:
        """Hand back a batch from :meth:`prepare` once :meth:`render` is done with it: its memory is reused for
        a later batch (fresh large arrays cost page faults that, on small machines, take longer than filling
        them)."""
        with self._lock:
            # The buffer prepare() allocated, not x: views of views would chain every batch's tensor to the last
            # one's and never be freed (measured: +0.6 MB per batch).
            self._frames.pop(x.data_ptr(), None)
            a = self._lent.pop(x.data_ptr(), None)
            if a is not None and len(self._free) < 4:
                self._free.append(a)

    @torch.inference_mode()
    def generate_windows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, J*N, H, W) volumes -> (B, 3N, H, W) in [-1, 1], all N frames each window draws (in the autocast
        dtype)."""
        with self._autocast():
            return self.G(x.to(self.device))

    def generate(self, x: torch.Tensor) -> torch.Tensor:
        """(B, J*N, H, W) volumes -> (B, 3, H, W) in [-1, 1], the current (last) frame of each window (a view of
        G's output, in the autocast dtype: :func:`to_uint8` converts it in one pass)."""
        return self.generate_windows(x)[:, -3:]

    def prepare(
        self, poses: Sequence[dict[str, np.ndarray]], ahead: Sequence[dict[str, np.ndarray]] = ()
    ) -> torch.Tensor:
        """CPU half of a batch step: B consecutive poses (and up to :attr:`lookahead` poses after them) -> the
        generator input, (B+A, C*N, H, W) (advances the history by B). Call in frame order; :meth:`render` may
        run in another thread."""
        buf, x = self._build(poses, ahead)
        with self._lock:
            if (
                len(self._lent) >= 8
            ):  # a caller that never releases: forget the oldest (it is simply not reused)
                self._lent.pop(next(iter(self._lent)))
            self._lent[x.data_ptr()] = buf
            if len(self._frames) >= 8:
                self._frames.pop(next(iter(self._frames)))
            self._frames[x.data_ptr()] = len(poses)
        return x

    def render(self, x: torch.Tensor) -> np.ndarray:
        """Network half of a batch step: the input :meth:`prepare` made -> (B, H, W, 3) uint8, B its poses."""
        with self._lock:
            frames = self._frames.pop(x.data_ptr(), len(x))
        if not self.window_mean:
            return to_uint8(self.generate(x)[:frames])
        return to_uint8(self.mean_of_windows(self.generate_windows(x), frames))

    def mean_of_windows(self, y: torch.Tensor, frames: int) -> torch.Tensor:
        """(W, 3N, H, W) drawings of W consecutive windows -> (frames, 3, H, W) float32: frame b is the mean of
        what windows b, b+1, ..., b+N-1 drew of it (its last 3 channels, the 3 before, ...), of those there are."""
        n = self.n
        out = y[:frames, -3:].to(torch.float32, copy=True)
        count = torch.ones(frames, 1, 1, 1, device=out.device)
        for k in range(1, n):
            m = min(frames, len(y) - k)  # frames b with a window b+k
            if m <= 0:
                break
            out[:m] += y[k : k + m, 3 * (n - 1 - k) : 3 * (n - k)].float()
            count[:m] += 1
        return out.div_(count)

    def step_batch(
        self, poses: Sequence[dict[str, np.ndarray]], ahead: Sequence[dict[str, np.ndarray]] = ()
    ) -> np.ndarray:
        """Consecutive frames at once: list of pose dicts (and up to :attr:`lookahead` poses after them) ->
        (B, H, W, 3) uint8 (without ``ahead``, the same as repeated :meth:`step`)."""
        x = self.prepare(poses, ahead)
        y = self.render(x)
        self.release(x)
        return y

    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        return self.step_batch([pose])[0]
