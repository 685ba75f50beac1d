"""The trainer: learning, exact resume, warm-up and freeze rules, validation, run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _engine_helpers import TINY, TinyCopyMove, tiny_config, write_generated_set
from safetensors.torch import load_file

from tamperscope.data.base import open_dataset
from tamperscope.engine import Trainer, TrainingError, train
from tamperscope.engine.config import ConfigError
from tamperscope.engine.schedules import (
    build_generator_optimizer,
    discriminator_may_update,
    in_warmup,
    split_backbone_parameters,
)
from tamperscope.registry import create_model, list_models, register_model


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _first_batch(trainer: Trainer) -> dict:
    return next(iter(trainer._train_loader()))


def test_repeated_batch_lowers_the_loss(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, loss={"adversarial": "none"})
    trainer = Trainer(cfg, tmp_path / "run")
    batch = _first_batch(trainer)
    losses = [trainer.train_step(batch)["g_total"] for _ in range(8)]
    assert losses[-1] < losses[0]


def test_resume_continues_exactly(generated_set: Path, tmp_path: Path) -> None:
    # 6 training samples, batch 2: 3 steps per epoch; the resume lands mid-epoch and the
    # 4 steps cross an epoch end (validation, plateau scheduler, best checkpoint).
    cfg = tiny_config(generated_set)
    one_go = train(cfg, tmp_path / "a", max_steps=4)
    first = train(cfg, tmp_path / "b", max_steps=2)
    assert first["step"] == 2
    resumed = train(cfg, tmp_path / "b", max_steps=4, resume=True)
    assert one_go["step"] == resumed["step"] == 4
    for name in ("model", "discriminator", "optimizer"):
        a = load_file(str(Path(one_go["checkpoint"]) / f"{name}.safetensors"))
        b = load_file(str(Path(resumed["checkpoint"]) / f"{name}.safetensors"))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}: {key} differs after resume"
    state_a = json.loads((Path(one_go["checkpoint"]) / "state.json").read_text())
    state_b = json.loads((Path(resumed["checkpoint"]) / "state.json").read_text())
    for key in ("step", "epoch", "batch_in_epoch", "best_metric", "schedulers", "rng", "history"):
        assert state_a[key] == state_b[key], key


def test_run_folder_contents(generated_set: Path, tmp_path: Path) -> None:
    summary = train(tiny_config(generated_set), tmp_path / "run", max_steps=3)
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "latest.txt").read_text().strip() == "step_00000003"
    assert (run / "checkpoints" / "best" / "model.safetensors").is_file()
    tags = {json.loads(line)["tag"] for line in (run / "scalars.jsonl").read_text().splitlines()}
    assert {"train/g_total", "train/d_loss", "val/loss", "val/f1_union", "val/f1_source"} <= tags
    val = summary["last_validation"]
    for key in ("val/f1_union", "val/f1_source", "val/f1_target"):
        assert val[key] is None or 0.0 <= val[key] <= 1.0
    assert val["val/auc"] is None or 0.0 <= val["val/auc"] <= 1.0
    assert json.loads((run / "summary.json").read_text())["step"] == 3


def test_warmup_epochs_train_the_generator_alone(generated_set: Path, tmp_path: Path) -> None:
    assert in_warmup(0, 2) and in_warmup(1, 2) and not in_warmup(2, 2)
    cfg = tiny_config(generated_set, train={"warmup_epochs": 1})
    trainer = Trainer(cfg, tmp_path / "run")
    assert trainer.discriminator is not None
    batch = _first_batch(trainer)
    d_before = _params(trainer.discriminator)
    stats = trainer.train_step(batch)
    assert "d_loss" not in stats and "g_adv" not in stats
    assert _same(d_before, _params(trainer.discriminator))
    trainer.epoch = 1
    stats = trainer.train_step(batch)
    assert stats["d_updated"] == 1.0 and "g_adv" in stats
    assert not _same(d_before, _params(trainer.discriminator))


def test_discriminator_is_frozen_while_its_loss_is_low(generated_set: Path, tmp_path: Path) -> None:
    assert not discriminator_may_update(0.29, 0.3)
    assert discriminator_may_update(0.3, 0.3) and discriminator_may_update(0.9, 0.3)
    frozen = Trainer(tiny_config(generated_set, train={"d_freeze_below": 1e9}), tmp_path / "a")
    assert frozen.discriminator is not None
    before = _params(frozen.discriminator)
    stats = frozen.train_step(_first_batch(frozen))
    assert stats["d_updated"] == 0.0 and stats["d_loss"] > 0
    assert _same(before, _params(frozen.discriminator))
    live = Trainer(tiny_config(generated_set, train={"d_freeze_below": 0.0}), tmp_path / "b")
    assert live.discriminator is not None
    before = _params(live.discriminator)
    assert live.train_step(_first_batch(live))["d_updated"] == 1.0
    assert not _same(before, _params(live.discriminator))


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
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())


def test_one_class_model_trains(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, model={"name": TINY, "kwargs": {"num_classes": 1}})
    summary = train(cfg, tmp_path / "run", max_steps=3)
    assert "val/f1_source" not in summary["last_validation"]
    assert summary["last_validation"]["val/loss"] > 0


def test_early_stopping_on_a_loss_that_cannot_improve(generated_set: Path, tmp_path: Path) -> None:
    # lr 0 leaves the model as it is: the validation loss never improves after epoch 1.
    cfg = tiny_config(
        generated_set,
        optim={"lr_generator": 0.0, "lr_backbone": 0.0, "lr_discriminator": 0.0},
        train={"epochs": 10, "early_stopping_patience": 2, "monitor": "loss"},
        loss={"adversarial": "none"},
    )
    summary = train(cfg, tmp_path / "run")
    assert summary["stopped_early"] is True
    assert summary["epoch"] == 3 and summary["best_step"] == 3


def test_error_paths(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set)
    train(cfg, tmp_path / "run", max_steps=1)
    with pytest.raises(TrainingError, match="already holds checkpoints; pass --resume"):
        Trainer(cfg, tmp_path / "run")
    with pytest.raises(TrainingError, match="no checkpoint to resume from"):
        Trainer(cfg, tmp_path / "empty", resume=True)
    with pytest.raises(TrainingError, match="no training data: set data.train_roots"):
        Trainer(tiny_config(generated_set, data={"train_roots": []}), tmp_path / "x")
    with pytest.raises(TrainingError, match="fewer than one batch of 16"):
        Trainer(tiny_config(generated_set, data={"batch_size": 16}), tmp_path / "y")
    with pytest.raises(
        ConfigError, match=r"train.monitor='f2' is not a validation quantity.*f1_union"
    ):
        Trainer(tiny_config(generated_set, train={"monitor": "f2"}), tmp_path / "z")
    with pytest.raises(ConfigError, match="model.discriminator must be one of"):
        Trainer(tiny_config(generated_set, model={"discriminator": "unet"}), tmp_path / "t")
    with pytest.raises(ConfigError, match="loss.localization: unknown loss 'dise'"):
        Trainer(
            tiny_config(generated_set, loss={"localization": [{"name": "dise"}]}), tmp_path / "w"
        )
    with pytest.raises(ConfigError, match="loss.adversarial must be one of"):
        Trainer(tiny_config(generated_set, loss={"adversarial": "wgan"}), tmp_path / "v")


class _ThreeChannels(TinyCopyMove):
    """Ignores num_classes: always 3 mask channels."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["num_classes"] = 3
        super().__init__(**kwargs)


if "engine-test-three-channels" not in list_models():
    register_model("engine-test-three-channels", task="copy_move")(_ThreeChannels)


def test_model_and_data_class_counts_must_agree(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(
        generated_set, model={"name": "engine-test-three-channels", "kwargs": {"num_classes": 1}}
    )
    with pytest.raises(
        TrainingError, match="model has 3 mask channels but the data pipeline builds 1"
    ):
        Trainer(cfg, tmp_path / "run")


def test_multiple_train_roots_are_concatenated(tmp_path: Path) -> None:
    a = write_generated_set(tmp_path / "a", 4, seed=1, negatives=1)
    b = write_generated_set(tmp_path / "b", 4, seed=2, negatives=1)
    cfg = tiny_config(a, data={"train_roots": [str(a), str(b)], "val_roots": [str(b)]})
    trainer = Trainer(cfg, tmp_path / "run")
    assert len(trainer.train_data) == 8
    assert trainer.val_data is not None and len(trainer.val_data) == len(
        open_dataset("generated", b)
    )


def test_resume_refuses_another_models_checkpoint(generated_set: Path, tmp_path: Path) -> None:
    train(tiny_config(generated_set), tmp_path / "run", max_steps=1)
    other = tiny_config(generated_set, model={"name": "engine-test-three-channels"})
    with pytest.raises(
        TrainingError, match="checkpoint of model 'engine-test-tiny', but the config"
    ):
        Trainer(other, tmp_path / "run", resume=True)


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
