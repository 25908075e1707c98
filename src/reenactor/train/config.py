"""The run config of ``reenactor train``: ``method`` (a registered name), ``model`` (validated by the method's
own ``Config`` dataclass), ``trainer`` (:class:`TrainerConfig`) and ``data`` (:class:`DataConfig`).

Every key is documented in ``configs/trainer.yaml``. Unknown keys are an error; ``--set trainer.lr=1e-4``
overrides any key; the resolved config is saved as ``RUN_DIR/config.yaml`` and inside every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import apply_overrides, from_dict, to_dict
from ..errors import ConfigError


@dataclass
class TrainerConfig:
    """What the one training loop does (see configs/trainer.yaml for every key)."""

    steps: int = 2000  # optimizer steps to train for (a resumed run continues up to this number)
    max_seconds: float = (
        0.0  # wall-clock budget of this invocation (0 = none): stop there with a checkpoint and an export
    )
    batch_size: int = 4  # global batch per optimizer step (split over processes and accumulation micro-steps)
    grad_accum: int = 1  # micro-steps whose gradients are summed before each optimizer step
    lr: float = 2e-4  # Adam learning rate of the generator(s)
    lr_d: float | None = None  # Adam learning rate of the discriminator(s); null = same as lr
    lr_decay: float = (
        0.0  # share of the run at its end over which both lrs fall linearly to 0 (pix2pixHD: 0.5)
    )
    beta1: float = 0.5  # Adam beta1 (0.5 as in pix2pix / pix2pixHD)
    beta2: float = 0.999  # Adam beta2
    weight_decay: float = 0.0  # Adam weight decay (L2) for all networks
    grad_clip: float = 0.0  # clip the global gradient norm of each network group to this value (0 = off)
    d_every: int = 1  # update the discriminator(s) every N steps
    precision: Literal["fp32", "bf16", "fp16"] = (
        "fp32"  # autocast dtype for forward passes (weights stay fp32)
    )
    ema: float = (
        0.999  # EMA of G's weights (0 = off), decay warmed up as min(ema, (1+n)/(10+n)); the export uses it
    )
    ema_start: int = 100  # step at which the EMA starts tracking (before that it copies G)
    seed: int = 0  # seeds Python, NumPy and torch (networks, data order, augmentations): runs are repeatable
    device: str = "auto"  # "auto" (cuda:LOCAL_RANK when CUDA is available, else cpu), "cpu", "cuda", "cuda:1"
    # DataLoader worker processes: 0 = load in the main process; "auto" = 0 on a CPU device (workers would take
    # the cores the math runs on), up to 4 per process on a GPU (pinned memory, non-blocking copies)
    num_workers: int | Literal["auto"] = "auto"
    # torch.compile the training step (first steps compile; eager with a message if it cannot), in compile_mode:
    # default | reduce-overhead (CUDA graphs: the step's kernels replayed with one launch on a GPU) | max-autotune
    compile: bool = False
    compile_mode: Literal["default", "reduce-overhead", "max-autotune"] = "default"
    # channels-last memory format for the networks and 4-D batch tensors (faster convolutions on GPUs)
    channels_last: bool = False
    checkpoint_every: int = 500  # write a resumable checkpoint every N steps (and at the end)
    keep_checkpoints: int = 2  # how many recent checkpoints to keep (older ones are deleted)
    log_every: int = 10  # TensorBoard scalars (losses, lr, it/s) every N steps
    image_every: int = 250  # TensorBoard image grid (and samples/step_N.png) every N steps (0 = off)
    tensorboard: bool = True  # write TensorBoard event files under RUN_DIR/tb
    progress: bool = True  # show a tqdm bar with the losses and it/s


@dataclass
class DataConfig:
    """Which clip stores the method's dataset is built from: ``target`` (+ ``unpaired``) for per-person
    methods, ``clips`` for methods trained on many people (reference methods; see
    :mod:`reenactor.data.clips` for the entry forms and :mod:`reenactor.data.pairs` for the pairing)."""

    target: list[str] = field(
        default_factory=list
    )  # clip folders of the target person (paired training data)
    unpaired: list[str] = field(
        default_factory=list
    )  # clip folders of other people (unpaired branch, if any)
    flow: bool = True  # compute/cached DIS optical flow (`flow` stage) for unpaired clips before training
    clips: list[str] = field(
        default_factory=list
    )  # many-clip data: clip folders, folders of them, .txt lists
    pair_max_distance: int = 250  # source and target frame of a pair at most this many frames apart (0 = any)
    pair_across_clips: bool = False  # also draw source frames from other clips of the same identity
    # the last this many frames of each training clip are kept out of training, to fit what the method calibrates
    # after it (its calibrated inference options, e.g. remot's flow_gain), the last kept frame as the photo (0 = none)
    holdout: int = 0
    # share of the run trained without the held-out frames: there the options are fitted and from there on the held-out
    # frames train too (1 = fitted at the end, the held-out frames never train)
    holdout_until: float = 1.0


@dataclass
class RunConfig:
    """The whole run: method name, its model config (a plain mapping checked by the method), trainer, data."""

    method: str = ""  # registered method name (`reenactor train --help` lists them)
    model: dict[str, Any] = field(default_factory=dict)  # the method's own config (its Config dataclass)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    data: DataConfig = field(default_factory=DataConfig)


def validate_trainer(t: TrainerConfig) -> None:
    """Range checks with messages naming the key."""
    checks = [
        (t.steps >= 0, "trainer.steps must be >= 0"),
        (t.max_seconds >= 0, "trainer.max_seconds must be >= 0 (0 = no budget)"),
        (t.batch_size >= 1, "trainer.batch_size must be >= 1"),
        (t.grad_accum >= 1, "trainer.grad_accum must be >= 1"),
        (t.lr > 0, "trainer.lr must be > 0"),
        (t.lr_d is None or t.lr_d > 0, "trainer.lr_d must be > 0 (or null)"),
        (0 <= t.lr_decay <= 1, "trainer.lr_decay must be in [0, 1] (0 = constant learning rate)"),
        (0 <= t.beta1 < 1 and 0 <= t.beta2 < 1, "trainer.beta1/beta2 must be in [0, 1)"),
        (0 <= t.ema < 1, "trainer.ema must be in [0, 1) (0 = off)"),
        (t.d_every >= 1, "trainer.d_every must be >= 1"),
        (t.checkpoint_every >= 1, "trainer.checkpoint_every must be >= 1"),
        (t.log_every >= 1, "trainer.log_every must be >= 1"),
        (t.image_every >= 0, "trainer.image_every must be >= 0"),
        (t.num_workers == "auto" or t.num_workers >= 0, "trainer.num_workers must be >= 0 or auto"),
        (t.grad_clip >= 0, "trainer.grad_clip must be >= 0"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)


def validate_data(d: DataConfig) -> None:
    """Range checks of the data section."""
    if d.pair_max_distance < 0:
        raise ConfigError("data.pair_max_distance must be >= 0 (0 = any frame of the clip)")
    if d.holdout < 0:
        raise ConfigError("data.holdout must be >= 0 (0 = no frame held out)")
    if not 0 < d.holdout_until <= 1:
        raise ConfigError("data.holdout_until must be in (0, 1] (1 = the held-out frames never train)")


def build_run_config(data: dict[str, Any], overrides: list[str] | None = None) -> RunConfig:
    """Mapping (from YAML and CLI flags) + ``--set`` overrides -> validated :class:`RunConfig` (the ``model``
    section is checked separately by :func:`method_config`)."""
    data = apply_overrides(data, overrides or [])
    cfg = from_dict(RunConfig, data)
    validate_trainer(cfg.trainer)
    validate_data(cfg.data)
    return cfg


def method_config(cls: type, model: dict[str, Any]) -> Any:
    """The method's typed config from the run's ``model:`` section (unknown keys error as ``model.KEY``)."""
    return from_dict(cls.Config, model or {}, prefix="model.")


def run_config_dict(cfg: RunConfig, model_cfg: Any | None = None) -> dict[str, Any]:
    """Plain dict of the run config; with ``model_cfg`` the model section is the full resolved method config."""
    d = to_dict(cfg)
    if model_cfg is not None:
        d["model"] = to_dict(model_cfg)
    return d
