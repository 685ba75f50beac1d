"""Training engine: typed configs, one training loop, a recipe per method, checkpoints, DDP.

The loop (:class:`Trainer`, :mod:`tamperscope.engine.trainer`) runs epochs, exact resume,
checkpoints, schedules, early stopping and logs; a recipe (:mod:`tamperscope.engine.recipes`)
trains one method: ``doagan`` for copy-move models, ``dmac`` for probe/donor pair models,
``mvss`` for manipulation localizers.
The config's ``recipe`` key picks it, else the model's registered task does.

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
    DoaganConfig,
    ExperimentConfig,
    LossConfig,
    ModelConfig,
    MvssConfig,
    OptimConfig,
    PairConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from tamperscope.engine.errors import TrainingError
from tamperscope.engine.recipes import (
    DmacRecipe,
    DoaganRecipe,
    MvssRecipe,
    Recipe,
    get_recipe,
    list_recipes,
    recipe_for,
    register_recipe,
)
from tamperscope.engine.trainer import Trainer, seed_everything, train

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DmacRecipe",
    "DoaganConfig",
    "DoaganRecipe",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "MvssConfig",
    "MvssRecipe",
    "OptimConfig",
    "PairConfig",
    "Recipe",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "export_weights",
    "get_recipe",
    "list_recipes",
    "latest_checkpoint",
    "load_checkpoint",
    "load_config",
    "read_checkpoint",
    "recipe_for",
    "register_recipe",
    "save_checkpoint",
    "save_config",
    "seed_everything",
    "train",
]
