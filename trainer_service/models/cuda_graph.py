"""The training step captured once in a CUDA graph and replayed for every full batch.

PyTorch's whole-network capture pattern (docs: "CUDA Graphs", whole-network capture): warm up on
a side stream, capture forward, backward, clipping and a capturable Adam with torch.cuda.graph,
then replay. Each replay gathers its batch from the device-resident data with index_select driven
by a static index tensor, so a step costs one small copy (the batch's indices) and one graph
launch, and nothing syncs with the host until the epoch's loss is read. The learning rate is a
device tensor that the graph reads at every replay, so schedulers change it between epochs (one
that replaces it with a float, as ReduceLROnPlateau did before torch 2.10, is copied back into it
when the next epoch starts). A batch of another size (the epoch's last, shorter batch) runs the
same step eagerly on the same buffers.

The warm-up steps train for real (capture only records); the parameters, BatchNorm buffers and
Adam state are restored afterwards, so training starts from the same weights as any other engine.
Only imported for CUDA.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from trainer_service.models.flat_parameters import FlatParameters, GradientClipper

__all__ = ["CudaGraphStep", "GraphNotApplicable"]

logger = logging.getLogger(__name__)

_WARMUP_STEPS = 3
_CAPTURE_DEVICES = ("cuda",)


class GraphNotApplicable(ValueError):
    """The shapes leave nothing to capture (no full batch), or the device is not CUDA."""


class CudaGraphStep:
    """Adam steps of `module` replayed from one CUDA graph (full batches) or run eagerly (other sizes)."""

    def __init__(self, module: nn.Module, loss_fn: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                 learning_rate: float, weight_decay: float, clip_norm: float, *, batch_size: int) -> None:
        features, targets = train
        device = features.device
        if device.type not in _CAPTURE_DEVICES:
            raise GraphNotApplicable(f"a CUDA graph needs a CUDA device, not {device}")
        if batch_size < 2 or len(features) < batch_size:
            raise GraphNotApplicable(f"{len(features)} rows hold no full batch of {batch_size}")
        self._module = module
        self._loss_fn = loss_fn
        self._features, self._targets = features, targets
        self._batch_size = batch_size
        self._device = device
        self._flat = FlatParameters(module)
        try:
            # The graph reads this tensor at every replay; start_epoch keeps it the group's lr.
            self._lr = torch.tensor(float(learning_rate), device=device)
            self.optimizer = torch.optim.Adam(
                [self._flat.param], lr=self._lr, weight_decay=weight_decay, capturable=True, foreach=True,
            )
            self._clip = GradientClipper(self._flat.grad, clip_norm) if clip_norm > 0 else None
            self._total = torch.zeros((), device=device, dtype=features.dtype)
            self._index = torch.zeros(batch_size, dtype=torch.long, device=device)
            self._order = torch.arange(len(features), device=device)
            self._graph = self._capture()
        except BaseException:
            self._flat.release()
            raise

    def _body(self, index: torch.Tensor) -> None:
        """One step on the rows `index`: the work the graph captures."""
        features = torch.index_select(self._features, 0, index)
        targets = torch.index_select(self._targets, 0, index)
        self._flat.grad.zero_()
        loss = self._loss_fn(self._module(features), targets)
        loss.backward()
        if self._clip is not None:
            self._clip()
        self.optimizer.step()
        self._total.add_(loss.detach(), alpha=len(index))

    def _capture(self) -> torch.cuda.CUDAGraph:
        saved_params = self._flat.param.detach().clone()
        saved_buffers = [buffer.detach().clone() for buffer in self._module.buffers()]
        self._module.train()
        try:
            # The outer stream context puts the current stream back even when the capture fails inside
            # torch.cuda.graph, whose exit then skips restoring it (the eager fallback runs on it).
            with torch.cuda.device(self._device), torch.cuda.stream(torch.cuda.current_stream(self._device)):
                self._index.copy_(self._order[: self._batch_size])
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(_WARMUP_STEPS):
                        self._body(self._index)
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                # thread_local: CUDA work of other threads (the backward pass runs on autograd's) is
                # not checked against this capture.
                with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                    self._body(self._index)
        finally:
            # The warm-up steps trained for real: start from the weights and state of before.
            with torch.no_grad():
                self._flat.param.detach().copy_(saved_params)
                for buffer, saved in zip(self._module.buffers(), saved_buffers, strict=True):
                    buffer.copy_(saved)
                for state in self.optimizer.state.values():
                    for value in state.values():
                        if isinstance(value, torch.Tensor):
                            value.zero_()
                self._flat.grad.zero_()
                self._total.zero_()
        logger.info("captured the training step in a CUDA graph (batch %d)", self._batch_size)
        return graph

    def start_epoch(self, order: torch.Tensor) -> None:
        """Remember the epoch's order, reset the loss sum (on the device), re-seat a replaced lr."""
        group = self.optimizer.param_groups[0]
        if group["lr"] is not self._lr:  # a scheduler wrote a float: the graph only sees the tensor
            self._lr.fill_(float(group["lr"]))
            group["lr"] = self._lr
        self._order = order
        self._total.zero_()

    def step(self, start: int, stop: int) -> None:
        """Replay the graph on order[start:stop] if it is a full batch, else run the same step eagerly."""
        if stop - start == self._batch_size:
            self._index.copy_(self._order[start:stop])
            self._graph.replay()
            # What Optimizer.step records for schedulers; a replay does not run Python's step.
            self.optimizer._opt_called = True  # type: ignore[attr-defined]
        else:
            self._body(self._order[start:stop])

    def finish_epoch(self) -> torch.Tensor:
        """The epoch's loss sum (a device scalar; reading it is the epoch's one host sync)."""
        return self._total

    def close(self) -> None:
        """Free the graph and give the module's parameters their own storage back."""
        self._graph = None  # type: ignore[assignment]
        self._flat.release()
