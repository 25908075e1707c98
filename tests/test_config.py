"""Run config: YAML <-> typed dataclasses, every key documented in configs/trainer.yaml, unknown keys and
bad values are errors naming the key, --set overrides, the CLI reports errors and exits non-zero."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import pytest
import yaml

from reenactor.config import from_dict, load_yaml, to_dict
from reenactor.errors import ConfigError
from reenactor.train.config import DataConfig, RunConfig, TrainerConfig, build_run_config, method_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from tiny_method import TinyMethod, make_clip  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_trainer_yaml_documents_every_key_and_matches_defaults():
    path = ROOT / "configs" / "trainer.yaml"
    text = path.read_text()
    data = load_yaml(path)
    cfg = from_dict(RunConfig, data)
    assert to_dict(cfg) == to_dict(RunConfig())  # the documented values are the defaults
    for section, cls in (("trainer", TrainerConfig), ("data", DataConfig)):
        for f in dataclasses.fields(cls):
            assert f.name in data[section], f"configs/trainer.yaml lacks {section}.{f.name}"
            line = next(ln for ln in text.splitlines() if re.match(rf"\s+{f.name}:", ln))
            assert "#" in line and len(line.split("#", 1)[1].strip()) > 10, (
                f"{section}.{f.name} is not commented"
            )
    for key in ("method", "model"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{key}:"))
        assert "#" in line


def test_overrides_and_types():
    cfg = build_run_config(
        {"method": "tiny"},
        [
            "trainer.lr=1e-4",
            "trainer.precision=bf16",
            "trainer.steps=7",
            "data.target=[a, b]",
            "trainer.lr_d=null",
        ],
    )
    assert cfg.trainer.lr == pytest.approx(1e-4) and isinstance(cfg.trainer.lr, float)
    assert cfg.trainer.precision == "bf16" and cfg.trainer.steps == 7 and cfg.data.target == ["a", "b"]
    assert cfg.trainer.lr_d is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.lrr=1", "trainer.lrr"),
        ("trainer.precision=fp8", "trainer.precision"),
        ("trainer.steps=many", "trainer.steps"),
        ("trainer.ema=1.5", "trainer.ema"),
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("bogus.key=1", "bogus"),
        ("trainer.tensorboard=maybe", "trainer.tensorboard"),
        ("noequals", "key.sub=value"),
    ],
)
def test_bad_config_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_run_config({"method": "tiny"}, [override])


def test_model_section_validated_by_the_method():
    cfg = method_config(TinyMethod, {"ngf": 8})
    assert cfg.ngf == 8 and cfg.ndf == 4
    with pytest.raises(ConfigError, match=r"model\.nfg"):
        method_config(TinyMethod, {"nfg": 8})


def test_cli_errors_exit_nonzero(tmp_path, capsys, monkeypatch):
    from reenactor.cli import main
    from tiny_method import patch_registry

    patch_registry(monkeypatch)
    clip = make_clip(tmp_path / "clip", n=4)
    base = ["train", "--method", "tiny", "--target", str(clip.root), "-o", str(tmp_path / "run")]
    assert main([*base, "--set", "trainer.lrr=1"]) != 0
    assert "unknown config key(s): trainer.lrr" in capsys.readouterr().err
    assert main(["train", "--method", "nope", "--target", str(clip.root)]) != 0
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["train", "--method", "tiny", "-o", str(tmp_path / "r2")]) != 0
    assert "no target clip" in capsys.readouterr().err
    assert main(["train", "--method", "tiny", "--target", str(tmp_path / "missing")]) != 0
    assert "clip folder not found" in capsys.readouterr().err
    assert main([*base, "--batch-size", "3", "--set", "trainer.grad_accum=2", "--steps", "1"]) != 0
    assert "divisible" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  steps: [1\n")
    assert main([*base, "--config", str(bad)]) != 0
    assert "not valid YAML" in capsys.readouterr().err
    # a good YAML config + flags + --set, saved with the run
    good = tmp_path / "good.yaml"
    good.write_text(
        yaml.safe_dump(
            {
                "method": "tiny",
                "model": {"ngf": 8},
                "trainer": {"steps": 5, "progress": False, "tensorboard": False},
            }
        )
    )
    assert (
        main(
            [
                "train",
                "--config",
                str(good),
                "--target",
                str(clip.root),
                "-o",
                str(tmp_path / "ok"),
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--set",
                "trainer.lr=1e-3",
                "--size",
                "32",
            ]
        )
        == 0
    )
    saved = from_dict(RunConfig, load_yaml(tmp_path / "ok" / "config.yaml"))
    assert saved.trainer.steps == 2 and saved.trainer.lr == pytest.approx(1e-3) and saved.model["ngf"] == 8
    assert saved.model["size"] == 32 and saved.trainer.batch_size == 2


def test_train_help_explains_everything(capsys):
    from reenactor.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for word in (
        "--method",
        "--target",
        "--unpaired",
        "--size",
        "--steps",
        "--resume",
        "--precision",
        "--set",
        "--config",
        "torchrun",
        "model.safetensors",
        "tensorboard",
    ):
        assert word in out


def test_retired_keys_of_older_model_files_are_ignored_with_a_note(logged):
    """cloning's paired-only stage was a step count (model files keep their config): read, ignored, said."""
    from reenactor.methods.cloning.config import CloningConfig

    cfg = from_dict(CloningConfig, {"loss": {"paired_only_steps": 300, "lambda_s": 0.2}}, prefix="model.")
    assert cfg.loss.lambda_s == 0.2 and cfg.loss.paired_only == CloningConfig().loss.paired_only
    assert "`model.loss.paired_only_steps` is no longer used" in logged()
    with pytest.raises(ConfigError, match=r"model\.loss\.paired_onlyy"):
        from_dict(CloningConfig, {"loss": {"paired_onlyy": 0.3}}, prefix="model.")


def test_model_files_from_before_a_key_get_the_value_they_were_built_with():
    """single_shot's region colours became a key (on by default, 3 more condition channels in B2F); a stored config
    without it is the older network, through nested config classes; a stored value or a fresh config is left
    alone."""
    from reenactor.config import with_legacy
    from reenactor.methods.single_shot.config import SingleShotConfig

    stored = to_dict(SingleShotConfig())
    del stored["b2f"]["region_colour"]
    assert from_dict(SingleShotConfig, with_legacy(SingleShotConfig, stored)).b2f.region_colour is False
    assert from_dict(SingleShotConfig, stored).b2f.region_colour is True  # a user's config: today's default
    stored["b2f"]["region_colour"] = True
    assert with_legacy(SingleShotConfig, stored)["b2f"]["region_colour"] is True
    assert with_legacy(SingleShotConfig, {}) == {}  # no section: nothing to fill
