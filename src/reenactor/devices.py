"""``--device`` as every command spells it: ``auto`` (cuda when available, else cpu), cpu, cuda, cuda:N."""

from __future__ import annotations


def resolve_device(spec: str | None) -> str:
    """The torch device a ``--device`` value names: ``auto`` (or None) is ``cuda`` when CUDA is available, else
    ``cpu``; anything else is returned as given, after checking that a requested CUDA device exists (one message
    naming the fix instead of a torch error deep inside a run)."""
    text = "auto" if spec is None else str(spec).strip()
    if text not in ("auto", "cpu") and not text.startswith(("cuda", "mps", "xpu")):
        from .errors import ConfigError

        raise ConfigError(f"--device {text!r} is not a device", fix="pass --device auto, cpu, cuda or cuda:N")
    if text == "cpu":
        return "cpu"
    import torch

    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text.startswith("cuda"):
        from .errors import ConfigError

        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {text}: CUDA is not available on this machine",
                fix="pass --device cpu (or auto: cuda when available, else cpu)",
            )
        index = text.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(
                f"--device {text}: this machine has {torch.cuda.device_count()} CUDA device(s)",
                fix=f"pass --device cuda:0 .. cuda:{torch.cuda.device_count() - 1} (or auto)",
            )
    return text


__all__ = ["resolve_device"]
