"""Figures of evaluation results, drawn with matplotlib's Agg canvas (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tamperscope.io import atomic_open


def write_roc_plot(
    path: str | Path,
    image_roc: dict[str, Any] | None,
    pixel_roc: dict[str, Any] | None = None,
    *,
    title: str = "ROC",
) -> None:
    """Write a PNG with the image-level ROC (AUC and EER marked) and the pooled pixel ROC.

    Args:
        path: output .png file, written atomically.
        image_roc: ``{"fpr", "tpr"}`` arrays in [0, 1] (FPR increasing) with optional
            ``"auc"`` and ``"eer"`` floats; ``None`` when undefined (one class only).
        pixel_roc: same layout for the pixel-level ROC, or ``None``.
        title: figure title.

    Raises:
        ValueError: both curves are ``None`` (nothing to draw).
    """
    if image_roc is None and pixel_roc is None:
        raise ValueError("no ROC curve to draw: image and pixel ROC are both undefined")
    fig = Figure(figsize=(5.0, 5.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
    if image_roc is not None:
        auc = image_roc.get("auc")
        label = "image" + (f" (AUC {auc:.3f})" if auc is not None else "")
        ax.plot(image_roc["fpr"], image_roc["tpr"], color="tab:blue", label=label, linewidth=2)
        eer = image_roc.get("eer")
        if eer is not None:
            ax.plot([eer], [1.0 - eer], "o", color="tab:red", label=f"image EER {eer:.3f}")
            ax.plot([0, 1], [1, 0], color="tab:red", linestyle="--", linewidth=0.8, alpha=0.5)
    if pixel_roc is not None:
        auc = pixel_roc.get("auc")
        label = "pixel, pooled" + (f" (AUC {auc:.3f})" if auc is not None else "")
        ax.plot(pixel_roc["fpr"], pixel_roc["tpr"], color="tab:green", label=label, linewidth=1.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png")
