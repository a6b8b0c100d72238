"""Host-device copies that never make the CPU wait: pinned inputs, results read one batch late.

On CUDA a copy from pageable memory, or a ``.cpu()`` of the logits, blocks the CPU until the GPU
has caught up, so the next batch cannot be packed while this one runs. Inputs go through pinned
memory without blocking; logits are copied into pinned memory behind the forward pass and read
only after the next batch has been queued.
"""

from __future__ import annotations

import numpy as np
import torch


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; to CUDA through pinned memory, without waiting for the copy."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class HostCopy:
    """A device tensor's copy to host memory, started now and read with :meth:`numpy` later."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self._event: torch.cuda.Event | None = None
        if tensor.device.type != "cuda":
            self._host = tensor
            return
        self._host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        self._host.copy_(tensor, non_blocking=True)
        self._event = torch.cuda.Event()
        self._event.record()

    def numpy(self) -> np.ndarray:
        """The values, once the copy has finished."""
        if self._event is not None:
            self._event.synchronize()
        return self._host.numpy()
