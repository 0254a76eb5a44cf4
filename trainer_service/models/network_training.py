"""The torch network (the seed's AdvancedNN) and its epoch loop: Adam, clipping, lr schedule, early stopping.

All data stays on the device. Each epoch's batches are consecutive slices of a per-epoch randperm,
the epoch loss accumulates on the device, and the host syncs once per epoch (no per-step .item()).
The per-step work is an engine from training_steps: by default the fast CPU step (flat parameter
buffers, explicit backward) or, on CUDA, a captured CUDA graph; Engine.EAGER is the reference.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainer_service.events import EpochProgress, ProgressReporter
from trainer_service.models import TrainingDiverged
from trainer_service.models.training_steps import Engine, TrainingStep, make_step

__all__ = [
    "as_float32",
    "forward_in_chunks",
    "TrainingSettings",
    "TrainingHistory",
    "build_network",
    "torch_device",
    "batch_bounds",
    "train_network",
    "Engine",
]

logger = logging.getLogger(__name__)

# Rows per forward pass when scoring the validation split or predicting: bounds device memory.
_EVAL_CHUNK = 65536


def build_network(
    n_features: int, hidden_layers: Sequence[int], n_outputs: int, dropout_rate: float
) -> nn.Sequential:
    """Linear -> BatchNorm1d -> ReLU -> Dropout per hidden layer, then a Linear output layer."""
    layers: list[nn.Module] = []
    width = n_features
    for units in hidden_layers:
        layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU(), nn.Dropout(dropout_rate)]
        width = units
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def torch_device(name: str) -> torch.device:
    """The torch device for "cpu", "cuda" or "mps", with the CUDA index made explicit (e.g. cuda:0)."""
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def as_float32(X: np.ndarray) -> np.ndarray:
    """X as C-contiguous float32; values beyond float32 become inf (divergence or non-finite output).

    Row-major matters: ColumnTransformer returns column-major arrays, and rows gathered or sliced
    from a column-major tensor are strided, which makes every batch's matrix products slower.
    """
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(X, dtype=np.float32)


def forward_in_chunks(
    module: nn.Module, features: np.ndarray, transform: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """transform(module(features)) in eval mode without gradients, chunk by chunk, gathered on the CPU."""
    module.eval()
    device = next(module.parameters()).device
    chunks = [torch.empty(0)]
    with torch.no_grad():
        for start in range(0, len(features), _EVAL_CHUNK):
            batch = torch.as_tensor(features[start : start + _EVAL_CHUNK], device=device)
            chunks.append(transform(module(batch)).cpu().reshape(-1))
    return torch.cat(chunks)


@dataclass(frozen=True)
class TrainingSettings:
    """The loop's hyperparameters (validated by the registry before they get here)."""

    epochs: int
    learning_rate: float
    batch_size: int
    weight_decay: float
    gradient_clip_norm: float
    early_stopping: bool
    patience: int
    lr_schedule: str


@dataclass(frozen=True)
class TrainingHistory:
    """Per-epoch losses and the epoch whose weights the network ends with."""

    train_losses: list[float]
    validation_losses: list[float]
    best_epoch: int


def batch_bounds(rows: int, batch_size: int) -> list[tuple[int, int]]:
    """[start, stop) of each batch; a trailing one-row batch joins the previous one (BatchNorm needs two)."""
    bounds = [(start, min(start + batch_size, rows)) for start in range(0, rows, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def _scheduler(
    optimizer: torch.optim.Optimizer, settings: TrainingSettings
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    if settings.lr_schedule == "reduce_on_plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=5)
    if settings.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
    return None


def _mean_loss(
    module: nn.Module, loss_fn: nn.Module, data: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Mean loss over `data` in eval mode, as a device scalar."""
    features, targets = data
    module.eval()
    total = torch.zeros((), device=features.device)
    with torch.no_grad():
        for start in range(0, len(features), _EVAL_CHUNK):
            stop = min(start + _EVAL_CHUNK, len(features))
            total += loss_fn(module(features[start:stop]), targets[start:stop]) * (stop - start)
    return total / len(features)


def _check_finite(epoch: int, train_loss: float, validation_loss: float | None, learning_rate: float) -> None:
    for which, loss in (("training", train_loss), ("validation", validation_loss)):
        if loss is not None and not math.isfinite(loss):
            raise TrainingDiverged(
                f"{which} loss became {loss} at epoch {epoch}; lower learning_rate (now {learning_rate:g}), "
                "keep gradient_clip_norm above 0, or check the data for extreme values"
            )


def train_network(
    module: nn.Module,
    loss_fn: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    settings: TrainingSettings,
    generator: torch.Generator,
    reporter: ProgressReporter | None,
    engine: Engine = Engine.AUTO,
) -> TrainingHistory:
    """Train `module` in place, reporting every epoch; a non-finite loss raises TrainingDiverged."""
    features, _ = train
    rows = len(features)
    step = make_step(
        engine, module, loss_fn, train, learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay, clip_norm=settings.gradient_clip_norm,
        batch_size=settings.batch_size,
    )
    try:
        history = _epochs(
            module, loss_fn, step, features.device, rows, validation, settings, generator, reporter
        )
    finally:
        step.close()
    if history.best_state is not None:
        module.load_state_dict(history.best_state)
    return TrainingHistory(history.train_losses, history.validation_losses, history.best_epoch)


@dataclass(frozen=True)
class _Epochs:
    """What the epoch loop ends with; best_state is set only when early stopping kept one."""

    train_losses: list[float]
    validation_losses: list[float]
    best_epoch: int
    best_state: dict[str, torch.Tensor] | None


def _epochs(
    module: nn.Module,
    loss_fn: nn.Module,
    step: TrainingStep,
    device: torch.device,
    rows: int,
    validation: tuple[torch.Tensor, torch.Tensor] | None,
    settings: TrainingSettings,
    generator: torch.Generator,
    reporter: ProgressReporter | None,
) -> _Epochs:
    """The epoch loop: one cancel check per batch, one host sync per epoch, schedule, early stopping."""
    optimizer = step.optimizer
    scheduler = _scheduler(optimizer, settings)
    bounds = batch_bounds(rows, settings.batch_size)
    log_every = max(1, settings.epochs // 10)
    train_losses: list[float] = []
    validation_losses: list[float] = []
    best_loss, best_epoch, stale = math.inf, 0, 0
    best_state: dict[str, torch.Tensor] | None = None
    started = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        epoch_started = time.perf_counter()
        # A device tensor on CUDA: reading it syncs, but the queue is idle since last epoch's losses.
        learning_rate = float(optimizer.param_groups[0]["lr"])
        module.train()
        step.start_epoch(torch.randperm(rows, device=device, generator=generator))
        for start, stop in bounds:
            if reporter is not None:
                reporter.check_cancelled()
            step.step(start, stop)
        epoch_losses = [step.finish_epoch() / rows]
        if validation is not None:
            epoch_losses.append(_mean_loss(module, loss_fn, validation))
        synced = torch.stack(epoch_losses).tolist()  # the epoch's one sync with work in flight
        train_loss = synced[0]
        validation_loss = synced[1] if validation is not None else None
        now = time.perf_counter()
        elapsed = now - started
        _check_finite(epoch, train_loss, validation_loss, learning_rate)
        if reporter is not None:
            reporter.on_epoch(
                EpochProgress(
                    epoch=epoch,
                    total_epochs=settings.epochs,
                    train_loss=train_loss,
                    validation_loss=validation_loss,
                    learning_rate=learning_rate,
                    samples_per_second=rows / max(now - epoch_started, 1e-9),
                    elapsed_seconds=elapsed,
                    eta_seconds=elapsed / epoch * (settings.epochs - epoch),
                )
            )
        train_losses.append(train_loss)
        if validation_loss is not None:
            validation_losses.append(validation_loss)
        if epoch % log_every == 0 or epoch == settings.epochs:
            logger.info(
                "epoch %d/%d train_loss=%.6g validation_loss=%s lr=%.3g",
                epoch,
                settings.epochs,
                train_loss,
                "n/a" if validation_loss is None else f"{validation_loss:.6g}",
                learning_rate,
            )
        monitored = train_loss if validation_loss is None else validation_loss
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(monitored)
        elif scheduler is not None:
            scheduler.step()
        if monitored < best_loss:
            best_loss, best_epoch, stale = monitored, epoch, 0
            if settings.early_stopping:
                best_state = {name: value.detach().clone() for name, value in module.state_dict().items()}
        else:
            stale += 1
        if settings.early_stopping and stale >= settings.patience:
            logger.info("early stopping at epoch %d; restoring the weights of epoch %d", epoch, best_epoch)
            break
    if not (settings.early_stopping and best_state is not None):
        best_epoch = len(train_losses)
    return _Epochs(train_losses, validation_losses, best_epoch, best_state)
