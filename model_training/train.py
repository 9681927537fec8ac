"""The training loop: seeded, CPU, augmentation, cross-fitted on train/.

train/ is cut into `folds` stratified folds and one network trains per fold on all the
others (K-fold cross-fitting): the ensemble that ships uses every training image, and every
training image still gets one prediction from a network that never saw it. Those 1000
out-of-fold predictions fit the temperature; test/ is never seen here.

By default each network runs its full one-cycle schedule and keeps its final weights;
`early_stopping=True` instead keeps the best epoch on the network's held-out fold.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.errors import HarnessError
from model_training.dataset import Split
from model_training.network import BikeNet, ServingModel, whiten_stem


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    folds: int = 4  # = networks in the ensemble (seeds seed, seed+1, ...), each trained on 3/4
    max_epochs: int = 30  # 4 x 30 epochs: about 130 s on an idle 2-core machine
    patience: int = 8  # epochs without a better validation score before stopping ...
    min_epochs: int = 24  # ... once the one-cycle schedule has passed its noisy high-LR phase
    batch_size: int = 64
    optimizer: str = "adamw"  # adamw | sgd (Nesterov)
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.05
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    widths: tuple[int, int, int] = (32, 64, 128)
    crop_padding: int = 4
    cutout: int = 8  # side of one random square erased per training image (0 = off)
    # False: train the fixed one-cycle length and keep the final weights (the held-out fold
    # then only fits the temperature); True: keep the best epoch on the held-out fold
    early_stopping: bool = False
    eval_every: int = (
        5  # epochs between held-out scores without early stopping (each costs ~1/5 epoch)
    )
    threads: int = 2


@dataclass
class TrainResult:
    nets: list[BikeNet]
    seconds: float
    out_of_fold: (
        np.ndarray
    )  # (n, classes) logits for every train image, from the one net that did not see it
    members: list[dict] = field(default_factory=list)  # per member: epochs, best epoch, history

    @property
    def epochs_run(self) -> int:
        return sum(m["epochs_run"] for m in self.members)


def configure_torch(seed: int, threads: int) -> None:
    """Same seed, same machine -> same weights (deterministic CPU kernels, fixed thread count)."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def assign_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per image, stratified: each fold gets the same share of each class."""
    if folds < 2:
        raise HarnessError(
            f"folds must be at least 2 (got {folds})",
            "every network needs a held-out fold to predict; use --folds 2 or more",
        )
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        fold[idx] = np.arange(len(idx)) % folds
    return fold


def subset(data: Split, mask: np.ndarray) -> Split:
    return Split(
        data.images[mask], data.labels[mask], [p for p, keep in zip(data.paths, mask) if keep]
    )


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
        x = torch.stack(
            [padded[i, :, y : y + h, c : c + w] for i, (y, c) in enumerate(zip(dy, dx))]
        )
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
    return torch.cat(
        [serving.logits(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    ).numpy()


def make_optimizer(net: BikeNet, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        net.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay,
    )


def _loss(
    net: BikeNet, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, gen: torch.Generator
) -> torch.Tensor:
    if config.mixup_alpha <= 0:
        return F.cross_entropy(net(x), y, label_smoothing=config.label_smoothing)
    # mixup: a convex blend of two shuffled batches, trained towards the blend of their labels
    lam = float(torch.distributions.Beta(config.mixup_alpha, config.mixup_alpha).sample())
    perm = torch.randperm(len(x), generator=gen)
    logits = net(lam * x + (1 - lam) * x[perm])
    return lam * F.cross_entropy(logits, y, label_smoothing=config.label_smoothing) + (
        1 - lam
    ) * F.cross_entropy(logits, y[perm], label_smoothing=config.label_smoothing)


def train_member(
    fit: Split, val: Split, config: TrainConfig, seed: int, bar: Progress, name: str
) -> tuple[BikeNet, dict]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    # channels-last runs the CPU convolutions about a quarter faster; exported weights are the same
    x_fit = torch.from_numpy(fit.images).contiguous(memory_format=torch.channels_last)
    y_fit, y_val = torch.from_numpy(fit.labels), torch.from_numpy(val.labels)
    net = BikeNet(config.widths)
    whiten_stem(net, fit.images)
    net = net.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(net, config)
    steps = -(-len(x_fit) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.max_epochs * steps, pct_start=0.25
    )

    # best = highest held-out accuracy, ties broken by the lower held-out loss: on a few
    # hundred images the loss alone is too noisy and stops training while accuracy still climbs
    best = ((0.0, -float("inf")), 0, copy.deepcopy(net.state_dict()))
    history: list[dict] = []
    for epoch in range(1, config.max_epochs + 1):
        task = bar.add_task(
            "train", total=steps, epoch=f"{name} epoch {epoch}/{config.max_epochs}", status=""
        )
        net.train()
        order = torch.randperm(len(x_fit), generator=gen)
        total_loss = 0.0
        for i in range(0, len(order), config.batch_size):
            batch = order[i : i + config.batch_size]
            loss = _loss(
                net,
                augment(x_fit[batch], config.crop_padding, gen, config.cutout),
                y_fit[batch],
                config,
                gen,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(batch)
            bar.advance(task)
        record = {"epoch": epoch, "train_loss": round(total_loss / len(x_fit), 5)}
        history.append(record)
        scored = (
            config.early_stopping or epoch % config.eval_every == 0 or epoch == config.max_epochs
        )
        if not scored:
            bar.update(task, status=f"loss {record['train_loss']:.3f}")
            continue
        val_logits = torch.from_numpy(predict_logits([net], val.images))
        record["val_loss"] = round(F.cross_entropy(val_logits, y_val).item(), 5)
        record["val_accuracy"] = round((val_logits.argmax(1) == y_val).float().mean().item(), 4)
        bar.update(
            task,
            status=f"loss {record['train_loss']:.3f}  held-out loss {record['val_loss']:.3f}"
            f"  held-out acc {record['val_accuracy']:.3f}",
        )
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
    return net, {
        "seed": seed,
        "epochs_run": len(history),
        "best_epoch": best[1],
        "history": history,
    }


def train(data: Split, config: TrainConfig | None = None, progress: bool = True) -> TrainResult:
    config = config or TrainConfig()
    configure_torch(config.seed, config.threads)
    fold = assign_folds(data.labels, config.folds, config.seed)
    out_of_fold = np.zeros((len(data.labels), 2), dtype=np.float32)
    started = time.perf_counter()
    bar = Progress(
        TextColumn("[bold]{task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        disable=not progress,
    )
    nets, members = [], []
    with bar:
        for k in range(config.folds):
            held_out = fold == k
            net, info = train_member(
                subset(data, ~held_out),
                subset(data, held_out),
                config,
                config.seed + k,
                bar,
                f"net {k + 1}/{config.folds}",
            )
            out_of_fold[held_out] = predict_logits([net], data.images[held_out])
            nets.append(net)
            members.append(info)
    return TrainResult(
        nets=nets, seconds=time.perf_counter() - started, out_of_fold=out_of_fold, members=members
    )
