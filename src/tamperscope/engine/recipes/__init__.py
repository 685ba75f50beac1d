"""Training recipes, one per method, registered by name for the loop.

* ``doagan`` (:class:`~tamperscope.engine.recipes.doagan.DoaganRecipe`): copy-move models,
  DOA-GAN's PatchGAN adversarial training with localization and detection losses;
* ``dmac`` (:class:`~tamperscope.engine.recipes.dmac.DmacRecipe`): probe/donor pair models,
  DMAC's cross-entropy pretraining, then alternating updates of the model and of its
  detection and discriminative networks;
* ``mvss`` (:class:`~tamperscope.engine.recipes.mvss.MvssRecipe`): manipulation localizers,
  MVSS-Net's image BCE, mask Dice and edge losses, the Bayar constraint after every step.

A config selects one with ``recipe:``; without it, :func:`recipe_for` takes the recipe of the
model's registered task. A new method subclasses :class:`Recipe` and registers it with
:func:`register_recipe`.
"""

from tamperscope.engine.recipes.base import (
    Adversary,
    EpochDataset,
    Recipe,
    build_trained_model,
    finite_or_none,
    get_recipe,
    list_recipes,
    load_init_weights,
    recipe_for,
    register_recipe,
)
from tamperscope.engine.recipes.dmac import DmacRecipe
from tamperscope.engine.recipes.doagan import DoaganRecipe
from tamperscope.engine.recipes.mvss import MvssRecipe

__all__ = [
    "Adversary",
    "DmacRecipe",
    "DoaganRecipe",
    "EpochDataset",
    "MvssRecipe",
    "Recipe",
    "build_trained_model",
    "finite_or_none",
    "get_recipe",
    "list_recipes",
    "load_init_weights",
    "recipe_for",
    "register_recipe",
]
