"""The one training loop, shared by every method (single process or DDP under ``torchrun``).

A :class:`~reenactor.methods.base.Method` supplies its networks, parameter groups and the
``generator_step`` / ``discriminator_step`` that return named, already weighted loss terms. The
:class:`Trainer` owns everything else:

* devices (``trainer.device``; ``cuda:LOCAL_RANK`` under torchrun) and mixed precision (bf16 / fp16 autocast,
  fp16 with a gradient scaler; weights stay fp32);
* one Adam optimizer over the generator parameters and one over the discriminator parameters; gradient
  accumulation over ``grad_accum`` micro-batches; optional gradient clipping; an EMA of the generator weights;
* seeds and exact resume: a checkpoint holds networks, optimizers, scalers, EMA, step and every RNG state,
  data order comes from a resumable :class:`~torch.utils.data.DistributedSampler` stream and per-sample
  augmentation seeds depend only on the sample's position, so ``N`` straight steps and ``k`` steps + kill +
  resume ``N - k`` give identical weights;
* DDP (``torchrun --nproc_per_node=N -m reenactor train ...``): gloo on CPU, nccl on GPU, DistributedSampler,
  gradients averaged by :class:`~torch.nn.parallel.DistributedDataParallel`; only rank 0 writes;
* TensorBoard scalars and image grids, a tqdm bar with the losses and it/s, atomic checkpoints every N steps,
  and the final export ``RUN_DIR/model.safetensors`` (EMA weights when enabled).

Step order (per optimizer step): G phase over the micro-batches (``generator_step``; the discriminators are
frozen in single-process runs so no D gradient is computed), G optimizer step, EMA update, then D phase
(``discriminator_step`` with the G phase's cache), D optimizer step.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..config import save_yaml, to_dict
from ..errors import CheckpointError, ConfigError, ReenactorError
from ..io.atomic import write_json
from ..methods.base import Method, StepOutput
from . import checkpoint as ckpt
from .config import RunConfig, TrainerConfig, run_config_dict

logger = logging.getLogger(__name__)

AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 autocast is ~1.7x faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# ------------------------------------------------------------------------------------------ distribution
@dataclass
class DistInfo:
    """Process-group facts. ``world == 1`` is a plain single-process run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()


def init_distributed(device_pref: str = "auto") -> DistInfo:
    """Join the process group torchrun describes (env ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``/``MASTER_ADDR``);
    gloo on CPU, nccl when the run uses CUDA. A plain ``python -m reenactor train`` gives world 1."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and not device_pref.startswith("cpu")
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://")
    return DistInfo(rank=rank, world=world, local_rank=local, backend=backend)


def current_dist() -> DistInfo:
    """DistInfo of an already initialized process group (or single process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return DistInfo(
            dist.get_rank(),
            dist.get_world_size(),
            int(os.environ.get("LOCAL_RANK", dist.get_rank())),
            dist.get_backend(),
        )
    return DistInfo()


def resolve_device(pref: str, dist: DistInfo) -> torch.device:
    """``auto`` -> ``cuda:LOCAL_RANK`` if CUDA is available, else ``cpu``; explicit names are checked."""
    if pref == "auto":
        return torch.device(f"cuda:{dist.local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        dev = torch.device(pref)
    except RuntimeError:
        raise ConfigError(
            f"trainer.device: {pref!r} is not a device (use auto, cpu, cuda or cuda:N)"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                "trainer.device is cuda but CUDA is not available", fix="use --set trainer.device=cpu"
            )
        if dev.index is None:
            dev = torch.device(f"cuda:{dist.local_rank}")
    return dev


# ------------------------------------------------------------------------------------------ seeds and RNG state
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """All RNG states as tensors / plain containers (loadable with ``torch.load(weights_only=True)``)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), int(n[2]), int(n[3]), float(n[4])))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _sample_seed(seed: int, position: int) -> int:
    """The seed of the sample at global ``position`` of a run (its place in the one-process order)."""
    return (seed * 1_000_003 + position * 104_729 + 12345) % (2**31 - 1)


# ------------------------------------------------------------------------------------------ data
class _ResumableSampler(Sampler):
    """An endless stream of ``(index, position)`` over epochs of a :class:`DistributedSampler` (shuffled by
    ``seed + epoch``), starting at per-rank sample ``start`` - so a resumed run sees the same data order."""

    def __init__(self, dataset: Dataset, dist: DistInfo, seed: int, start: int = 0, shuffle: bool = True):
        self.inner = DistributedSampler(
            dataset, num_replicas=dist.world, rank=dist.rank, shuffle=shuffle, seed=seed, drop_last=False
        )
        self.per_epoch = len(self.inner)
        self.start = start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        pos = self.start
        epoch, offset = divmod(pos, self.per_epoch)
        while True:
            self.inner.set_epoch(epoch)
            for i in list(self.inner)[offset:]:
                yield int(i), pos
                pos += 1
            epoch, offset = epoch + 1, 0

    def __len__(self) -> int:  # endless; DataLoader only needs it for len(), which we never call
        return 2**62


class _PositionedDataset(Dataset):
    """Seeds Python/NumPy/torch from (seed, global position) before each item, so random augmentations depend
    on the sample's position in the run only: identical after a resume, with or without workers, and with any
    number of processes (rank ``r`` of ``world`` takes every ``world``-th sample of the one-process order, so
    its local position ``p`` is global position ``p * world + r``). The caller's RNG streams are restored
    afterwards."""

    def __init__(self, dataset: Dataset, seed: int, rank: int, world: int = 1):
        self.dataset, self.seed, self.rank, self.world = dataset, seed, rank, world

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        idx, pos = key
        s = _sample_seed(self.seed, pos * self.world + self.rank)
        py, npst = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]):
                random.seed(s)
                np.random.seed(s)
                torch.manual_seed(s)
                return self.dataset[idx]
        finally:
            random.setstate(py)
            np.random.set_state(npst)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


# ------------------------------------------------------------------------------------------ EMA
class EMA:
    """Exponential moving average of parameters: ``shadow = d * shadow + (1 - d) * param``; before ``start`` the
    shadow copies the parameters. :meth:`swapped` puts the averages into the parameters (e.g. for export) and
    restores the trained values afterwards.

    The decay warms up with the number of updates ``n`` since ``start``: ``d = min(decay, (1 + n) / (10 + n))``
    (the warm-up of TensorFlow's ExponentialMovingAverage with ``num_updates`` and of timm's ModelEmaV2), so a
    short run averages over its last few dozen steps and exports weights close to the trained ones, and a long
    run reaches the full ``decay`` (0.999 after ~9,000 updates). Without it, 300 steps at 0.999 from step 100
    exported 82 % step-100 weights (a grey field). A function of the step only, so a resumed run continues it
    exactly."""

    def __init__(self, params: list[nn.Parameter], decay: float, start: int = 0):
        self.params = params
        self.decay = decay
        self.start = start
        self.shadow = [p.detach().clone().float() for p in params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        if step < self.start:
            torch._foreach_copy_(self.shadow, [p.detach() for p in self.params])
        else:
            torch._foreach_lerp_(
                self.shadow, [p.detach().float() for p in self.params], 1.0 - self.decay_at(step)
            )

    def decay_at(self, step: int) -> float:
        """The decay applied at ``step`` (warm-up, see the class docstring)."""
        n = max(step - self.start, 0)
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        backup = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, s in zip(self.params, self.shadow):
                p.copy_(s)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, b in zip(self.params, backup):
                    p.copy_(b)

    def state_dict(self) -> list[torch.Tensor]:
        return [s.detach().cpu().clone() for s in self.shadow]

    def load_state_dict(self, state: list[torch.Tensor]) -> None:
        if len(state) != len(self.shadow):
            raise CheckpointError(f"EMA state has {len(state)} tensors, the generator {len(self.shadow)}")
        for s, v in zip(self.shadow, state):
            s.copy_(v)


# ------------------------------------------------------------------------------------------ the DDP-wrapped step
class _StepModule(nn.Module):
    """Wraps a Method so both phases run through one ``forward`` (what DDP needs to average gradients)."""

    def __init__(self, method: Method):
        super().__init__()
        self.method = method
        self.last: StepOutput | None = None

    def forward(
        self, phase: str, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any] | None = None
    ) -> dict[str, torch.Tensor]:
        if phase == "g":
            out = self.method.generator_step(batch, step)
            if not isinstance(out, StepOutput):
                raise TypeError(f"{type(self.method).__name__}.generator_step must return a StepOutput")
            self.last = out
            return out.losses
        return self.method.discriminator_step(batch, step, cache or {})


def frozen_prefixes(module: nn.Module) -> list[str]:
    """Names of frozen feature-net submodules (their weights ship with a package / user file, so checkpoints
    leave them out)."""
    from ..nn.backbones import FeatureNet

    return [
        name + "."
        for name, m in module.named_modules(remove_duplicate=False)
        if isinstance(m, FeatureNet) and name
    ]


def feature_net_descriptions(module: nn.Module) -> list[str]:
    from ..nn.backbones import FeatureNet

    seen: list[str] = []
    for m in module.modules():
        if isinstance(m, FeatureNet) and m.description not in seen:
            seen.append(m.description)
    return seen


def image_grid(visuals: dict[str, torch.Tensor], max_rows: int = 4) -> torch.Tensor:
    """Named (B, C, H, W) images in [-1, 1] -> one (3, rows*H, n*W) grid in [0, 1] (columns = names)."""
    cols = []
    ref = None
    for v in visuals.values():
        v = v.detach().float().cpu()[:max_rows]
        if v.shape[1] == 1:
            v = v.repeat(1, 3, 1, 1)
        v = v[:, :3]
        if ref is None:
            ref = v.shape[-2:]
        elif v.shape[-2:] != ref:
            v = torch.nn.functional.interpolate(v, size=ref, mode="nearest")
        cols.append(torch.cat(list(v), dim=1))  # (3, rows*H, W)
    if not cols:
        return torch.zeros(3, 8, 8)
    rows = min(c.shape[1] for c in cols)
    grid = torch.cat([c[:, :rows] for c in cols], dim=2)
    return ((grid + 1) / 2).clamp(0, 1)


# ------------------------------------------------------------------------------------------ trainer
class Trainer:
    """Trains one :class:`Method`. ``run_dir`` None = nothing is written (tests, benchmarks).

    Use :meth:`fit` for whole runs; :meth:`train_step` performs one optimizer step on given micro-batches
    (each rank's share) and leaves the gradients of that step in ``.grad`` (G's from the G phase, D's from the
    D phase) until the next step.
    """

    def __init__(
        self,
        method: Method,
        run_cfg: RunConfig,
        run_dir: str | Path | None = None,
        dist: DistInfo | None = None,
        device: torch.device | str | None = None,
        callbacks: list[Callable[[Trainer, dict[str, float]], None]] | None = None,
    ):
        """``callbacks``: called after every step as ``cb(trainer, logs)`` with the losses of the latest logging
        step (``trainer.log_every``)."""
        self.run_cfg = run_cfg
        self.cfg: TrainerConfig = run_cfg.trainer
        self.dist = dist or current_dist()
        self.device = (
            torch.device(device) if device is not None else resolve_device(self.cfg.device, self.dist)
        )
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks or [])
        # share of the run done, for the learning-rate decay: step / trainer.steps unless a caller that stops
        # on something else (a wall-clock budget) sets its own
        self.run_fraction: Callable[[], float] = self._run_fraction
        self._t_fit: float | None = None  # wall clock at the start of fit() (trainer.max_seconds)
        self._agreed_elapsed, self._agreed_at = (
            0.0,
            -1,
        )  # the ranks' agreed seconds of fit(), and at which step
        self.method = method.to(self.device)
        self.step = 0
        self.amp_dtype = AMP_DTYPES[self.cfg.precision]
        if self.cfg.precision == "fp16" and self.device.type == "cpu":
            logger.warning("[train] note: fp16 autocast on the CPU is slow; bf16 is the fast CPU precision")
        if self.cfg.precision == "bf16" and self.device.type == "cpu" and not cpu_has_bf16():
            logger.warning(
                "[train] note: this CPU has no native bf16 (no avx512_bf16 / amx_bf16 flag): bf16 autocast is emulated, "
                "measured 15x slower than fp32 on such a CPU; use --precision fp32"
            )
        self.g_params = [p for p in method.generator_parameters() if p.requires_grad]
        self.d_params = [p for p in method.discriminator_parameters() if p.requires_grad]
        self.trainable = bool(self.g_params) and getattr(method, "needs_training", True)
        betas = (self.cfg.beta1, self.cfg.beta2)
        # one fused kernel over all tensors, its step counts on the device: no Python loop over the parameters
        # and no per-step .item() (the default foreach / for-loop Adam reads each step count on the host)
        fast = {"fused": True} if self.device.type in ("cpu", "cuda") else {"foreach": True}
        self.opt_g = (
            torch.optim.Adam(
                self.g_params, lr=self.cfg.lr, betas=betas, weight_decay=self.cfg.weight_decay, **fast
            )
            if self.g_params
            else None
        )
        self.opt_d = (
            torch.optim.Adam(
                self.d_params,
                lr=self.cfg.lr_d or self.cfg.lr,
                betas=betas,
                weight_decay=self.cfg.weight_decay,
                **fast,
            )
            if self.d_params
            else None
        )
        fp16 = self.cfg.precision == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.ema = (
            EMA(self.g_params, self.cfg.ema, self.cfg.ema_start)
            if (self.cfg.ema > 0 and self.g_params)
            else None
        )
        self.frozen = frozen_prefixes(method)
        self.feature_nets = feature_net_descriptions(method)
        self.step_module = _StepModule(self.method)
        if self.dist.distributed and self.trainable:
            from torch.nn.parallel import DistributedDataParallel as DDP

            # buffers only need syncing when a trained network keeps running statistics (BatchNorm); the
            # frozen feature nets' buffers never change
            bn = any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
                for name, m in method.named_modules()
                if not any((name + ".").startswith(p) for p in self.frozen)
            )
            import inspect

            sync_kw = (
                "forward_sync_buffers"
                if "forward_sync_buffers" in inspect.signature(DDP).parameters
                else "broadcast_buffers"
            )  # renamed in recent torch
            self.engine: nn.Module = DDP(
                self.step_module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
                **{sync_kw: bn},
            )
        else:
            self.engine = self.step_module
        if self.cfg.channels_last:
            self.method.to(memory_format=torch.channels_last)
            if self.dist.is_main:
                logger.info("[train] channels-last memory format for the networks and batches")
        self._eager_engine: nn.Module | None = None
        if self.cfg.compile and self.trainable:
            self._eager_engine = self.engine
            self.engine = torch.compile(self.engine, mode=self.cfg.compile_mode)
            if self.dist.is_main:
                logger.info(
                    f"[train] torch.compile on (mode {self.cfg.compile_mode}): the first steps compile the step "
                    "(slow), later ones run it"
                )
        self.writer = None
        self.last_visuals: dict[str, torch.Tensor] = {}
        self.history: collections.deque[dict[str, float]] = collections.deque(maxlen=10_000)  # logged losses
        # the losses of the latest logging step (what callbacks see: read every step they would wait for the device)
        self.last_logs: dict[str, float] = {}
        # what calibrate() fitted on held-out frames ({"calibrated": ..., "calibration": ...}), added to the meta
        self.calibrated: dict[str, Any] = {}
        # whether the held-out frames have joined training (data.holdout_until < 1: after calibrate())
        self.rejoined = False
        self._announced = False

    # ------------------------------------------------------------------ helpers
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _set_requires_grad(self, params: list[nn.Parameter], flag: bool) -> None:
        for p in params:
            p.requires_grad_(flag)

    def lr_scale(self) -> float:
        """Factor on both learning rates now: 1, then falling linearly to 0 over the last ``trainer.lr_decay``
        share of the run (pix2pixHD's schedule)."""
        if self.cfg.lr_decay <= 0:
            return 1.0
        return float(min(1.0, max(0.0, (1.0 - self.run_fraction()) / self.cfg.lr_decay)))

    def _apply_lr(self) -> None:
        scale = self.lr_scale()
        for opt, base in ((self.opt_g, self.cfg.lr), (self.opt_d, self.cfg.lr_d or self.cfg.lr)):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = base * scale

    def _check_finite(self, name: str, value: float) -> None:
        if not math.isfinite(value):
            raise ReenactorError(
                f"training diverged: loss {name!r} is {value} at step {self.step}",
                fix="lower trainer.lr, use --precision fp32, or resume from an earlier checkpoint",
            )

    # ------------------------------------------------------------------ one step
    def train_step(self, micro_batches: list[dict[str, Any]]) -> dict[str, float]:
        """One optimizer step over ``micro_batches`` (this rank's share, already on the device). Returns the
        step's loss terms (averaged over micro-batches) plus ``g_total`` / ``d_total``, as numbers (which waits
        for the device: :meth:`fit` reads them only at its logging steps)."""
        return self._floats(self._step(micro_batches))

    def _run_engine(self, *args: Any) -> Any:
        """The step module (DDP-wrapped, compiled) on ``args``. The first calls of a compiled step compile it;
        if that fails, say why once and go on eager (the same numbers, without the speed-up)."""
        if self._eager_engine is None:
            return self.engine(*args)
        try:
            out = self.engine(*args)
        except Exception as e:  # noqa: BLE001 - any compiler failure: fall back, never lose the run
            if self.dist.is_main:
                msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
                logger.warning(
                    f"[train] torch.compile could not compile this step ({type(e).__name__}: {msg}): running "
                    "eager instead (trainer.compile=false hides this message)"
                )
            self.engine, self._eager_engine = self._eager_engine, None
            return self.engine(*args)
        if args[0] == "d" or not self.d_params:  # both phases compiled once: no more checks
            self._eager_engine = None
        return out

    def _floats(self, logs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Loss tensors -> numbers in one device-to-host copy; a non-finite total is a diverged run."""
        keys = list(logs)
        values = torch.stack([logs[k].float() for k in keys]).tolist() if keys else []
        out = dict(zip(keys, values))
        for k in ("g_total", "d_total"):
            if k in out:
                self._check_finite(k, out[k])
        return out

    def _step(self, micro_batches: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """:meth:`train_step` with the loss terms left on the device (0-d tensors): no synchronization."""
        self.method.train()
        self._apply_lr()
        n = len(micro_batches)
        logs: dict[str, torch.Tensor] = {}
        caches: list[dict[str, Any]] = []
        ddp = self.dist.distributed
        freeze_d = not ddp and bool(self.d_params)
        # ---- generator phase
        self.opt_g.zero_grad(set_to_none=True)
        if freeze_d:
            self._set_requires_grad(self.d_params, False)
        try:
            g_total: torch.Tensor | float = 0.0
            for i, mb in enumerate(micro_batches):
                sync = contextlib.nullcontext() if (not ddp or i == n - 1) else self.engine.no_sync()
                with sync:
                    with self._autocast():
                        losses = self._run_engine("g", mb, self.step)
                    if not losses:
                        raise ReenactorError(
                            f"{type(self.method).__name__}.generator_step returned no losses"
                        )
                    total = sum(v.float() for v in losses.values())
                    self.scaler_g.scale(total / n).backward()
                out = self.step_module.last
                caches.append(out.cache)
                if i == 0:
                    self.last_visuals = out.visuals
                for k, v in losses.items():
                    logs[k] = logs.get(k, 0.0) + v.detach().float() / n
                g_total = g_total + total.detach() / n
        finally:
            if freeze_d:
                self._set_requires_grad(self.d_params, True)
        logs["g_total"] = g_total
        self._optim_step(self.opt_g, self.scaler_g, self.g_params)
        if self.ema is not None:
            self.ema.update(self.step)
        # ---- discriminator phase
        if self.opt_d is not None and self.step % self.cfg.d_every == 0:
            self.opt_d.zero_grad(set_to_none=True)
            d_total: torch.Tensor | float = 0.0
            for i, (mb, cache) in enumerate(zip(micro_batches, caches)):
                sync = contextlib.nullcontext() if (not ddp or i == n - 1) else self.engine.no_sync()
                with sync:
                    with self._autocast():
                        dl = self._run_engine("d", mb, self.step, cache)
                    if dl:
                        total = sum(v.float() for v in dl.values())
                    else:  # keep DDP's reducer consistent when a method skips D this step
                        total = sum(p.sum() * 0.0 for p in self.d_params)
                    self.scaler_d.scale(total / n).backward()
                for k, v in dl.items():
                    logs[k] = logs.get(k, 0.0) + v.detach().float() / n
                d_total = d_total + total.detach() / n
            logs["d_total"] = d_total
            self._optim_step(self.opt_d, self.scaler_d, self.d_params)
        return logs

    def _optim_step(
        self, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, params: list[nn.Parameter]
    ) -> None:
        if self.cfg.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        scaler.step(opt)
        scaler.update()

    # ------------------------------------------------------------------ data
    def micro_batch_size(self) -> int:
        per = self.dist.world * self.cfg.grad_accum
        if self.cfg.batch_size % per:
            raise ConfigError(
                f"trainer.batch_size {self.cfg.batch_size} must be divisible by processes x "
                f"grad_accum = {self.dist.world} x {self.cfg.grad_accum}"
            )
        return self.cfg.batch_size // per

    def num_workers(self) -> int:
        """``trainer.num_workers``, with ``auto`` resolved: 0 on a CPU device (loader processes would compete
        with the math for the same cores), else up to 4 per process, at most half the cores per process."""
        if self.cfg.num_workers != "auto":
            return int(self.cfg.num_workers)
        if self.device.type == "cpu":
            return 0
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        return max(1, min(4, (os.cpu_count() or 2) // (2 * local)))

    def make_loader(self, dataset: Dataset, start_step: int = 0) -> Iterator[dict[str, Any]]:
        """Endless iterator of this rank's micro-batches, positioned at ``start_step``."""
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ReenactorError(
                "the training dataset is empty", fix="check the --target clips (frames with a person)"
            )
        mb = self.micro_batch_size()
        start = start_step * self.cfg.grad_accum * mb
        sampler = _ResumableSampler(dataset, self.dist, self.cfg.seed, start=start)
        workers = self.num_workers()
        loader = DataLoader(
            _PositionedDataset(dataset, self.cfg.seed, self.dist.rank, self.dist.world),
            batch_size=mb,
            sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
        )
        # creating the iterator draws a base seed from torch's RNG: keep the training stream untouched so a
        # resumed run (which creates it at another step) continues the exact same random sequence
        with torch.random.fork_rng(devices=[]):
            return iter(loader)

    # ------------------------------------------------------------------ checkpoints
    def method_state(self) -> dict[str, torch.Tensor]:
        """The method's state dict without frozen feature nets (they come from their package/file)."""
        return {
            k: v.detach().cpu().clone()
            for k, v in self.method.state_dict().items()
            if not any(k.startswith(p) for p in self.frozen)
        }

    def state_dict(self) -> dict[str, Any]:
        rng = get_rng_state()
        if self.dist.distributed:
            gathered: list[Any] = [None] * self.dist.world
            torch.distributed.all_gather_object(gathered, rng)
            rng_all = gathered
        else:
            rng_all = [rng]
        return {
            "step": self.step,
            "method": self.method_state(),
            "opt_g": self.opt_g.state_dict() if self.opt_g else None,
            "opt_d": self.opt_d.state_dict() if self.opt_d else None,
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "rng": rng_all,
            "world": self.dist.world,
            "config": to_dict(self.run_cfg),
            "method_name": self.method.name,
            "calibrated": self.calibrated,
            "rejoined": self.rejoined,
        }

    def load_state_dict(self, state: dict[str, Any], source: Path | None = None) -> None:
        if state.get("method_name") not in (None, self.method.name):
            raise CheckpointError(
                f"checkpoint is from method {state.get('method_name')!r}, not {self.method.name!r}",
                source,
                "resume with the same --method, or start a new run folder",
            )
        missing, unexpected = self.method.load_state_dict(state["method"], strict=False)
        missing = [k for k in missing if not any(k.startswith(p) for p in self.frozen)]
        if missing or unexpected:
            raise CheckpointError(
                f"checkpoint networks do not match the method (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})",
                source,
                "resume with the same model config, or start a new run folder",
            )
        if self.opt_g and state.get("opt_g"):
            self.opt_g.load_state_dict(state["opt_g"])
        if self.opt_d and state.get("opt_d"):
            self.opt_d.load_state_dict(state["opt_d"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        if self.ema and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.step = int(state["step"])
        self.calibrated = dict(state.get("calibrated") or {})
        self.rejoined = bool(state.get("rejoined", False))
        rngs = state["rng"]
        if len(rngs) == self.dist.world:
            set_rng_state(rngs[self.dist.rank])
        else:
            if self.dist.is_main:
                logger.info(
                    f"[train] note: checkpoint was written by {len(rngs)} process(es), resuming with "
                    f"{self.dist.world}: data order and random streams are re-seeded (not bit-exact)"
                )
            seed_everything(self.cfg.seed + 1_000 * self.step + self.dist.rank)

    def save_checkpoint(self) -> Path | None:
        """Atomic checkpoint of the current step (rank 0 writes; every rank takes part in gathering RNG)."""
        state = self.state_dict()
        path = None
        if self.dist.is_main and self.run_dir is not None:
            path = ckpt.write_checkpoint(
                self.run_dir, self.step, state, self._model_args(), keep=self.cfg.keep_checkpoints
            )
        self.dist.barrier()
        return path

    def resume(self) -> bool:
        """Load the newest complete checkpoint of ``run_dir``; False when there is none."""
        if self.run_dir is None:
            return False
        folder = ckpt.latest_checkpoint(self.run_dir)
        if folder is None:
            return False
        self.load_state_dict(ckpt.read_checkpoint(folder), folder)
        if self.dist.is_main:
            logger.info(f"[train] resumed from {folder} (step {self.step})")
        return True

    # ------------------------------------------------------------------ export
    def run_info(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "precision": self.cfg.precision,
            "ema": self.cfg.ema if self.ema else 0.0,
            "feature_nets": self.feature_nets,
            "world_size": self.dist.world,
            "device": str(self.device),
            "seed": self.cfg.seed,
            "run_config": run_config_dict(self.run_cfg, self.method.cfg),
        }

    def _model_args(self) -> dict[str, Any]:
        ctx = self.ema.swapped() if self.ema is not None else contextlib.nullcontext()
        with ctx:
            tensors, meta = self.method.inference_state()
            tensors = {k: v.detach().cpu().clone() for k, v in tensors.items()}
        meta = {**meta, **self.calibrated}
        return {
            "method_name": self.method.name,
            "config_dict": to_dict(self.method.cfg),
            "tensors": tensors,
            "meta": meta,
            "run": self.run_info(),
        }

    def calibrate(self, dataset: Dataset) -> None:
        """Fit the method's calibrated inference options on the frames ``dataset`` held out of training
        (:mod:`reenactor.train.calibrate`; ``data.holdout``); the values go into the exported model's meta."""
        blocks = getattr(dataset, "heldout", None)
        if not blocks:
            return
        if not type(self.method).calibrated_options(self.method.cfg):
            logger.info(
                f"[train] note: {self.method.name} (as configured) calibrates nothing; the frames data.holdout kept "
                "out were not trained on (set data.holdout=0 to train on them)"
            )
            return
        from .calibrate import calibrate

        args = self._model_args()
        chosen, errors = calibrate(
            type(self.method),
            self.method.cfg,
            args["tensors"],
            args["meta"],
            dataset.clips,
            blocks,
            self.device,
        )
        self.calibrated = {"calibrated": chosen, "calibration": errors}

    def export(self, path: str | Path | None = None) -> Path | None:
        """Write the inference model (EMA weights when enabled) to ``path`` (default RUN_DIR/model.safetensors)."""
        if not self.dist.is_main:
            return None
        if path is None:
            if self.run_dir is None:
                return None
            path = self.run_dir / "model.safetensors"
        return ckpt.save_model(path, **self._model_args())

    # ------------------------------------------------------------------ logging
    def _open_writer(self) -> None:
        if self.writer is None and self.cfg.tensorboard and self.dist.is_main and self.run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=self.step or None)

    def _log(self, logs: dict[str, float], it_s: float) -> None:
        if self.writer is None:
            return
        for k, v in logs.items():
            group = "loss_d" if k.startswith("d") else "loss_g"
            self.writer.add_scalar(f"{group}/{k}", v, self.step)
        self.writer.add_scalar("perf/it_per_s", it_s, self.step)
        self.writer.add_scalar("lr/g", self.opt_g.param_groups[0]["lr"], self.step)

    def _log_images(self) -> None:
        if not self.last_visuals or not self.dist.is_main or self.run_dir is None:
            return
        grid = image_grid(self.last_visuals)
        if self.writer is not None:
            self.writer.add_image("samples/" + "|".join(self.last_visuals), grid, self.step)
        from ..io.video import write_image

        img = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        write_image(self.run_dir / "samples" / f"step_{self.step:07d}.png", img)

    # ------------------------------------------------------------------ the loop
    def next_batch(self, batches: Iterator[dict[str, Any]]) -> dict[str, Any]:
        """The next micro-batch on the device, through the method's :meth:`~Method.prepare_batch`."""
        batch = _to_device(next(batches), self.device)
        with torch.no_grad():
            batch = self.method.prepare_batch(batch)
        if self.cfg.channels_last:
            batch = {
                k: v.contiguous(memory_format=torch.channels_last)
                if isinstance(v, torch.Tensor) and v.dim() == 4 and v.is_floating_point()
                else v
                for k, v in batch.items()
            }
        return batch

    def _run_fraction(self) -> float:
        """How far the run is, 0..1: by steps, or by the wall-clock budget when it ends first (with several
        processes, the wall clock the ranks last agreed on, so that every rank sees the same value)."""
        f = self.step / max(self.cfg.steps, 1)
        if self.cfg.max_seconds > 0 and self._t_fit is not None:
            f = max(f, self._elapsed() / self.cfg.max_seconds)
        return min(f, 1.0)

    def _elapsed(self) -> float:
        """Seconds since fit() began; with several processes the largest of the ranks' at the latest
        logging step (they agree there only: one collective per logging step, not one per step)."""
        if self._t_fit is None:
            return 0.0
        if not self.dist.distributed:
            return time.perf_counter() - self._t_fit
        if self.step % self.cfg.log_every == 0 and self._agreed_at != self.step:
            t = torch.tensor([time.perf_counter() - self._t_fit], dtype=torch.float64, device=self.device)
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
            self._agreed_elapsed, self._agreed_at = float(t.item()), self.step
        return self._agreed_elapsed

    def _budget_spent(self) -> bool:
        """Whether ``trainer.max_seconds`` has passed (the same answer on every rank)."""
        if self.cfg.max_seconds <= 0 or self._t_fit is None:
            return False
        return self._elapsed() >= self.cfg.max_seconds

    def fit(self, dataset: Dataset, resume: bool = False, full_dataset: Dataset | None = None) -> Path | None:
        """Train to ``trainer.steps`` (continuing from the newest checkpoint with ``resume``) or until
        ``trainer.max_seconds`` of wall clock, checkpoint every ``checkpoint_every`` steps and at the end, export
        the model. Returns the exported path (rank 0). ``full_dataset``: the same data without held-out frames
        (``data.holdout`` with ``data.holdout_until`` < 1): once that share of the run is done, the method's
        calibrated options are fitted on the held-out frames of ``dataset`` and training goes on with
        ``full_dataset``; otherwise they are fitted at the end. A run that takes no step exports nothing (an untrained
        generator is not a model): :class:`ReenactorError`. Ctrl-C saves a checkpoint of the finished steps and
        re-raises."""
        from tqdm.auto import tqdm

        self._t_fit = time.perf_counter()
        self._agreed_elapsed, self._agreed_at = 0.0, -1
        main = self.dist.is_main
        self.method.fit_data(dataset)
        if self.run_dir is not None and main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_yaml(self.run_dir / "config.yaml", self.run_cfg)
        if not self.trainable:
            if main:
                logger.info(f"[train] {self.method.name} has nothing to optimise: exporting after fit_data")
            path = self.export()
            self.dist.barrier()
            return path
        if resume:
            self.resume()
        steps = self.cfg.steps
        if self.run_dir is not None and main:
            write_json(
                self.run_dir / "run.json", {**self.run_info(), "status": "running", "target_steps": steps}
            )
        if main and self.feature_nets and not self._announced:
            logger.info("[train] feature nets: " + "; ".join(self.feature_nets))
            self._announced = True
        self._open_writer()
        until = self.run_cfg.data.holdout_until if full_dataset is not None else 1.0
        batches = self.make_loader(
            full_dataset if self.rejoined and full_dataset is not None else dataset, self.step
        )
        bar = tqdm(
            total=steps,
            initial=self.step,
            desc=f"train {self.method.name}",
            unit="step",
            disable=not (main and self.cfg.progress),
            dynamic_ncols=True,
        )
        t_last, s_last = time.perf_counter(), self.step
        saved_at = first = self.step
        try:
            while self.step < steps:
                if (
                    self.step > first and self._budget_spent()
                ):  # a budget never stops a run before its first step
                    if main:
                        logger.info(
                            f"[train] wall-clock budget of {self.cfg.max_seconds:g} s spent at step {self.step} "
                            f"(of {steps})"
                        )
                    break
                if not self.rejoined and until < 1.0 and self.run_fraction() >= until:
                    if main:
                        self.calibrate(dataset)
                        logger.info(f"[train] step {self.step}: the held-out frames train from here on")
                    self.dist.barrier()
                    self.rejoined = True
                    batches = self.make_loader(full_dataset, self.step)
                micro = [self.next_batch(batches) for _ in range(self.cfg.grad_accum)]
                self.method.schedule(self.run_fraction())
                pending = self._step(micro)  # loss tensors, still on the device: no wait here
                self.step += 1
                bar.update(1)
                logging_now = self.step % self.cfg.log_every == 0 or self.step == steps
                saving = self.step % self.cfg.checkpoint_every == 0 or self.step == steps
                if logging_now or saving:  # the one wait for the device; a diverged run is never saved
                    logs = self._floats(pending)
                if logging_now:
                    if self.dist.distributed:
                        keys = sorted(logs)
                        vec = torch.tensor([logs[k] for k in keys], dtype=torch.float64, device=self.device)
                        torch.distributed.all_reduce(vec)
                        logs = {k: float(v) / self.dist.world for k, v in zip(keys, vec)}
                    now = time.perf_counter()
                    it_s = (self.step - s_last) / max(now - t_last, 1e-9)
                    t_last, s_last = now, self.step
                    bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()}, refresh=False)
                    self.history.append({"step": self.step, **logs})
                    self._log(logs, it_s)
                    self.last_logs = logs
                if self.cfg.image_every and (self.step % self.cfg.image_every == 0 or self.step == steps):
                    self._log_images()
                if saving:
                    self.save_checkpoint()
                    saved_at = self.step
                for cb in self.callbacks:
                    cb(self, self.last_logs)
        except KeyboardInterrupt:
            if self.step > saved_at and not self.dist.distributed:
                bar.close()
                self.save_checkpoint()
                if main:
                    logger.info(f"\n[train] interrupted: checkpoint saved at step {self.step}")
            raise
        finally:
            bar.close()
            if self.writer is not None:
                self.writer.flush()
        if self.step == 0:
            raise ReenactorError(
                "no training step was taken, so there is no model to export",
                self.run_dir,
                "pass --steps N with N >= 1 (and a --budget long enough for one step)",
            )
        if self.step > saved_at:  # stopped by the budget: keep the finished steps resumable
            self.save_checkpoint()
        if main and not self.rejoined:
            self.calibrate(dataset)
        path = self.export()
        if self.run_dir is not None and main:
            write_json(
                self.run_dir / "run.json",
                {**self.run_info(), "status": "done", "target_steps": steps, "model": str(path)},
            )
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.dist.barrier()
        return path
