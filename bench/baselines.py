"""What users would otherwise run, each training the seed network on the same rows, timed per epoch.

Every run trains for `epochs` epochs and reports the median epoch time of epochs 2.. (the first
pays one-off costs: imports, allocator warm-up, graph capture) and R² on the held-out rows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import r2_score
from torch import nn

from bench.data import FEATURES, Regression
from trainer_service.events import EpochProgress
from trainer_service.models.network_training import build_network
from trainer_service.models.neural_network import NeuralNetworkRegressor

__all__ = ["Run", "HIDDEN", "median_epoch_ms", "plain_torch_loop", "cuda_graph_loop", "skorch_problem", "skorch_run",
           "mlp_regressor", "in_process", "best_of"]

HIDDEN = (128, 64, 32)
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-5
DROPOUT = 0.2
CLIP = 1.0


@dataclass(frozen=True)
class Run:
    """One method on one configuration."""

    method: str
    ms_per_epoch: float
    r2: float
    epochs: int
    note: str = ""


def median_epoch_ms(ends: list[float], start: float = 0.0) -> float:
    """Median of the epoch durations after the first, from epoch end times (seconds since `start`)."""
    durations = np.diff([start, *ends]) * 1000
    return float(statistics.median(durations[1:] if len(durations) > 1 else durations))


def _standardise(data: Regression) -> tuple[float, float]:
    y = data.train[1].astype(np.float64)
    return float(y.mean()), float(y.std())


def _network(seed: int, device: str) -> nn.Module:
    torch.manual_seed(seed)
    return build_network(FEATURES, HIDDEN, 1, DROPOUT).to(device)


def _tensors(data: Regression, device: str) -> tuple[torch.Tensor, ...]:
    mean, std = _standardise(data)
    (x, y), (xv, yv) = data.train, data.validation
    def target(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(((values - mean) / std).astype(np.float32).reshape(-1, 1), device=device)

    return torch.as_tensor(x, device=device), target(y), torch.as_tensor(xv, device=device), target(yv)


def _r2(module: nn.Module, data: Regression, device: str) -> float:
    mean, std = _standardise(data)
    module.eval()
    with torch.no_grad():
        predicted = module(torch.as_tensor(data.validation[0], device=device)).cpu().numpy()[:, 0]
    return float(r2_score(data.validation[1], predicted * std + mean))


def _validation_loss(module: nn.Module, xv: torch.Tensor, yv: torch.Tensor) -> torch.Tensor:
    module.eval()
    with torch.no_grad():
        return nn.functional.mse_loss(module(xv), yv)


def plain_torch_loop(data: Regression, epochs: int, batch_size: int, device: str = "cpu") -> Run:
    """The loop users write: randperm indices per epoch, index gathers, zero_grad / backward / clip / Adam."""
    x, y, xv, yv = _tensors(data, device)
    module = _network(0, device)
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.MSELoss()
    ends: list[float] = []
    started = time.perf_counter()
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(x), device=device)
        total = torch.zeros((), device=device)
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            if len(index) < 2:  # BatchNorm needs two rows
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(module(x[index]), y[index])
            loss.backward()
            nn.utils.clip_grad_norm_(module.parameters(), CLIP)
            optimizer.step()
            total += loss.detach() * len(index)
        # Like the service: the epoch's train and validation loss, read once per epoch.
        torch.stack([total / len(x), _validation_loss(module, xv, yv)]).tolist()
        ends.append(time.perf_counter() - started)
    return Run("plain PyTorch loop", median_epoch_ms(ends), _r2(module, data, device), epochs)


def cuda_graph_loop(data: Regression, epochs: int, batch_size: int) -> Run:
    """The issue's raw CUDA-graph loop: module.parameters() Adam(capturable), static index, one graph."""
    device = "cuda"
    x, y, xv, yv = _tensors(data, device)
    module = _network(0, device)
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY,
                                 capturable=True)
    loss_fn = nn.MSELoss()
    index = torch.arange(batch_size, device=device)
    total = torch.zeros((), device=device)

    def step(rows: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(module(torch.index_select(x, 0, rows)), torch.index_select(y, 0, rows))
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), CLIP)
        optimizer.step()
        total.add_(loss.detach(), alpha=len(rows))

    module.train()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up steps train too; the timing, not the weights, is what counts here
            step(index)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step(index)
    ends: list[float] = []
    started = time.perf_counter()
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(x), device=device)
        total.zero_()
        for start in range(0, len(x), batch_size):
            rows = order[start : start + batch_size]
            if len(rows) == batch_size:
                index.copy_(rows)
                graph.replay()
            elif len(rows) > 1:
                step(rows)
        torch.stack([total / len(x), _validation_loss(module, xv, yv)]).tolist()
        ends.append(time.perf_counter() - started)
    return Run("raw CUDA-graph loop", median_epoch_ms(ends), _r2(module, data, device), epochs)


def skorch_problem() -> str | None:
    """Why skorch does not import here (its ImportError, e.g. a dependency left out), or None."""
    try:
        from skorch import NeuralNetRegressor  # noqa: F401
    except ImportError as error:
        return str(error)
    return None


def skorch_run(data: Regression, epochs: int, batch_size: int, device: str = "cpu") -> Run | None:
    """skorch's NeuralNetRegressor on the same module, optimizer, clipping; None if skorch is missing."""
    try:
        from skorch import NeuralNetRegressor
        from skorch.callbacks import GradientNormClipping
    except ImportError:
        return None
    mean, std = _standardise(data)
    x, y = data.train
    net = NeuralNetRegressor(
        _network(0, device), max_epochs=epochs, batch_size=batch_size, lr=LEARNING_RATE,
        optimizer=torch.optim.Adam, optimizer__weight_decay=WEIGHT_DECAY, criterion=nn.MSELoss,
        train_split=None, iterator_train__shuffle=True, callbacks=[GradientNormClipping(CLIP)],
        device=device, verbose=0,
    )
    net.fit(x, ((y - mean) / std).astype(np.float32).reshape(-1, 1))
    durations = [float(d) * 1000 for d in net.history[:, "dur"]]
    r2 = float(r2_score(data.validation[1], net.predict(data.validation[0])[:, 0] * std + mean))
    return Run("skorch", float(statistics.median(durations[1:] or durations)), r2, epochs)


def mlp_regressor(data: Regression, epochs: int, batch_size: int, threads: int | None) -> Run:
    """scikit-learn's MLPRegressor (same layer sizes and Adam settings; it has no BatchNorm or dropout)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    from threadpoolctl import threadpool_limits

    mean, std = _standardise(data)
    x, y = data.train[0].astype(np.float64), (data.train[1].astype(np.float64) - mean) / std
    model = MLPRegressor(hidden_layer_sizes=HIDDEN, batch_size=batch_size, learning_rate_init=LEARNING_RATE,
                         alpha=WEIGHT_DECAY, random_state=0, shuffle=True)
    durations: list[float] = []
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):  # partial_fit is one epoch of shuffled mini-batches
            started = time.perf_counter()
            model.partial_fit(x, y)
            durations.append((time.perf_counter() - started) * 1000)
    predicted = model.predict(data.validation[0].astype(np.float64)) * std + mean
    r2 = float(r2_score(data.validation[1], predicted))
    label = "all cores" if threads is None else f"{threads} thread"
    return Run(f"MLPRegressor ({label})", float(statistics.median(durations[1:] or durations)), r2, epochs)


class _EpochClock:
    """A ProgressReporter that keeps each epoch's elapsed time."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_phase(self, phase: object) -> None:
        """Ignored."""

    def on_epoch(self, progress: EpochProgress) -> None:
        """Record when the epoch ended."""
        self.ends.append(progress.elapsed_seconds)

    def check_cancelled(self) -> None:
        """Never cancels."""


def in_process(data: Regression, epochs: int, batch_size: int, device: str = "cpu",
               method: str = "MLSuite engine in-process") -> Run:
    """The service's estimator called directly: the same training code without gRPC, jobs or storage."""
    clock = _EpochClock()
    model = NeuralNetworkRegressor(epochs=epochs, batch_size=batch_size, device=device, random_state=0,
                                   reporter=clock)
    model.fit(*data.train, *data.validation)
    r2 = float(r2_score(data.validation[1], model.predict(data.validation[0])))
    return Run(method, median_epoch_ms(clock.ends), r2, epochs)


def best_of(runs: list[Run], pick: Callable[[Run], float] = lambda run: run.ms_per_epoch) -> Run:
    """The fastest of several settings of one baseline (the strongest baseline is the one compared)."""
    return min(runs, key=pick)
