"""The contract between a method (one paper's system) and the one trainer / the one transfer pipeline.

A method is a small class: it builds its networks from its config, makes its dataset from clip stores, and
returns *named, already weighted* loss terms for the generator and discriminator steps, e.g.
``{"gan": ..., "fm": ..., "vgg": ...}``. The trainer (``reenactor.train``) owns everything else: devices,
precision, optimizers, gradient accumulation, EMA, distribution, checkpoints and logging. A method never
imports another method; shared parts live in ``reenactor.nn`` and ``reenactor.losses``.

At inference a :class:`Synthesizer` is rebuilt from the exported model file alone (generator weights +
config + meta such as the skeleton and normalization statistics), and ``reenactor transfer`` streams
driving poses through it.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

#: the method kinds shared code reads from :attr:`Method.kind`
PER_PERSON, REFERENCE, POSE_SEQUENCE = "per-person", "reference", "pose-sequence"
KINDS: tuple[str, ...] = (PER_PERSON, REFERENCE, POSE_SEQUENCE)


@dataclass
class StepOutput:
    """What :meth:`Method.generator_step` returns.

    losses:  name -> scalar tensor, each already multiplied by its weight; the trainer backprops their sum.
    visuals: name -> (B, 3, H, W) in [-1, 1], logged as image grids (optional).
    cache:   anything the discriminator step needs from the generator step (e.g. the detached fake).
    """

    losses: dict[str, torch.Tensor]
    visuals: dict[str, torch.Tensor] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)


class Method(nn.Module, abc.ABC):
    """Base class of every method. Subclasses set ``name`` and ``Config`` and implement the abstract methods.

    ``self.G`` / ``self.D`` style attributes hold the networks (as submodules, so ``.to(device)`` and
    ``state_dict()`` cover them). The trainer builds one optimizer over :meth:`generator_parameters` and one
    over :meth:`discriminator_parameters` (skipped when empty).

    What the trainer (:class:`reenactor.train.Trainer`) guarantees a method:

    * steps run under autocast (``trainer.precision``), on the device the trainer chose (the method was moved
      there with ``.to``); batches arrive on that device; loss terms may be any float dtype;
    * per optimizer step: :meth:`generator_step` for every micro-batch, the G update, the EMA update, then
      :meth:`discriminator_step` with the same micro-batch and that step's ``cache``; in single-process runs
      the discriminator parameters are frozen during the G phase;
    * frozen :class:`reenactor.nn.backbones.FeatureNet` submodules (perceptual losses) are left out of training
      checkpoints - they are rebuilt from their package / user file;
    * :meth:`inference_state` is called with the EMA weights swapped into the generator parameters (when
      ``trainer.ema > 0``), for the exported ``model.safetensors`` and every checkpoint's copy of it;
    * :meth:`fit_data` is called once per run (also on resume) before the first step;
    * every micro-batch goes through :meth:`prepare_batch` on the device before the steps see it;
    * :meth:`schedule` is told how far the run is before every step.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    needs_training: ClassVar[bool] = True  # False for non-learned baselines (e.g. nearest neighbour)
    #: what the method is (see :data:`KINDS`): ``per-person`` (trained on the target's own video),
    #: ``reference`` (a general model, or none, given one target photo at transfer time: a
    #: :class:`reenactor.reference.Reference`) or ``pose-sequence`` (writes driving poses, not frames)
    kind: ClassVar[str] = "per-person"
    #: precisions :meth:`synthesizer` honours; shared code refuses any other with one message naming the method
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    #: options of this method's inference (``reenactor transfer`` exposes each as a flag; see :class:`InferenceOption`)
    inference_options: ClassVar[tuple[InferenceOption, ...]] = ()
    #: clip-store stages this method's dataset reads beyond what ``reenactor extract`` writes (names in
    #: :data:`reenactor.train.stages.CLIP_STAGES`, e.g. ``("layout", "background")``); ``reenactor train``
    #: runs the missing ones on every training clip before building the dataset (each is cached and cheap)
    clip_stages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, cfg: Any):
        super().__init__()
        self.cfg = cfg

    # --------------------------------------------------------------- data
    @abc.abstractmethod
    def build_dataset(self, clips: list, unpaired: list | None = None, **kw: Any) -> torch.utils.data.Dataset:
        """A dataset over clip stores whose items are dicts of tensors (collated by the default collate).

        Per-person methods: ``build_dataset(targets, unpaired)``, the target's clip stores (and other people's
        for an unpaired branch). Reference and pose-sequence methods: ``build_dataset(clips,
        pairs=PairOptions(...))``, many people's clips as :class:`reenactor.data.clips.TrainingClip` (store +
        identity), and how to pair frames of one identity (:class:`reenactor.data.pairs.FramePairs` draws
        them: deterministic per sample position, so a resumed run sees the same pairs)."""

    # --------------------------------------------------------------- training
    @abc.abstractmethod
    def generator_parameters(self) -> list[nn.Parameter]: ...

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return []

    @abc.abstractmethod
    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        """Forward the generator(s) and return weighted loss terms (paper equations cited in the subclass)."""

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Weighted discriminator loss terms; ``cache`` is :attr:`StepOutput.cache` of the same step."""
        return {}

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Per-step data work done batched on the training device: the trainer calls it on every micro-batch
        once the batch is there (no gradients, outside autocast), before :meth:`generator_step`. Items can then
        stay compact on the host (keypoints, uint8 frames: little to collate and to copy) and be rendered here
        in a few batched kernels. Default: the batch as it is."""
        return batch

    def schedule(self, fraction: float) -> None:  # noqa: B027 - optional hook
        """Called by the trainer before every step with how far the run is, 0..1 (share of ``trainer.steps``,
        or of the wall-clock budget when that ends the run first; the same value on every process), for
        losses that change over a run (e.g. a stage that trains one branch only). Default: nothing."""

    @classmethod
    def check_config(cls, cfg: Any) -> None:  # noqa: B027 - optional hook
        """Refuse a config (an instance of :attr:`Config`) the method cannot build or train with, one
        :class:`~reenactor.errors.ConfigError` naming the keys. ``reenactor train`` calls it before it writes
        anything or touches the data, so a bad value leaves no run folder behind. Default: nothing."""

    @classmethod
    def ablations(cls, synthesizer: Synthesizer) -> list[tuple[str, dict[str, Any]]]:
        """Ablation rows a benchmark renders from the same trained model: ``(row-name suffix, inference
        options)`` per part this model can switch off at inference (e.g. single_shot's face refinement,
        remot's Whole Composition Network), given its ``synthesizer`` as loaded. Default: none."""
        return []

    @classmethod
    def calibrated_options(cls, cfg: Any) -> list[tuple[str, tuple[Any, ...]]]:
        """Inference options this model fits on held-out frames after training: ``(option name, values to
        try)``, each a name of :attr:`inference_options`. With ``data.holdout`` > 0 the trainer renders the
        held-out frames of the training clips through this method's own transfer path at each value (the frame
        before them as the photo, as the single-image protocol), keeps the value with the lowest mean L1 to the
        real frames (the first listed on a tie) and writes it into the model file (meta ``calibrated``), where it
        is the option's value at transfer unless one is given
        (:func:`reenactor.train.calibrate.calibrate`). Default: none."""
        return []

    def fit_data(self, dataset: torch.utils.data.Dataset) -> None:  # noqa: B027 - optional hook
        """Hook called once before training with the full dataset (e.g. to record statistics or, for a
        non-learned baseline, to store the training set)."""

    # --------------------------------------------------------------- export / inference
    @abc.abstractmethod
    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(tensors, meta) written to the exported model file: the generator weights (and any buffers
        inference needs) and JSON-able meta (skeleton, normalization statistics, frame size, ...)."""

    @classmethod
    @abc.abstractmethod
    def synthesizer(
        cls,
        cfg: Any,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        """Rebuild the inference object from an exported model file's contents (for a method with nothing to
        train: from its default config, ``tensors`` and ``meta`` empty). ``precision`` is one of
        :attr:`precisions`; ``options`` holds every :attr:`inference_options` name, resolved by
        :func:`resolve_options` (a value None: the model's own setting)."""


@dataclass(frozen=True)
class InferenceOption:
    """One inference option a method declares (:attr:`Method.inference_options`).

    ``name`` is the key in the ``options`` mapping the synthesizer receives and the CLI flag's stem
    (``expression_warp`` -> ``--expression-warp``, and ``--no-expression-warp`` for a boolean). ``default``
    None means "the model's own setting" (e.g. a config key stored in the model file).
    """

    name: str
    type: type
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def resolve_options(cls: type, given: dict[str, Any] | None) -> dict[str, Any]:
    """Every option ``cls`` declares, from ``given`` (None values: not given) or the declared default. A given
    option the method does not declare is dropped with one logged note (shared flags reach every method)."""
    declared = {o.name: o for o in getattr(cls, "inference_options", ())}
    out = {k: o.default for k, o in declared.items()}
    for k, v in (given or {}).items():
        if v is None:
            continue
        if k not in declared:
            logger.info(f"[transfer] note: {cls.name} has no inference option {k!r}; it changes nothing")
            continue
        out[k] = declared[k].type(v)
    return out


def export_tensors(
    modules: dict[str, nn.Module],
    extra: dict[str, np.ndarray] | None = None,
    extra_prefix: str = "train_pose",
) -> dict[str, torch.Tensor]:
    """Flatten networks into one CPU tensor dict for a model file: ``{"<name>.<param>": tensor}`` per module,
    plus ``{"<extra_prefix>.<key>": array}`` for arrays inference needs (e.g. the training poses)."""
    tensors = {
        f"{name}.{k}": v.detach().cpu().contiguous()
        for name, m in modules.items()
        for k, v in m.state_dict().items()
    }
    for k, v in (extra or {}).items():
        tensors[f"{extra_prefix}.{k}"] = torch.from_numpy(np.ascontiguousarray(v))
    return tensors


def subsample_poses(kp: dict[str, np.ndarray], max_n: int) -> dict[str, np.ndarray]:
    """At most ``max_n`` frames of per-frame keypoint arrays ``{key: (T, K, 3)}``, evenly spaced over the clip
    (the training poses a model file stores for normalization and coverage at transfer), float32, contiguous."""
    t = len(next(iter(kp.values()))) if kp else 0
    keep = np.linspace(0, t - 1, min(t, max_n)).round().astype(int) if t > max_n else np.arange(t)
    return {k: np.ascontiguousarray(v[keep], dtype=np.float32) for k, v in kp.items()}


class Synthesizer(abc.ABC):
    """Inference: turns a stream of driving poses (already normalized onto the target) into frames.

    ``reenactor transfer`` calls :meth:`reset` once per video, then :meth:`step` per frame in order, so a
    synthesizer may keep temporal state (previous pose volumes, previously generated frames).
    """

    #: stored frame size (H, W) of the generator's output
    size: tuple[int, int]
    #: driving poses after a batch the synthesizer needs to finish its frames: ``reenactor transfer`` passes up
    #: to this many of the following poses as ``ahead`` to ``step_batch`` / ``prepare`` (fewer at the video's
    #: end) and uses the batched path whenever it is above 0
    lookahead: int = 0

    def reset(self) -> None:  # noqa: B027 - optional
        """Forget temporal state before a new video."""

    def warm_up(self, batch: int = 1) -> None:  # noqa: B027 - optional
        """Run the network once on dummy input so that one-off costs (kernel selection, bf16 JIT: ~50 ms on a
        CPU) are paid before the first real frame; ``reenactor transfer`` calls it in a background thread
        while it reads the driving poses. Must not change any state :meth:`step` depends on."""

    def input_view(self) -> np.ndarray | None:
        """The conditioning image the last :meth:`step` fed its generator, (H, W, 3) uint8 at :attr:`size`, for
        the middle panel of ``--side-by-side``; None (default) when the drawn driving pose shows it already.
        A method whose input is not the driving pose (upper_body: its *generated* face landmarks) overrides it,
        so the panel shows what the network was given, not the driver's own face points."""
        return None

    def set_reference(self, reference: Any) -> None:
        """A reference method's synthesizer receives the target (:class:`reenactor.reference.Reference`: one
        frame, its keypoints, mask, face box and background plate) once, before the first :meth:`step`; the
        output frame size is then the reference's. Per-person synthesizers never get one."""
        raise NotImplementedError(f"{type(self).__name__} takes no reference image")

    @abc.abstractmethod
    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        """One frame. ``pose``: ``{"body": (25, 3), "face": (68, 3), "hand_left": (21, 3), "hand_right":
        (21, 3)}`` float32 pixel coordinates in the target's stored frame (already normalized onto the
        target). ``extras``: the driving frame's whole per-frame extraction record (raw MediaPipe arrays such
        as ``face_raw`` in driving-frame pixels, ``mask``, ...) plus ``"frame"``, the driving RGB frame, so a
        method computes what else it needs (e.g. upper_body's FAUP). Returns (H, W, 3) uint8 RGB."""


class PoseGenerator(Synthesizer):
    """The inference object of a ``pose-sequence`` method (what its :meth:`Method.synthesizer` returns): it
    writes driving poses, not frames. ``reenactor poses generate`` calls :meth:`generate`; the result is saved
    as a pose-sequence file (:mod:`reenactor.pose.posefile`) that ``render`` and ``transfer --driving`` read.
    """

    #: the action labels the model knows (``--action`` names one)
    actions: list[str]
    #: frames per second of the training sequences (written into the pose file)
    fps: float = 25.0

    @abc.abstractmethod
    def generate(
        self,
        pose: dict[str, np.ndarray],
        size: tuple[int, int],
        action: str,
        frames: int,
        seed: int = 0,
        smooth: str | None = None,
    ) -> dict[str, np.ndarray]:
        """From one pose ``{"body": (25, 3), "face": (68, 3) optional}`` in pixels of ``size`` (H, W), a
        sequence of ``frames`` poses of ``action`` in the same pixels: ``{"body": (frames, 25, 3), ...}``.
        ``smooth``: a temporal filter of the generated points (a name in
        :data:`reenactor.pose.smoothing.METHODS`; None: the model's own choice)."""

    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        raise NotImplementedError("a pose-sequence model writes poses (generate), not frames")
