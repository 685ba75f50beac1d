"""The ROC figure writer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tamperscope.report.plots import write_roc_plot


def test_writes_png_with_both_curves(tmp_path):
    roc = {"fpr": np.array([0, 0.5, 1]), "tpr": np.array([0, 0.8, 1]), "auc": 0.65, "eer": 0.35}
    pixel = {"fpr": np.linspace(0, 1, 11), "tpr": np.linspace(0, 1, 11) ** 0.5, "auc": 0.66}
    write_roc_plot(tmp_path / "sub" / "roc.png", roc, pixel)
    img = Image.open(tmp_path / "sub" / "roc.png")
    assert img.format == "PNG" and img.size == (500, 500)
    assert not list((tmp_path / "sub").glob(".*.tmp"))  # atomic write left no temporary file


def test_pixel_curve_alone_and_nothing_to_draw(tmp_path):
    write_roc_plot(tmp_path / "p.png", None, {"fpr": [0, 1], "tpr": [0, 1]})
    assert (tmp_path / "p.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no ROC curve to draw"):
        write_roc_plot(tmp_path / "none.png", None, None)
    assert not (tmp_path / "none.png").exists()
