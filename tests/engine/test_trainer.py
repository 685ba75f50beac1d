"""The training loop: exact resume, run folder, pruning, schedules, early stopping, recipe
selection and the errors of a run (with the DOA-GAN recipe on the tiny copy-move model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from _engine_helpers import (
    THREE_CHANNELS,
    TINY,
    TinyCopyMove,
    assert_same_checkpoints,
    tiny_config,
    train_with_resume,
    write_generated_set,
)

from _pair_helpers import TINY_PAIR
from tamperscope.data.base import open_dataset
from tamperscope.engine import (
    ConfigError,
    DmacRecipe,
    DoaganRecipe,
    MvssRecipe,
    Trainer,
    TrainingError,
    get_recipe,
    list_recipes,
    recipe_for,
    train,
)
from tamperscope.registry import list_models, register_model

NOT_TRAINABLE = "engine-test-not-trainable"
LOCALIZER = "engine-test-localizer"
BOX_DETECTOR = "engine-test-box-detector"

if NOT_TRAINABLE not in list_models():
    register_model(
        NOT_TRAINABLE,
        task="copy_move",
        trainable=False,
        not_trainable_reason="it has no parameters to learn",
    )(TinyCopyMove)
if LOCALIZER not in list_models():
    register_model(LOCALIZER, task="localization")(TinyCopyMove)
if BOX_DETECTOR not in list_models():
    register_model(BOX_DETECTOR, task="inpainting_box")(TinyCopyMove)


def _scalars(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "scalars.jsonl").read_text().splitlines()]


def test_resume_continues_exactly(generated_set: Path, tmp_path: Path) -> None:
    # 6 training samples, batch 2: 3 steps per epoch; the resume lands mid-epoch and the
    # 4 steps cross an epoch end (validation, plateau scheduler, best checkpoint).
    cfg = tiny_config(generated_set)
    one_go, resumed = train_with_resume(cfg, tmp_path, steps=4, stop=2)
    keys = ("step", "epoch", "batch_in_epoch", "best_metric", "schedulers", "rng", "history")
    state = assert_same_checkpoints(one_go["checkpoint"], resumed["checkpoint"], keys)
    assert set(state["schedulers"]) == {"generator", "discriminator"}
    # The logged losses of the resumed steps are those of the uninterrupted run.
    losses_a = [r for r in _scalars(tmp_path / "a") if r["tag"] == "train/g_total"]
    losses_b = [r for r in _scalars(tmp_path / "b") if r["tag"] == "train/g_total"]
    assert losses_a == losses_b


def test_run_folder_contents(generated_set: Path, tmp_path: Path) -> None:
    # A validation set with forged and pristine images: every quantity is defined.
    val = write_generated_set(tmp_path / "val", 4, seed=1, negatives=2)
    cfg = tiny_config(generated_set, data={"val_roots": [str(val)]})
    summary = train(cfg, tmp_path / "run", max_steps=5)
    run = tmp_path / "run"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["recipe"] == "doagan" and summary["recipe"] == "doagan"
    assert (run / "checkpoints" / "latest.txt").read_text().strip() == "step_00000005"
    assert (run / "checkpoints" / "best" / "model.safetensors").is_file()
    tags = {r["tag"] for r in _scalars(run)}
    assert {"train/g_total", "train/d_loss", "val/loss", "val/f1_union", "val/f1_source"} <= tags
    assert {"lr/generator", "val/auc"} <= tags
    val_record = summary["last_validation"]
    assert val_record["epoch"] == 0 and val_record["step"] == 4
    for key in ("val/f1_union", "val/f1_pristine", "val/f1_source", "val/f1_target", "val/auc"):
        assert isinstance(val_record[key], float), key
        assert 0.0 <= val_record[key] <= 1.0, key
    assert val_record["val/loss"] > 0
    state = json.loads((run / "checkpoints" / "step_00000005" / "state.json").read_text())
    assert state["recipe"] == "doagan" and state["classes"] == ["pristine", "source", "target"]
    assert state["batch_in_epoch"] == 1 and state["epoch"] == 1
    assert json.loads((run / "summary.json").read_text())["step"] == 5


def test_old_step_checkpoints_are_pruned(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, train={"checkpoint_every": 1, "keep_checkpoints": 2})
    train(cfg, tmp_path / "run", max_steps=5)
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if p.is_dir())
    assert kept == ["best", "step_00000004", "step_00000005"]


def test_plateau_scheduler_follows_the_validation_loss(generated_set: Path, tmp_path: Path) -> None:
    # Rates this small leave the validation loss where it is: it stops improving after the
    # first epoch, and with no patience the rates are halved at every later epoch end.
    cfg = tiny_config(
        generated_set,
        model={"bn_track_running_stats": False},  # no running statistics moving either
        optim={"lr_generator": 1e-12, "lr_backbone": 1e-12, "plateau_patience": 0, "min_lr": 0},
        loss={"adversarial": "none"},
    )
    summary = train(cfg, tmp_path / "run")
    assert summary["epoch"] == 3
    rates = [r["value"] for r in _scalars(tmp_path / "run") if r["tag"] == "lr/generator"]
    assert rates == pytest.approx([1e-12, 5e-13, 2.5e-13])


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
    with pytest.raises(TrainingError, match="6 training samples, fewer than one batch of 16"):
        Trainer(tiny_config(generated_set, data={"batch_size": 16}), tmp_path / "y")
    with pytest.raises(
        ConfigError,
        match=r"train.monitor='f2' is not a validation quantity of the doagan recipe.*f1_union",
    ):
        Trainer(tiny_config(generated_set, train={"monitor": "f2"}), tmp_path / "z")


def test_untrainable_models_are_refused(generated_set: Path, tmp_path: Path) -> None:
    cfg = tiny_config(generated_set, model={"name": NOT_TRAINABLE})
    with pytest.raises(
        TrainingError,
        match=f"model '{NOT_TRAINABLE}' is not trained as a whole: it has no parameters to learn",
    ):
        Trainer(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


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
    other = tiny_config(generated_set, model={"name": THREE_CHANNELS})
    with pytest.raises(
        TrainingError, match="checkpoint of model 'engine-test-tiny', but the config"
    ):
        Trainer(other, tmp_path / "run", resume=True)


def test_resume_refuses_another_recipes_checkpoint(generated_set: Path, tmp_path: Path) -> None:
    summary = train(tiny_config(generated_set), tmp_path / "run", max_steps=1)
    state_file = Path(summary["checkpoint"]) / "state.json"
    state = json.loads(state_file.read_text())
    state["recipe"] = "dmac"
    state_file.write_text(json.dumps(state))
    with pytest.raises(
        TrainingError, match="checkpoint of a dmac run, but the config trains with the doagan"
    ):
        Trainer(tiny_config(generated_set), tmp_path / "run", resume=True)


# ----------------------------------------------------------------------------- recipes


def test_recipe_comes_from_the_models_registered_task() -> None:
    assert list_recipes() == ["dmac", "doagan", "mvss"]
    assert get_recipe("doagan") is DoaganRecipe and get_recipe("dmac") is DmacRecipe
    assert recipe_for(tiny_config(Path("."), model={"name": LOCALIZER})) is MvssRecipe
    assert recipe_for(tiny_config(Path("."))) is DoaganRecipe
    assert recipe_for(tiny_config(Path("."), model={"name": TINY_PAIR})) is DmacRecipe
    named = tiny_config(Path("."), model={"name": "dmac-vgg16"}, recipe="dmac")
    assert named.recipe == "dmac" and recipe_for(named) is DmacRecipe


def test_recipe_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown recipe 'doagn'; did you mean 'doagan'\?"):
        recipe_for(tiny_config(Path("."), recipe="doagn"))
    with pytest.raises(
        ConfigError,
        match=(
            f"recipe 'dmac' trains pair models, but model '{TINY}' is a copy_move model; "
            "use recipe: doagan or leave recipe unset"
        ),
    ):
        recipe_for(tiny_config(Path("."), recipe="dmac"))
    with pytest.raises(
        ConfigError, match=f"recipe 'doagan' trains copy_move models, but model '{TINY_PAIR}'"
    ):
        recipe_for(tiny_config(Path("."), model={"name": TINY_PAIR}, recipe="doagan"))
    with pytest.raises(
        ConfigError,
        match=f"no training recipe for inpainting_box models such as '{BOX_DETECTOR}'",
    ):
        recipe_for(tiny_config(Path("."), model={"name": BOX_DETECTOR}))
    with pytest.raises(KeyError, match="unknown model 'doagan-nope'"):
        recipe_for(tiny_config(Path("."), model={"name": "doagan-nope"}))


def test_the_loop_refuses_a_mismatched_recipe_before_anything(
    generated_set: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="recipe 'dmac' trains pair models"):
        Trainer(tiny_config(generated_set, recipe="dmac"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
