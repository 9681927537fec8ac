"""The training loop: seeded, CPU, augmentation, a validation split of train/.

A few small networks (an ensemble) train one after another on the same split. By default
each runs its full one-cycle schedule and keeps its final weights: on 100 validation images
the per-epoch score is too noisy to pick an epoch by, so validation only fits the temperature.
`early_stopping=True` instead keeps the best epoch on validation and stops after `patience`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from model_training.dataset import Split
from model_training.network import BikeNet, ServingModel


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    members: int = 3  # networks in the ensemble, seeds seed, seed+1, ...
    max_epochs: int = 40  # 3 x 40 epochs: about 230 s on an idle 2-core machine
    patience: int = 8  # epochs without a better validation score before stopping ...
    min_epochs: int = 24  # ... once the one-cycle schedule has passed its noisy high-LR phase
    batch_size: int = 64
    optimizer: str = "adamw"  # adamw | sgd (Nesterov)
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.05
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    val_fraction: float = 0.1  # taken from train/, stratified; test/ is never seen here
    widths: tuple[int, int, int] = (32, 64, 96)
    dropout: float = 0.2
    crop_padding: int = 4
    cutout: int = 8  # side of one random square erased per training image (0 = off)
    # False: train the fixed one-cycle length and keep the final weights (the validation
    # split then only fits the temperature); True: keep the best epoch on validation
    early_stopping: bool = False
    threads: int = 2


@dataclass
class TrainResult:
    nets: list[BikeNet]
    config: TrainConfig
    seconds: float
    val: Split
    members: list[dict] = field(default_factory=list)  # per member: epochs, best epoch, history

    @property
    def epochs_run(self) -> int:
        return sum(m["epochs_run"] for m in self.members)


def configure_torch(seed: int, threads: int) -> None:
    """Same seed, same machine -> same weights (deterministic CPU kernels, fixed thread count)."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def split_validation(data: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Stratified: the same share of each class goes to validation."""
    rng = np.random.default_rng(seed)
    val_idx = []
    for label in np.unique(data.labels):
        idx = np.flatnonzero(data.labels == label)
        val_idx.extend(rng.permutation(idx)[: round(len(idx) * fraction)])
    is_val = np.zeros(len(data.labels), dtype=bool)
    is_val[val_idx] = True

    def take(mask: np.ndarray) -> Split:
        return Split(data.images[mask], data.labels[mask],
                     [p for p, keep in zip(data.paths, mask) if keep])

    return take(~is_val), take(is_val)


def augment(x: torch.Tensor, padding: int, gen: torch.Generator, cutout: int = 0) -> torch.Tensor:
    """Random horizontal flips, random crops from a reflect-padded image and cutout
    (DeVries & Taylor, 2017: one zeroed square, the dataset mean after normalisation)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if padding:
        padded = F.pad(x, (padding,) * 4, mode="reflect")
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen).tolist()
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen).tolist()
        x = torch.stack([padded[i, :, y:y + h, c:c + w] for i, (y, c) in enumerate(zip(dy, dx))])
    if cutout:
        cy = torch.randint(0, h, (n, 1, 1), generator=gen)
        cx = torch.randint(0, w, (n, 1, 1), generator=gen)
        rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
        top, left = cy - cutout // 2, cx - cutout // 2  # the square may stick out of the image
        hole = (rows >= top) & (rows < top + cutout) & (cols >= left) & (cols < left + cutout)
        x = x.masked_fill(hole[:, None], 0.0)
    return x


@torch.no_grad()
def predict_logits(nets: list[BikeNet], images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Ensemble- and mirror-averaged logits, as the exported graph computes them (before the
    temperature)."""
    serving = ServingModel(nets).eval()
    x = torch.from_numpy(images)
    return torch.cat([serving.logits(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).numpy()


def make_optimizer(net: BikeNet, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True,
                           weight_decay=config.weight_decay)


def _loss(net: BikeNet, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
          gen: torch.Generator) -> torch.Tensor:
    if config.mixup_alpha <= 0:
        return F.cross_entropy(net(x), y, label_smoothing=config.label_smoothing)
    # mixup: a convex blend of two shuffled batches, trained towards the blend of their labels
    lam = float(torch.distributions.Beta(config.mixup_alpha, config.mixup_alpha).sample())
    perm = torch.randperm(len(x), generator=gen)
    logits = net(lam * x + (1 - lam) * x[perm])
    return (lam * F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
            + (1 - lam) * F.cross_entropy(logits, y[perm], label_smoothing=config.label_smoothing))


def train_member(fit: Split, val: Split, config: TrainConfig, seed: int, bar: Progress,
                 name: str) -> tuple[BikeNet, dict]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    # channels-last runs the CPU convolutions about a quarter faster; exported weights are the same
    x_fit = torch.from_numpy(fit.images).contiguous(memory_format=torch.channels_last)
    y_fit, y_val = torch.from_numpy(fit.labels), torch.from_numpy(val.labels)
    net = BikeNet(config.widths, dropout=config.dropout).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(net, config)
    steps = -(-len(x_fit) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.max_epochs * steps, pct_start=0.25)

    # best = highest validation accuracy, ties broken by the lower validation loss: on 100
    # images the loss alone is too noisy and stops training while accuracy still climbs
    best = ((0.0, -float("inf")), 0, copy.deepcopy(net.state_dict()))
    history: list[dict] = []
    for epoch in range(1, config.max_epochs + 1):
        task = bar.add_task("train", total=steps, epoch=f"{name} epoch {epoch}/{config.max_epochs}",
                            status="")
        net.train()
        order = torch.randperm(len(x_fit), generator=gen)
        total_loss = 0.0
        for i in range(0, len(order), config.batch_size):
            batch = order[i:i + config.batch_size]
            loss = _loss(net, augment(x_fit[batch], config.crop_padding, gen, config.cutout), y_fit[batch], config, gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(batch)
            bar.advance(task)
        val_logits = torch.from_numpy(predict_logits([net], val.images))
        record = {
            "epoch": epoch,
            "train_loss": round(total_loss / len(x_fit), 5),
            "val_loss": round(F.cross_entropy(val_logits, y_val).item(), 5),
            "val_accuracy": round((val_logits.argmax(1) == y_val).float().mean().item(), 4),
        }
        history.append(record)
        bar.update(task, status=f"loss {record['train_loss']:.3f}  val loss {record['val_loss']:.3f}"
                                f"  val acc {record['val_accuracy']:.3f}")
        score = (record["val_accuracy"], -record["val_loss"])
        if not config.early_stopping:
            best = (score, epoch, None)  # the final weights
        elif score > best[0]:
            best = (score, epoch, copy.deepcopy(net.state_dict()))
        elif epoch >= config.min_epochs and epoch - best[1] >= config.patience:
            break
    if best[2] is not None:
        net.load_state_dict(best[2])
    net = net.to(memory_format=torch.contiguous_format).eval()
    return net, {"seed": seed, "epochs_run": len(history), "best_epoch": best[1], "history": history}


def train(data: Split, config: TrainConfig | None = None, progress: bool = True) -> TrainResult:
    config = config or TrainConfig()
    configure_torch(config.seed, config.threads)
    fit, val = split_validation(data, config.val_fraction, config.seed)
    started = time.perf_counter()
    bar = Progress(TextColumn("[bold]{task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[status]}"), TimeElapsedColumn(), disable=not progress)
    nets, members = [], []
    with bar:
        for i in range(config.members):
            net, info = train_member(fit, val, config, config.seed + i, bar, f"net {i + 1}/{config.members}")
            nets.append(net)
            members.append(info)
    return TrainResult(nets=nets, config=config, seconds=time.perf_counter() - started, val=val,
                       members=members)
