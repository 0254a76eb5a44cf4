"""How one optimisation step runs: the eager reference, the fast CPU step, or a CUDA graph.

Every engine runs the same algorithm (Adam with L2 weight decay, gradient clipping by total norm,
the epoch's rows in the order of a per-epoch randperm) and differs only in what it costs per step.
train_network owns the epoch loop, the cancel check per batch, schedules and early stopping; an
engine owns the optimizer (schedulers drive its param_groups) and the per-step work.
"""

from __future__ import annotations

import enum
import logging
from typing import Protocol

import torch
from torch import nn

__all__ = ["Engine", "TrainingStep", "EagerStep", "make_step"]

logger = logging.getLogger(__name__)


class Engine(enum.Enum):
    """Which step implementation train_network uses; AUTO picks the fastest the device and shapes allow."""

    AUTO = "auto"
    EAGER = "eager"  # the reference: module.parameters() Adam, clip_grad_norm_, index gathers
    FAST = "fast"  # flat buffers, shuffled slices, explicit backward where the network is recognised
    CUDA_GRAPH = "cuda_graph"  # FAST's buffers with the whole step captured once and replayed (CUDA only)


class TrainingStep(Protocol):
    """One engine's per-epoch and per-step work."""

    optimizer: torch.optim.Optimizer

    def start_epoch(self, order: torch.Tensor) -> None:
        """Begin an epoch whose batches are consecutive slices of `order` (a randperm of the rows)."""

    def step(self, start: int, stop: int) -> None:
        """Train on the rows order[start:stop]."""

    def finish_epoch(self) -> torch.Tensor:
        """The epoch's sum of batch-mean losses times batch rows, as a device scalar (no host sync)."""

    def close(self) -> None:
        """Leave the module with ordinary parameters, whatever happened."""


class EagerStep:
    """The reference step: a plain PyTorch loop with index-gathered batches."""

    def __init__(self, module: nn.Module, loss_fn: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                 learning_rate: float, weight_decay: float, clip_norm: float) -> None:
        self._module = module
        self._loss_fn = loss_fn
        self._features, self._targets = train
        self._clip_norm = clip_norm
        self.optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
        self._order = torch.empty(0, dtype=torch.long)
        self._total = torch.zeros((), device=self._features.device)

    def start_epoch(self, order: torch.Tensor) -> None:
        """Remember the epoch's order and reset the loss sum."""
        self._order = order
        self._total = torch.zeros((), device=self._features.device)

    def step(self, start: int, stop: int) -> None:
        """zero_grad, forward, backward, clip_grad_norm_, Adam."""
        index = self._order[start:stop]
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss_fn(self._module(self._features[index]), self._targets[index])
        loss.backward()
        if self._clip_norm > 0:
            nn.utils.clip_grad_norm_(self._module.parameters(), self._clip_norm)
        self.optimizer.step()
        self._total += loss.detach() * (stop - start)

    def finish_epoch(self) -> torch.Tensor:
        """The epoch's loss sum."""
        return self._total

    def close(self) -> None:
        """Nothing to undo."""


def make_step(
    engine: Engine,
    module: nn.Module,
    loss_fn: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    *,
    learning_rate: float,
    weight_decay: float,
    clip_norm: float,
    batch_size: int,
) -> TrainingStep:
    """The step engine for `engine`; AUTO means a CUDA graph on CUDA when possible, else the fast step."""
    args = (module, loss_fn, train, learning_rate, weight_decay, clip_norm)
    device = train[0].device
    if engine is Engine.EAGER:
        return EagerStep(*args)
    if engine is Engine.CUDA_GRAPH or (engine is Engine.AUTO and device.type == "cuda"):
        # Imported here so CPU training never touches the CUDA graph code.
        from trainer_service.models.cuda_graph import CudaGraphStep, GraphNotApplicable

        try:
            return CudaGraphStep(*args, batch_size=batch_size)
        except GraphNotApplicable as reason:
            if engine is Engine.CUDA_GRAPH:
                raise
            logger.info("no CUDA graph (%s); training with the eager step", reason)
        except Exception as error:  # noqa: BLE001 - any capture failure falls back to the eager step
            if engine is Engine.CUDA_GRAPH:
                raise
            logger.warning("CUDA graph capture failed (%s: %s); training with the eager step",
                           type(error).__name__, error, exc_info=True)  # the log shows the chained cause
        return EagerStep(*args)
    if engine is Engine.AUTO and device.type != "cpu":
        return EagerStep(*args)  # e.g. MPS: the reference step, as before
    from trainer_service.models.fast_step import ExplicitStep, FlatAutogradStep, explicit_step_supports

    if explicit_step_supports(module, loss_fn, train[0]):
        return ExplicitStep(*args)
    return FlatAutogradStep(*args)
