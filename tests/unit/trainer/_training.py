"""Shared by the training-engine tests: seeded data, one training run per engine, state comparison."""

from __future__ import annotations

import torch
from torch import nn

from trainer_service.events import ProgressReporter
from trainer_service.models.network_training import Engine, TrainingSettings, build_network, train_network

__all__ = ["assert_same_state", "nonlinear_data", "train_with", "training_settings"]


def training_settings(**changes: object) -> TrainingSettings:
    """The tests' training settings with `changes` applied."""
    values: dict[str, object] = dict(
        epochs=3, learning_rate=0.01, batch_size=32, weight_decay=1e-3, gradient_clip_norm=0.5,
        early_stopping=False, patience=10, lr_schedule="none",
    )
    values.update(changes)
    return TrainingSettings(**values)  # type: ignore[arg-type]


def nonlinear_data(rows: int = 203, features: int = 6, classes: int = 0,
                   device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Non-linear data: 203 rows leave a short last batch of 11 at batch size 32."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(rows, features, generator=generator)
    y = torch.sin(x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3]
    if classes:
        codes = torch.bucketize(y, torch.quantile(y, torch.linspace(0, 1, classes + 1)[1:-1]))
        return x.to(device), codes.to(device)
    return x.to(device), y.reshape(-1, 1).to(device)


def train_with(engine: Engine, *, dropout: float = 0.0, classes: int = 0, device: str = "cpu",
               loss_fn: nn.Module | None = None, rows: int = 203, features: int = 6,
               hidden: tuple[int, ...] = (16, 8), validate: bool = False,
               reporter: ProgressReporter | None = None, **changes: object) -> tuple[nn.Module, list[float]]:
    """Train a fresh seeded network with `engine`; returns it and its per-epoch training losses.

    validate holds out the last 53 rows as the validation split (what reduce_on_plateau and early
    stopping watch)."""
    x, y = nonlinear_data(rows=rows, features=features, classes=classes, device=device)
    validation = (x[-53:], y[-53:]) if validate else None
    train = (x[:-53], y[:-53]) if validate else (x, y)
    torch.manual_seed(0)
    module = build_network(x.shape[1], hidden, max(classes, 1), dropout).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    loss = loss_fn or (nn.CrossEntropyLoss() if classes else nn.MSELoss())
    history = train_network(module, loss, train, validation, settings=training_settings(**changes),
                            generator=generator, reporter=reporter, engine=engine)
    return module, history.train_losses


def assert_same_state(first: nn.Module, second: nn.Module, *, rtol: float, atol: float) -> None:
    """Every state_dict entry (weights, BatchNorm statistics and counts) of the two modules alike."""
    one, two = first.state_dict(), second.state_dict()
    assert one.keys() == two.keys()
    for name, value in one.items():
        torch.testing.assert_close(two[name].cpu(), value.cpu(), rtol=rtol, atol=atol, msg=name)
