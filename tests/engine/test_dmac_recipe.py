"""The DMAC recipe: phases, exact resume, validation, CLI dispatch by task, export, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from _engine_helpers import (
    TINY,
    assert_same_checkpoints,
    bsds500_photos,
    train_with_resume,
    write_generated_set,
)
from safetensors.torch import load_file
from typer.testing import CliRunner

from _pair_helpers import TINY_PAIR, make_pair_set, tiny_pair_config
from tamperscope.api import load_model
from tamperscope.cli import app
from tamperscope.data.base import open_dataset
from tamperscope.engine import (
    ConfigError,
    DmacRecipe,
    Trainer,
    TrainingError,
    config_to_dict,
    export_weights,
    train,
)
from tamperscope.engine.distributed import DistributedContext

runner = CliRunner()


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 64x64 splice pairs (two foreground, two background, two negative)."""
    return make_pair_set(tmp_path_factory.mktemp("pairs") / "sp", n=6, seed=3)


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _recipe(trainer: Trainer) -> DmacRecipe:
    assert isinstance(trainer.recipe, DmacRecipe)
    return trainer.recipe


def test_pair_configs_select_the_dmac_recipe(tmp_path: Path, pair_set: Path) -> None:
    cfg = tiny_pair_config(pair_set)
    assert cfg.recipe == "dmac"
    saved = Trainer(cfg, tmp_path / "run")
    assert isinstance(saved.recipe, DmacRecipe) and saved.recipe.schedulers == {}
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["recipe"] == "dmac"


# ----------------------------------------------------------------------------- phases


def test_phases_update_the_right_networks(pair_set: Path, tmp_path: Path) -> None:
    cfg = tiny_pair_config(pair_set, pairs={"k": 2, "pretrain_epochs": 1})
    trainer = Trainer(cfg, tmp_path / "run")
    recipe = _recipe(trainer)
    batch = next(iter(trainer.train_loader()))

    def step() -> tuple[bool, bool, dict]:
        model, adv = _params(trainer.model), _params(recipe.adversaries)
        stats = trainer.train_step(batch)
        return (
            not _same(model, _params(trainer.model)),
            not _same(adv, _params(recipe.adversaries)),
            stats,
        )

    model_moved, adv_moved, stats = step()
    assert model_moved and not adv_moved and set(stats) >= {"g_total", "ce"}
    assert recipe.pretraining(0) and recipe.model_optimizer(0) is recipe.opt_pretrain
    trainer.epoch = 1  # adversarial phase: k = 2 Det/Dis updates, then one DMAC update
    assert not recipe.pretraining(1) and recipe.model_optimizer(1) is recipe.opt_model
    pattern = []
    for _ in range(6):
        model_moved, adv_moved, stats = step()
        assert model_moved != adv_moved
        assert {"ce", "det", "dis", "g_total"} <= set(stats)
        if adv_moved:
            assert {"det_loss", "dis_loss"} <= set(stats)
        pattern.append(int(model_moved))
    assert pattern == [0, 0, 1, 0, 0, 1]
    assert recipe.adv_step == 6


def test_pretraining_lowers_the_cross_entropy(pair_set: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny_pair_config(pair_set), tmp_path / "run")
    batch = next(iter(trainer.train_loader()))
    losses = [trainer.train_step(batch)["ce"] for _ in range(6)]
    assert losses[-1] < losses[0]


# ----------------------------------------------------------------------------- resume


def test_resume_continues_exactly(pair_set: Path, tmp_path: Path) -> None:
    # 4 training pairs, batch 2: 2 steps per epoch; epoch 0 pretrains, then Det/Dis and DMAC
    # alternate. The resume lands mid-epoch in the adversarial phase, between a Det/Dis step
    # and a DMAC step, and the run crosses an epoch end (validation, best checkpoint).
    cfg = tiny_pair_config(pair_set)
    one_go, resumed = train_with_resume(cfg, tmp_path, steps=5, stop=3)
    keys = ("step", "epoch", "batch_in_epoch", "adv_step", "best_metric", "rng", "history")
    state = assert_same_checkpoints(one_go["checkpoint"], resumed["checkpoint"], keys)
    assert state["adv_step"] == 3
    assert {"detector.classifier.1.weight", "discriminator.fc.weight_orig"} <= set(
        load_file(str(Path(one_go["checkpoint"]) / "discriminator.safetensors"))
    )


def test_run_folder_and_validation(pair_set: Path, tmp_path: Path) -> None:
    # Validation pairs of both labels (a foreground, a background and a negative pair):
    # every quantity is defined.
    val = make_pair_set(tmp_path / "val", n=3, seed=8)
    cfg = tiny_pair_config(pair_set, data={"val_roots": [str(val)]})
    summary = train(cfg, tmp_path / "run", max_steps=6)
    run = tmp_path / "run"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["recipe"] == "dmac" and saved["pairs"]["lambda_det"] == 0.01
    assert "task" not in saved
    assert (run / "checkpoints" / "latest.txt").read_text().strip() == "step_00000006"
    assert (run / "checkpoints" / "best" / "model.safetensors").is_file()
    tags = {json.loads(line)["tag"] for line in (run / "scalars.jsonl").read_text().splitlines()}
    assert {"train/ce", "train/g_total", "train/det_loss", "train/dis_loss", "val/iou"} <= tags
    assert {"val/loss", "val/mcc", "val/nmm", "val/f1"} <= tags
    record = summary["last_validation"]
    assert record["epoch"] == 1 and record["val/loss"] > 0
    for key in ("val/iou", "val/f1", "val/auc"):
        assert isinstance(record[key], float) and 0.0 <= record[key] <= 1.0, key
    assert isinstance(record["val/mcc"], float) and -1.0 <= record["val/mcc"] <= 1.0
    assert isinstance(record["val/nmm"], float) and -1.0 <= record["val/nmm"] <= 1.0
    assert summary["monitor"] == "iou" and summary["best_step"] in (3, 6)
    state = json.loads((run / "checkpoints" / "step_00000006" / "state.json").read_text())
    assert state["recipe"] == "dmac" and state["classes"] == ["not_shared", "shared"]
    assert state["discriminator"]["kind"] == "dmac-adversaries"
    assert state["schedulers"] == {} and state["adv_step"] == 3


# ----------------------------------------------------------------------------- CLI, export


def test_cli_dispatches_pairs_and_exports_weights(pair_set: Path, tmp_path: Path) -> None:
    values = config_to_dict(tiny_pair_config(None))
    del values["recipe"]  # the registered task of the model (pair) picks the recipe
    recipe = tmp_path / "pairs.yaml"
    recipe.write_text(yaml.safe_dump(values))
    run_dir, weights = tmp_path / "runs" / "tiny", tmp_path / "tiny.safetensors"
    args = ["train", "--config", str(recipe), "--set", f"data.train_roots=[{pair_set}]"]
    res = runner.invoke(app, [*args, "--run-dir", str(run_dir), "--max-steps", "2"])
    assert res.exit_code == 0, res.output
    assert "trained 2 steps" in res.output and "best iou" in res.output
    res = runner.invoke(
        app,
        [
            "train",
            "--resume",
            "--run-dir",
            str(run_dir),
            "--max-steps",
            "3",
            "--export",
            str(weights),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "trained 3 steps" in res.output

    detector = load_model(weights=weights, device="cpu")
    assert detector.name == TINY_PAIR and detector.long_side == 32
    trained = load_file(str(run_dir / "checkpoints" / "step_00000003" / "model.safetensors"))
    for key, value in detector.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
    probe = pair_set / "probes" / "000000.png"
    donor = pair_set / "donors" / "000000.png"
    out = tmp_path / "analysis"
    res = runner.invoke(
        app,
        ["analyze-pair", str(probe), str(donor), "--weights", str(weights), "--size", "32"]
        + ["--device", "cpu", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((out / "000000_000000.json").read_text())
    assert report["model"] == TINY_PAIR and 0.0 <= report["detection"]["pair_score"] <= 1.0


def test_dmac_trains_and_its_export_loads(pair_set: Path, tmp_path: Path) -> None:
    cfg = tiny_pair_config(
        pair_set,
        model={"name": "dmac-vgg16", "kwargs": {"pretrained_backbone": False}},
        data={"val_fraction": 0.0, "batch_size": 2},
        pairs={"detector_kwargs": {}, "discriminator_kwargs": {}},
    )
    summary = train(cfg, tmp_path / "run", max_steps=1)
    weights = export_weights(summary["checkpoint"], tmp_path / "dmac.safetensors")
    detector = load_model(weights=weights, device="cpu")
    trained = load_file(str(Path(summary["checkpoint"]) / "model.safetensors"))
    assert detector.name == "dmac-vgg16"
    assert torch.equal(
        detector.model.state_dict()["classifier.branches.0.0.weight"],
        trained["classifier.branches.0.0.weight"],
    )
    res = runner.invoke(
        app,
        ["analyze-pair", str(pair_set / "probes" / "000003.png")]
        + [str(pair_set / "donors" / "000003.png"), "--weights", str(weights)]
        + ["--size", "32", "--device", "cpu"],
    )
    assert res.exit_code == 0, res.output
    assert "pair score" in res.output


def test_freeze_backbone_trains_only_the_classifier(pair_set: Path, tmp_path: Path) -> None:
    cfg = tiny_pair_config(
        pair_set,
        model={"name": "dmac-effnet-lite0", "kwargs": {"pretrained_backbone": False}},
        pairs={"freeze_backbone": True},
    )
    trainer = Trainer(cfg, tmp_path / "run")
    recipe = _recipe(trainer)
    backbone = trainer.model.backbone
    trained = {id(p) for group in recipe.opt_pretrain.param_groups for p in group["params"]}
    assert trained and not any(id(p) in trained for p in backbone.parameters())
    before_backbone = {k: v.clone() for k, v in backbone.state_dict().items()}
    before_head = _params(trainer.model.classifier)
    batch = next(iter(trainer.train_loader()))
    trainer.train_step(batch)
    trainer.epoch = 1  # the adversarial phase keeps the backbone frozen too
    trainer.train_step(batch)
    trainer.train_step(batch)
    # weights and BatchNorm running statistics of the backbone are untouched
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, before_backbone[key]), key
    assert not _same(before_head, _params(trainer.model.classifier))


def test_freeze_backbone_needs_a_backbone(pair_set: Path, tmp_path: Path) -> None:
    cfg = tiny_pair_config(pair_set, pairs={"freeze_backbone": True})
    with pytest.raises(TrainingError, match="no 'backbone' module to freeze"):
        Trainer(cfg, tmp_path / "run")


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("sections", "pattern"),
    [
        ({"pairs": {"dis_loss": "wgan"}}, r"pairs.dis_loss must be one of \('bce', 'hinge'\)"),
        ({"pairs": {"k": 0}}, r"pairs.k must be >= 1"),
        ({"pairs": {"pretrain_epochs": -1}}, r"pairs.pretrain_epochs must be >= 0"),
        ({"data": {"resize_mode": "crop"}}, r"pair training resizes both images"),
        ({"data": {"attacks": ["jpeg:70"]}}, r"data.attacks is not supported for pairs"),
        ({"train": {"monitor": "f1_union"}}, r"not a validation quantity of the dmac recipe"),
    ],
)
def test_config_errors(pair_set: Path, tmp_path: Path, sections: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        Trainer(tiny_pair_config(pair_set, **sections), tmp_path / "run")


def test_run_errors(pair_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_pair_config(pair_set)
    with pytest.raises(TrainingError, match="no training data: set data.train_roots"):
        Trainer(tiny_pair_config(None), tmp_path / "none")
    with pytest.raises(TrainingError, match="no checkpoint to resume from"):
        Trainer(cfg, tmp_path / "empty", resume=True)
    with pytest.raises(TrainingError, match="6 training pairs, fewer than one batch of 8"):
        Trainer(
            tiny_pair_config(pair_set, data={"batch_size": 8, "val_fraction": 0.0}),
            tmp_path / "big",
        )
    copy_move = write_generated_set(tmp_path / "cm", 4)
    with pytest.raises(TrainingError, match="gives single images; pair training needs"):
        Trainer(tiny_pair_config(copy_move, data={"reader": "generated"}), tmp_path / "cm-run")
    # The recipe refuses a copy-move model before anything is built.
    with pytest.raises(
        ConfigError, match=f"recipe 'dmac' trains pair models, but model {TINY!r} is a copy_move"
    ):
        train(tiny_pair_config(pair_set, model={"name": TINY, "kwargs": {}}), tmp_path / "t")
    assert not (tmp_path / "t").exists()

    train(cfg, tmp_path / "run", max_steps=1)
    with pytest.raises(TrainingError, match="already holds checkpoints; pass --resume"):
        Trainer(cfg, tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "step_00000001" / "discriminator.safetensors").unlink()
    with pytest.raises(TrainingError, match="not a pair-training checkpoint"):
        Trainer(cfg, tmp_path / "run", resume=True)

    import tamperscope.engine.trainer as trainer_module

    monkeypatch.setattr(
        trainer_module, "init_distributed", lambda device: DistributedContext(True, 0, 0, 2)
    )
    monkeypatch.setattr(trainer_module, "cleanup_distributed", lambda ctx: None)
    with pytest.raises(TrainingError, match="the dmac recipe runs in one process"):
        Trainer(cfg, tmp_path / "dist")


def test_cli_reports_pair_errors(pair_set: Path, tmp_path: Path) -> None:
    values = config_to_dict(tiny_pair_config(pair_set, pairs={"k": 0}))
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump(values))
    res = runner.invoke(app, ["train", "--config", str(recipe), "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "pairs.k must be >= 1" in res.output


# ----------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_two_steps_on_pairs_from_bsds500(tmp_path: Path) -> None:
    photos = bsds500_photos("train")
    from tamperscope.synth.generate import generate_splice_pairs

    out = tmp_path / "sp-bsds"
    generate_splice_pairs(out, n=3, seed=41, images=str(photos), regions="bsds500", size=(96, 64))
    assert len(open_dataset("generated-pairs", out)) == 3
    cfg = tiny_pair_config(
        out,
        model={"name": "dmac-vgg16", "kwargs": {"pretrained_backbone": False}},
        data={"val_fraction": 0.34, "batch_size": 2, "image_size": 32},
        pairs={"pretrain_epochs": 1, "detector_kwargs": {}, "discriminator_kwargs": {}},
    )
    summary = train(cfg, tmp_path / "run", max_steps=2)
    assert summary["step"] == 2
    assert summary["last_validation"]["val/loss"] > 0
