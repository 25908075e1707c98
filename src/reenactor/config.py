"""Typed dataclass configs <-> YAML.

A config is a (nested) dataclass. :func:`from_dict` builds one from a mapping and rejects unknown keys with
the full dotted key in the message; :func:`apply_overrides` applies ``--set trainer.lr=1e-4`` style overrides
(values parsed as YAML scalars); :func:`to_dict` / :func:`save_yaml` write it back. The running config is
always one object, saved with every checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from .errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"`{key}`: {value!r} matches none of {tp}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping, got {value!r}")
        return from_dict(tp, value, prefix=key + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{key}` must be a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"`{key}` needs {len(args)} items, got {len(value)}")
            return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        out = [_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"`{key}` must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"`{key}` must be true or false, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"`{key}` must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"`{key}` must be an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"`{key}` must be a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`ConfigError`; missing keys keep defaults.
    Keys a class lists in its ``RETIRED`` mapping (written by older versions, e.g. into model files) are dropped
    with a warning that says what replaced them."""
    data = dict(data or {})
    for key, why in getattr(cls, "RETIRED", {}).items():
        if key in data:
            data.pop(key)
            logger.warning(f"[config] `{prefix}{key}` is no longer used and was ignored: {why}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key(s): {', '.join(prefix + k for k in unknown)}; "
            f"known keys under `{prefix or '(top)'}`: {', '.join(sorted(fields))}"
        )
    kwargs = {k: _convert(hints[k], v, prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"config `{prefix or cls.__name__}`: {e}") from None


def with_legacy(cls: type, data: dict[str, Any] | None) -> dict[str, Any]:
    """A config stored by an older version (a model file's), with each key it lacks that a class lists in its
    ``LEGACY`` mapping set to the value that older version built with (a key added later whose default changed
    what the networks are), recursively through nested config classes. Give the result to :func:`from_dict`."""
    data = dict(data or {})
    for key, value in getattr(cls, "LEGACY", {}).items():
        data.setdefault(key, value)
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        if dataclasses.is_dataclass(tp) and isinstance(data.get(f.name), dict):
            data[f.name] = with_legacy(tp, data[f.name])
    return data


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict (tuples become lists) of a dataclass config, for YAML / JSON."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return conv(cfg)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"trainer.lr=1e-4"`` -> (["trainer", "lr"], 1e-4). Values are YAML scalars (``1e-4`` is a float)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        # YAML 1.1 reads 1e-4 as a string; accept it as a float.
        try:
            value = float(value)
        except ValueError:
            pass
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a nested dict (validated later by :func:`from_dict`)."""
    data = _deepcopy(data)
    for text in overrides or []:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            nxt = node.setdefault(k, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: `{k}` is not a section")
            node = nxt
        node[keys[-1]] = value
    return data


def _deepcopy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deepcopy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deepcopy(v) for v in d]
    return d


#: the method configs shipped inside the package (``configs/<method>/<name>.yaml``; ``configs/`` at the top of a
#: checkout links here)
PACKAGED_CONFIGS = Path(__file__).parent / "configs"


def packaged_configs() -> list[str]:
    """Names of the shipped configs, ``METHOD/NAME`` (e.g. ``upper_body/small``)."""
    return sorted(
        str(p.relative_to(PACKAGED_CONFIGS).with_suffix("")) for p in PACKAGED_CONFIGS.glob("*/*.yaml")
    )


def method_defaults(method: str | None) -> dict[str, Any]:
    """The shipped ``configs/<method>/default.yaml`` (the CPU-sensible settings `reenactor train`, the demo and
    the benchmarks all start from), or ``{}`` for a method without one."""
    p = PACKAGED_CONFIGS / str(method or "") / "default.yaml"
    return load_yaml(p) if method and p.is_file() else {}


def config_path(spec: str | Path) -> Path:
    """A config file: a path that exists, else a shipped config named ``METHOD/NAME`` (``cloning/default``) or by
    its checkout path (``configs/upper_body/small.yaml``), so the same names work from an installed wheel."""
    p = Path(spec)
    if p.exists():
        return p
    name = str(spec).removeprefix("configs/").removesuffix(".yaml")
    cand = PACKAGED_CONFIGS / f"{name}.yaml"
    if cand.is_file():
        return cand
    raise ConfigError(
        "config file not found",
        p,
        "pass a YAML file, or a shipped config by name: " + ", ".join(packaged_configs()),
    )


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = config_path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {e}", path, "fix the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError("a config must be a mapping at the top level", path)
    return data


def save_yaml(path: str | Path, cfg: Any) -> None:
    from .io.atomic import write_text

    write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge, ``extra`` wins."""
    out = _deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = _deepcopy(v)
    return out
