"""The classifier: a small VGG-style CNN (three stages of two 3x3 convolutions) for 32x32 RGB."""

from __future__ import annotations

import torch
from torch import nn


def _stage(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    ]


class BikeNet(nn.Module):
    """Six convolutions, max-pooling between stages, global average pooling, one linear layer."""

    def __init__(self, widths: tuple[int, int, int] = (32, 64, 96), classes: int = 2,
                 dropout: float = 0.2):
        super().__init__()
        a, b, c = widths
        self.features = nn.Sequential(
            *_stage(3, a), nn.MaxPool2d(2),
            *_stage(a, b), nn.MaxPool2d(2),
            *_stage(b, c), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits
        return self.head(self.features(x))


class ServingModel(nn.Module):
    """What ships: logits averaged over the ensemble's members and over the image and its
    mirror, divided by the fitted temperature, then softmax, so the ONNX graph outputs
    calibrated probabilities."""

    def __init__(self, nets: list[BikeNet], temperature: float = 1.0, mirror: bool = True):
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.mirror = mirror
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature, dtype=torch.float32))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        views = [x, torch.flip(x, dims=[3])] if self.mirror else [x]
        outputs = [net(view) for net in self.nets for view in views]
        return torch.stack(outputs).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x) * self.inv_temperature, dim=1)
