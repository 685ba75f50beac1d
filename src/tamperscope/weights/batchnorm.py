"""BatchNorm without running statistics (``track_running_stats=False``).

DOA-GAN trains with small batches of very different images (forged and pristine, many
scenes); running averages of the batch statistics then describe no real batch. A BatchNorm
without running statistics normalises with the statistics of the current batch both in
training and at test time.
"""

from __future__ import annotations

from torch import nn

__all__ = ["disable_bn_running_stats"]


def disable_bn_running_stats(module: nn.Module) -> int:
    """Turn every BatchNorm of ``module`` into one without running statistics, in place.

    The running mean, variance and batch counter buffers are removed, so the state dict of a
    converted model has no such keys; rebuild a saved model with the same conversion before
    loading its tensors.

    Args:
        module: any module; its BatchNorm1d/2d/3d (and SyncBatchNorm) layers are converted.

    Returns:
        Number of layers converted.
    """
    count = 0
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.track_running_stats = False
            layer.running_mean = None
            layer.running_var = None
            layer.num_batches_tracked = None
            count += 1
    return count
