"""Config dataclasses: defaults, YAML and --set overrides, type coercion, key errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tamperscope.engine.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from tamperscope.engine.recipes import recipe_for

REPO = Path(__file__).resolve().parents[2]


def test_defaults_follow_the_doagan_recipe() -> None:
    cfg = load_config()
    assert cfg.optim.lr_generator == 1e-3
    assert cfg.optim.lr_discriminator == 1e-4
    assert cfg.optim.lr_backbone == 1e-4
    assert cfg.optim.betas == [0.9, 0.999]
    assert cfg.optim.plateau_factor == 0.5
    assert cfg.doagan.d_freeze_below == 0.3 and cfg.doagan.warmup_epochs == 2
    assert cfg.doagan.discriminator == "patchgan"
    assert cfg.loss.localization == [{"name": "weighted_ce", "weight": 1.0}]
    assert cfg.recipe == ""  # the recipe of the model's registered task


def test_yaml_overrides_defaults_and_set_overrides_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "optim:\n  lr_generator: 5e-4\n  lr_backbone: 2.0e-5\ntrain:\n  epochs: 7\n"
        "data:\n  attacks: [jpeg:70]\n"
    )
    cfg = load_config(path, ["train.epochs=3", "model.kwargs.num_classes=1", "data.hflip=0"])
    # PyYAML reads "5e-4" as a string; the float field coerces it.
    assert cfg.optim.lr_generator == pytest.approx(5e-4)
    assert cfg.optim.lr_backbone == pytest.approx(2e-5)
    assert cfg.train.epochs == 3
    assert cfg.model.kwargs == {"num_classes": 1}
    assert cfg.data.hflip == 0.0 and isinstance(cfg.data.hflip, float)
    assert cfg.data.attacks == ["jpeg:70"]
    assert cfg.optim.lr_discriminator == 1e-4  # untouched default


def test_override_parses_lists_and_mappings() -> None:
    cfg = apply_overrides(
        ExperimentConfig(),
        [
            "loss.localization=[{name: dice, weight: 0.5}, {name: boundary, weight: 0.1}]",
            "data.train_roots=[a, b]",
            "train.deterministic=true",
        ],
    )
    assert [t["name"] for t in cfg.loss.localization] == ["dice", "boundary"]
    assert cfg.data.train_roots == ["a", "b"]
    assert cfg.train.deterministic is True


def test_unknown_yaml_key_names_it_and_lists_known_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr_generatr: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'optim.lr_generatr'.*lr_generator"):
        load_config(path)


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("optimizer: {}\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown config key 'optimizer'.*model, data, loss, optim, train, doagan, pairs",
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        (
            "train.epochz=3",
            r"unknown config key 'train.epochz'; known keys in section 'train': epochs",
        ),
        ("trian.epochs=3", r"unknown config key 'trian'; known keys in the top level: model"),
        ("train.epochs", r"must look like section.key=value"),
        ("train.epochs=three", r"'train.epochs' expects a number, got 'three'"),
        ("train.epochs=2.5", r"'train.epochs' expects an integer"),
        ("train.progress=maybe", r"'train.progress' expects true or false"),
        ("data.train_roots=5", r"'data.train_roots' expects a list"),
        ("train.epochs.x=1", r"'train.epochs' is not a section or mapping"),
        ("train=3", r"config key 'train' is a section"),
    ],
)
def test_bad_overrides_give_clear_errors(override: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        apply_overrides(ExperimentConfig(), [override])


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("3\n")
    with pytest.raises(ConfigError, match="must be a mapping of sections"):
        load_config(scalar)


def test_saved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(None, ["optim.lr_generator=0.002", "data.val_roots=[v]"])
    save_config(cfg, tmp_path / "run" / "config.yaml")
    again = load_config(tmp_path / "run" / "config.yaml")
    assert config_to_dict(again) == config_to_dict(cfg)
    assert (
        yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["optim"]["lr_generator"]
        == 0.002
    )


@pytest.mark.parametrize(
    ("name", "adversarial"),
    [
        ("doagan_effnet_lite0.yaml", "none"),
        ("doagan_effnet_lite0_blend.yaml", "none"),
        ("doagan_vgg19.yaml", "vanilla"),
    ],
)
def test_shipped_doagan_configs_parse(name: str, adversarial: str) -> None:
    cfg = load_config(REPO / "configs" / name)
    assert cfg.recipe == "doagan" and recipe_for(cfg).name == "doagan"
    assert cfg.model.name.startswith("doagan-")
    assert cfg.model.kwargs["num_classes"] == 3
    assert cfg.loss.adversarial == adversarial
    assert cfg.doagan.discriminator == "patchgan" and cfg.doagan.warmup_epochs >= 1


@pytest.mark.parametrize("name", ["dmac_vgg16.yaml", "dmac_effnet_lite0.yaml"])
def test_shipped_dmac_configs_parse(name: str) -> None:
    cfg = load_config(REPO / "configs" / name)
    assert cfg.recipe == "dmac" and recipe_for(cfg).name == "dmac"
    assert cfg.model.name.startswith("dmac-") and cfg.data.reader == "generated-pairs"
    assert cfg.train.monitor == "iou" and cfg.pairs.lambda_det == 0.01


def test_configs_of_earlier_runs_still_load(tmp_path: Path) -> None:
    # The layout of run folders' config.yaml before recipes owned their sections.
    old = tmp_path / "config.yaml"
    old.write_text(
        "task: copy_move\n"
        "model:\n  name: doagan-vgg19\n  discriminator: none\n"
        "  discriminator_kwargs: {channels: [8, 1]}\n"
        "train:\n  warmup_epochs: 5\n  d_freeze_below: 0.1\n  epochs: 4\n"
    )
    cfg = load_config(old)
    assert cfg.recipe == "doagan" and cfg.train.epochs == 4
    assert cfg.doagan.discriminator == "none"
    assert cfg.doagan.discriminator_kwargs == {"channels": [8, 1]}
    assert cfg.doagan.warmup_epochs == 5 and cfg.doagan.d_freeze_below == 0.1
    assert config_from_dict({"task": "pairs"}).recipe == "dmac"
    assert config_from_dict({"task": "auto"}).recipe == ""
    # --set with the earlier keys too
    cfg = load_config(None, ["model.discriminator=none", "train.warmup_epochs=0", "task=pairs"])
    assert cfg.doagan.discriminator == "none" and cfg.doagan.warmup_epochs == 0
    assert cfg.recipe == "dmac"
    cfg = load_config(None, ["model.discriminator_kwargs.channels=[4, 1]"])
    assert cfg.doagan.discriminator_kwargs == {"channels": [4, 1]}
    # The saved form has the new layout only.
    save_config(cfg, tmp_path / "new.yaml")
    saved = yaml.safe_load((tmp_path / "new.yaml").read_text())
    assert "task" not in saved and "discriminator" not in saved["model"]
    assert "warmup_epochs" not in saved["train"] and saved["doagan"]["warmup_epochs"] == 2


def test_earlier_keys_beside_the_new_ones_are_refused() -> None:
    with pytest.raises(ConfigError, match="task must be one of auto, copy_move, pairs"):
        config_from_dict({"task": "splicing"})
    with pytest.raises(ConfigError, match="config key 'task' is now 'recipe'; give only 'recipe'"):
        config_from_dict({"task": "pairs", "recipe": "dmac"})
    with pytest.raises(
        ConfigError,
        match="config key 'train.warmup_epochs' is now 'doagan.warmup_epochs'; give only",
    ):
        config_from_dict({"train": {"warmup_epochs": 1}, "doagan": {"warmup_epochs": 2}})
