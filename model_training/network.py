"""The classifier: a small airbench-style CNN for 32x32 RGB, and the ensemble that ships.

The design follows Keller Jordan's airbench (CIFAR-10 speed runs): a 2x2 convolution whose
weights start as a whitening of the training images' 2x2 patches, then three blocks of
conv -> max-pool -> batch norm -> GELU -> conv. Single networks trained on 800 of the train
images scored 0.95 test accuracy with the whitened start, 0.90 without it and 0.935 for the
VGG-style net shipped before (same epochs and augmentation); on the 200 train images held
out from them all three scored 0.895-0.905, so the gain is smaller than test/ alone suggests.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

STEM_CHANNELS = 24  # 12 whitening filters (3 channels x 2 x 2) and their negatives
# airbench's output scale: keeps the initial logits small so the one-cycle warm-up is stable
LOGIT_SCALE = 1 / 9


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.GELU(),
    )


class BikeNet(nn.Module):
    """Whitening stem, three conv blocks (32 -> 15 -> 7 -> 3 pixels), global max pool, linear."""

    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128), classes: int = 2):
        super().__init__()
        a, b, c = widths
        self.stem = nn.Sequential(nn.Conv2d(3, STEM_CHANNELS, 2), nn.GELU())
        self.blocks = nn.Sequential(_block(STEM_CHANNELS, a), _block(a, b), _block(b, c))
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits
        return self.head(self.pool(self.blocks(self.stem(x)))) * LOGIT_SCALE


@torch.no_grad()
def whiten_stem(net: BikeNet, images: np.ndarray, eps: float = 5e-4) -> None:
    """Set the stem to the ZCA-like whitening of the images' 2x2 patches (and its negative, so
    GELU keeps both signs): the first layer starts out decorrelating pixels instead of
    having to learn it from 1000 images."""
    x = torch.from_numpy(images).double()
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    patches = patches - patches.mean(dim=0)
    eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    filters = (eigenvectors.T / torch.sqrt(eigenvalues[:, None] + eps)).flip(0).reshape(12, 3, 2, 2)
    conv = net.stem[0]
    conv.weight.copy_(torch.cat([filters, -filters]).float())
    conv.bias.zero_()


class ServingModel(nn.Module):
    """What ships: logits averaged over the ensemble's members and over the image and its
    mirror, divided by the fitted temperature, then softmax, so the ONNX graph outputs
    calibrated probabilities."""

    def __init__(self, nets: list[BikeNet], temperature: float = 1.0):
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.register_buffer(
            "inv_temperature", torch.tensor(1.0 / temperature, dtype=torch.float32)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        views = [x, torch.flip(x, dims=[3])]
        outputs = [net(view) for net in self.nets for view in views]
        return torch.stack(outputs).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x) * self.inv_temperature, dim=1)
