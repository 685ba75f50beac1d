"""Training engine: typed configs, the DOA-GAN and DMAC trainers, checkpoints, distributed.

The engine never parses argv; ``tamperscope train`` (:mod:`tamperscope.cli.train`) does, then
calls :func:`train`::

    from tamperscope.engine import load_config, train

    config = load_config("configs/doagan_effnet_lite0.yaml", ["train.max_steps=100"])
    summary = train(config, "runs/effnet", device="cuda")
"""

from tamperscope.engine.checkpoints import (
    Checkpoint,
    CheckpointError,
    export_weights,
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from tamperscope.engine.config import (
    ConfigError,
    DataConfig,
    ExperimentConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    PairConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from tamperscope.engine.pair_trainer import PairTrainer, resolve_task, train_pairs
from tamperscope.engine.trainer import Trainer, TrainingError, seed_everything, train

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "PairConfig",
    "PairTrainer",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "export_weights",
    "latest_checkpoint",
    "load_checkpoint",
    "load_config",
    "read_checkpoint",
    "resolve_task",
    "save_checkpoint",
    "save_config",
    "seed_everything",
    "train",
    "train_pairs",
]
