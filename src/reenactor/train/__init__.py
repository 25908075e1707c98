"""The one training loop (single process and DDP), its typed run config, checkpoints and model files.

``reenactor train`` (:mod:`reenactor.commands.train`) drives it; methods never write their own loop.
"""

from .checkpoint import LoadedModel, load_model, save_model
from .config import DataConfig, RunConfig, TrainerConfig, build_run_config, method_config
from .trainer import EMA, DistInfo, Trainer, init_distributed, seed_everything

__all__ = [
    "EMA",
    "DataConfig",
    "DistInfo",
    "LoadedModel",
    "RunConfig",
    "Trainer",
    "TrainerConfig",
    "build_run_config",
    "init_distributed",
    "load_model",
    "method_config",
    "save_model",
    "seed_everything",
]
