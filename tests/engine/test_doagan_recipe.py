"""The DOA-GAN recipe: learning, warm-up and freeze rules, loss terms, class counts,
BatchNorm without running statistics, init_weights, config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _engine_helpers import THREE_CHANNELS, TINY, tiny_config
from safetensors.torch import load_file

from tamperscope.engine import ConfigError, DoaganRecipe, Trainer, TrainingError, train
from tamperscope.engine.schedules import (
    build_generator_optimizer,
    discriminator_may_update,
    in_warmup,
    split_backbone_parameters,
)
from tamperscope.registry import create_model


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _first_batch(trainer: Trainer) -> dict:
    return next(iter(trainer.train_loader()))


def _recipe(trainer: Trainer) -> DoaganRecipe:
    assert isinstance(trainer.recipe, DoaganRecipe)
    return trainer.recipe


def test_repeated_batch_lowers_the_loss(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, loss={"adversarial": "none"})
    trainer = Trainer(cfg, tmp_path / "run")
    assert _recipe(trainer).discriminator is None
    batch = _first_batch(trainer)
    losses = [trainer.train_step(batch)["g_total"] for _ in range(8)]
    assert losses[-1] < losses[0]


def test_warmup_epochs_train_the_generator_alone(generated_set: Path, tmp_path: Path) -> None:
    assert in_warmup(0, 2) and in_warmup(1, 2) and not in_warmup(2, 2)
    cfg = tiny_config(generated_set, doagan={"warmup_epochs": 1})
    trainer = Trainer(cfg, tmp_path / "run")
    recipe = _recipe(trainer)
    assert recipe.discriminator is not None
    assert not recipe.adversarial_active(0) and recipe.adversarial_active(1)
    batch = _first_batch(trainer)
    d_before = _params(recipe.discriminator)
    stats = trainer.train_step(batch)
    assert "d_loss" not in stats and "g_adv" not in stats
    assert _same(d_before, _params(recipe.discriminator))
    trainer.epoch = 1
    stats = trainer.train_step(batch)
    assert stats["d_updated"] == 1.0 and "g_adv" in stats
    assert not _same(d_before, _params(recipe.discriminator))


def test_discriminator_is_frozen_while_its_loss_is_low(generated_set: Path, tmp_path: Path) -> None:
    assert not discriminator_may_update(0.29, 0.3)
    assert discriminator_may_update(0.3, 0.3) and discriminator_may_update(0.9, 0.3)
    frozen = Trainer(tiny_config(generated_set, doagan={"d_freeze_below": 1e9}), tmp_path / "a")
    disc = _recipe(frozen).discriminator
    assert disc is not None
    before = _params(disc)
    stats = frozen.train_step(_first_batch(frozen))
    assert stats["d_updated"] == 0.0 and stats["d_loss"] > 0
    assert _same(before, _params(disc))
    live = Trainer(tiny_config(generated_set, doagan={"d_freeze_below": 0.0}), tmp_path / "b")
    disc = _recipe(live).discriminator
    assert disc is not None
    before = _params(disc)
    assert live.train_step(_first_batch(live))["d_updated"] == 1.0
    assert not _same(before, _params(disc))


def test_backbone_gets_its_own_learning_rate() -> None:
    model = create_model(TINY, num_classes=3)
    backbone, rest = split_backbone_parameters(model, "backbone")
    assert len(backbone) == 4 and len(rest) == 4  # conv + BN weights/biases vs heads
    opt = build_generator_optimizer(model, tiny_config(Path(".")).optim)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"generator": 1e-3, "backbone": 1e-4}
    assert opt.defaults["betas"] == (0.9, 0.999)


def test_bn_without_running_stats(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, model={"bn_track_running_stats": False})
    summary = train(cfg, tmp_path / "run", max_steps=1)
    tensors = load_file(str(Path(summary["checkpoint"]) / "model.safetensors"))
    assert not any("running_mean" in k for k in tensors)
    bn = Trainer(cfg, tmp_path / "other").model.backbone[1]
    assert bn.track_running_stats is False and bn.running_mean is None


@pytest.mark.parametrize(
    "localization",
    [
        [{"name": "focal", "weight": 1.0, "gamma": 2.0, "class_weights": [1.0, 10.0, 10.0]}],
        [{"name": "dice", "weight": 1.0}, {"name": "boundary", "weight": 0.01}],
        [{"name": "generalized_dice", "weight": 1.0}, {"name": "ce", "weight": 1.0}],
    ],
)
def test_loss_terms_from_config(generated_set: Path, tmp_path: Path, localization: list) -> None:
    cfg = tiny_config(generated_set, loss={"localization": localization, "adversarial": "lsgan"})
    trainer = Trainer(cfg, tmp_path / "run")
    stats = trainer.train_step(_first_batch(trainer))
    for term in localization:
        assert f"loc_{term['name']}" in stats
    assert {"g_adv", "d_loss"} <= set(stats)
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())


def test_one_class_model_trains(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, model={"name": TINY, "kwargs": {"num_classes": 1}})
    summary = train(cfg, tmp_path / "run", max_steps=3)
    assert "val/f1_source" not in summary["last_validation"]
    assert summary["last_validation"]["val/loss"] > 0


def test_config_errors(generated_set: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="doagan.discriminator must be one of"):
        Trainer(tiny_config(generated_set, doagan={"discriminator": "unet"}), tmp_path / "t")
    with pytest.raises(ConfigError, match="loss.localization: unknown loss 'dise'"):
        Trainer(
            tiny_config(generated_set, loss={"localization": [{"name": "dise"}]}), tmp_path / "w"
        )
    with pytest.raises(ConfigError, match="loss.adversarial must be one of"):
        Trainer(tiny_config(generated_set, loss={"adversarial": "wgan"}), tmp_path / "v")


def test_model_and_data_class_counts_must_agree(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, model={"name": THREE_CHANNELS, "kwargs": {"num_classes": 1}})
    with pytest.raises(
        TrainingError, match="model has 3 mask channels but the data pipeline builds 1"
    ):
        Trainer(cfg, tmp_path / "run")


def test_init_weights_starts_from_a_weights_file(generated_set: Path, tmp_path: Path) -> None:
    from tamperscope.engine import export_weights

    first = train(tiny_config(generated_set), tmp_path / "a", max_steps=2)
    weights = export_weights(first["checkpoint"], tmp_path / "a.safetensors")
    trained = load_file(str(weights))
    cfg = tiny_config(generated_set, model={"init_weights": str(weights)})
    trainer = Trainer(cfg, tmp_path / "b")
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
    fresh = Trainer(tiny_config(generated_set), tmp_path / "c")
    assert not all(
        torch.equal(v, trained[k]) for k, v in fresh.model.state_dict().items() if k in trained
    )


def test_init_weights_errors(generated_set: Path, tmp_path: Path) -> None:
    from tamperscope.weights.weights import get_weight_spec

    cases = [
        ("shipped", f"model {TINY!r} ships no weights"),
        (str(tmp_path / "none.safetensors"), "does not exist"),
        (
            str(get_weight_spec("dmac-effnet-lite0").path),
            f"holds weights of model 'dmac-effnet-lite0', not of model {TINY!r}",
        ),
    ]
    for i, (init, message) in enumerate(cases):
        cfg = tiny_config(generated_set, model={"init_weights": init})
        with pytest.raises(TrainingError, match=message):
            Trainer(cfg, tmp_path / f"run{i}")
