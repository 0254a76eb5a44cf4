"""The CUDA-graph engine's own bookkeeping on the CPU, with torch's capture and replay stood in for.

There is no CUDA device here, so torch.cuda's streams and graphs are replaced by stand-ins: the step
run inside torch.cuda.graph is recorded, and each replay runs it again on the static index tensor
the way a real graph does: with the learning-rate tensor that existed at capture time, and without
Python's optimizer.step() bookkeeping. Adam runs uncaptured (capturable Adam is CUDA-only). What these
tests check is CudaGraphStep's part: warm-up undone, tail batches eager, schedulers (one of them
replacing the lr tensor with a float, as ReduceLROnPlateau did before torch 2.10), early stopping.
The real capture runs in the CUDA tests of test_fast_training.py (scripts/gpu_check.sh on a GPU).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from tests.unit.trainer._training import assert_same_state, nonlinear_data, train_with
from trainer_service.events import EpochProgress, Phase
from trainer_service.models import cuda_graph
from trainer_service.models.cuda_graph import CudaGraphStep
from trainer_service.models.network_training import Engine, build_network
from trainer_service.models.training_steps import make_step


class _Stream:
    def wait_stream(self, other: object) -> None:
        """Nothing to order on the CPU."""


class _Graph:
    """Replays the step recorded during capture."""

    replays = 0

    def __init__(self) -> None:
        self.replay_step: Callable[[], None] | None = None

    def replay(self) -> None:
        """Run the recorded step again."""
        assert self.replay_step is not None, "nothing was captured"
        _Graph.replays += 1
        self.replay_step()


class _Capture:
    graph: _Graph | None = None


@contextlib.contextmanager
def _graph(graph: _Graph, capture_error_mode: str = "global", **_: object) -> Iterator[None]:
    assert capture_error_mode in ("global", "thread_local", "relaxed")
    _Capture.graph = graph
    try:
        yield
    finally:
        _Capture.graph = None


class _UncapturedAdam(torch.optim.Adam):
    def __init__(self, params: Any, **options: Any) -> None:
        options.update(capturable=False, foreach=False)
        super().__init__(params, **options)


@pytest.fixture(autouse=True)
def stand_in_cuda(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CudaGraphStep on CPU tensors, capturing into _Graph."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(cuda_graph, "_CAPTURE_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(torch.cuda, "Stream", _Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *args, **kwargs: _Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", _Graph)
    monkeypatch.setattr(torch.cuda, "graph", _graph)
    monkeypatch.setattr(torch.optim, "Adam", _UncapturedAdam)
    body = CudaGraphStep._body

    def recording_body(step: CudaGraphStep, index: torch.Tensor) -> None:
        graph = _Capture.graph
        if graph is not None:
            group = step.optimizer.param_groups[0]
            captured_lr = group["lr"]  # the tensor the captured kernels read

            def replay() -> None:
                now, called = group["lr"], getattr(step.optimizer, "_opt_called", False)
                group["lr"] = captured_lr
                try:
                    body(step, step._index)
                finally:
                    group["lr"] = now
                    step.optimizer._opt_called = called  # type: ignore[attr-defined]

            graph.replay_step = replay
        body(step, index)  # a real capture only records; the step must undo this as it undoes the warm-up

    monkeypatch.setattr(CudaGraphStep, "_body", recording_body)
    _Graph.replays = 0
    yield
    torch.set_num_threads(threads)


class _Rates:
    """A reporter that keeps each epoch's learning rate."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_phase(self, phase: Phase) -> None:
        """Not used by train_network."""

    def on_epoch(self, progress: EpochProgress) -> None:
        """Keep the learning rate."""
        self.rates.append(progress.learning_rate)

    def check_cancelled(self) -> None:
        """Never cancelled."""


def _same_as_eager(**options: Any) -> tuple[list[float], list[float]]:
    """Train with the eager reference and the graph engine; assert the same losses and state."""
    eager_rates, graph_rates = _Rates(), _Rates()
    eager, eager_losses = train_with(Engine.EAGER, reporter=eager_rates, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        graph, graph_losses = train_with(Engine.CUDA_GRAPH, reporter=graph_rates, **options)
    assert len(graph_losses) == len(eager_losses)
    # Rounding apart: a Linear bias before BatchNorm has a gradient of ~0, which Adam's normalisation
    # turns into steps of rounding noise, so the two drift apart by ~1e-5 (as the fast CPU step does).
    torch.testing.assert_close(graph_losses, eager_losses, rtol=1e-3, atol=1e-6)
    assert_same_state(eager, graph, rtol=1e-3, atol=1e-4)
    assert graph_rates.rates == pytest.approx(eager_rates.rates)
    return eager_losses, graph_rates.rates


@pytest.mark.parametrize(
    ("rows", "full_batches"),
    [(203, 6), (192, 6), (193, 5)],
    ids=["short-tail", "no-tail", "one-row-tail-joins-the-last-batch"],
)
def test_replays_and_eager_tail_batches_train_like_the_eager_reference(rows: int, full_batches: int) -> None:
    _same_as_eager(rows=rows, epochs=3)
    assert _Graph.replays == 3 * full_batches


def test_classification_with_cross_entropy() -> None:
    _same_as_eager(classes=3, epochs=3)


def test_cosine_schedule_reaches_the_replays_without_warnings() -> None:
    _, rates = _same_as_eager(rows=192, epochs=6, lr_schedule="cosine")  # no eager tail: only replays step
    assert rates[0] > rates[-1] > 0


@pytest.mark.parametrize("assigns_floats", [False, True], ids=["tensor-lr-filled", "float-lr-assigned"])
def test_reduce_on_plateau_reaches_the_replays(monkeypatch: pytest.MonkeyPatch, assigns_floats: bool) -> None:
    if assigns_floats:  # what ReduceLROnPlateau did before torch 2.10: param_group["lr"] = new_lr
        monkeypatch.setattr(lr_scheduler, "_update_param_group_val",
                            lambda group, key, value: group.__setitem__(key, value))
    _, rates = _same_as_eager(validate=True, epochs=24, lr_schedule="reduce_on_plateau")  # cut after epoch 21
    assert min(rates) < rates[0]  # the schedule did lower the rate


def test_early_stopping_restores_the_same_best_weights() -> None:
    _same_as_eager(validate=True, epochs=60, learning_rate=0.05, early_stopping=True, patience=3)


def test_the_step_starts_from_the_weights_and_state_it_was_given() -> None:
    x, y = nonlinear_data()
    torch.manual_seed(0)
    module = build_network(6, (16, 8), 1, 0.2)
    before = {name: value.clone() for name, value in module.state_dict().items()}
    step = make_step(Engine.CUDA_GRAPH, module, nn.MSELoss(), (x, y), learning_rate=0.01, weight_decay=0.0,
                     clip_norm=1.0, batch_size=32)
    assert isinstance(step, CudaGraphStep)
    state = step.optimizer.state[step.optimizer.param_groups[0]["params"][0]]
    assert all(float(value.abs().sum()) == 0 for value in state.values())  # step, exp_avg, exp_avg_sq
    step.close()
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0, msg=name)
