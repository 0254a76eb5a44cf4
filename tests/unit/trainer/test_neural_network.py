"""The torch network estimators: learning, schedules, early stopping, divergence, cancel, persistence."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score, r2_score

from mlsuite_common.errors import FailedPrecondition
from trainer_service.events import JobCancelled
from trainer_service.models import TrainingDiverged
from trainer_service.models.network_training import batch_bounds, build_network
from trainer_service.models.neural_network import NeuralNetworkClassifier, NeuralNetworkRegressor, restore

FAST = {"hidden_layers": (64, 32), "batch_size": 128, "learning_rate": 0.01, "dropout_rate": 0.0}


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny networks are fastest single-threaded, and robust on a busy CI host."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nonlinear() -> tuple[np.ndarray, np.ndarray]:
    """2000 rows of y = sin(x0) + x1^2 + 0.5 x2 x3 + small noise."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(2000, 4))
    y = np.sin(x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3] + rng.normal(0, 0.05, 2000)
    return x, y


def test_network_architecture_matches_the_seed() -> None:
    network = build_network(5, (16, 8), 3, 0.1)
    kinds = [type(layer).__name__ for layer in network]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert network[0].in_features == 5 and network[-1].out_features == 3


def test_batch_bounds_never_leave_a_single_row_batch() -> None:
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 9)]
    assert batch_bounds(2, 8) == [(0, 2)]


def test_regressor_learns_a_nonlinear_function(
    nonlinear: tuple[np.ndarray, np.ndarray], make_reporter: Callable[..., object]
) -> None:
    x, y = nonlinear
    reporter = make_reporter()
    model = NeuralNetworkRegressor(**FAST, epochs=30, random_state=0, reporter=reporter)
    assert model.fit(x[:1600], y[:1600], X_val=x[1600:], y_val=y[1600:]) is model
    assert r2_score(y[1600:], model.predict(x[1600:])) >= 0.9
    assert model.device_ == "cpu" and model.n_features_in_ == 4 and model.n_epochs_ == 30
    epochs = reporter.epochs
    assert [progress.epoch for progress in epochs] == list(range(1, 31))
    assert all(progress.total_epochs == 30 and progress.validation_loss is not None for progress in epochs)
    assert epochs[-1].train_loss < epochs[0].train_loss / 5
    assert epochs[-1].eta_seconds == 0.0 and epochs[-1].elapsed_seconds > 0
    assert all(progress.samples_per_second > 0 and progress.learning_rate == 0.01 for progress in epochs)
    # one cancellation check per batch: 1600 rows in batches of 128 -> 13 batches per epoch
    assert reporter.checks == 30 * 13


def test_classifier_reaches_high_accuracy(nonlinear: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = nonlinear
    labels = np.where(x[:, 0] + x[:, 1] ** 2 > 1.5, "high", np.where(x[:, 2] > 0, "mid", "low"))
    model = NeuralNetworkClassifier(**FAST, epochs=30, random_state=0).fit(x[:1600], labels[:1600])
    assert list(model.classes_) == ["high", "low", "mid"]
    assert accuracy_score(labels[1600:], model.predict(x[1600:])) >= 0.9
    probabilities = model.predict_proba(x[1600:])
    assert probabilities.shape == (400, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_same_seed_gives_the_same_network(nonlinear: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = nonlinear
    first = NeuralNetworkRegressor(**FAST, epochs=10, random_state=3).fit(x[:500], y[:500])
    second = clone(first).fit(x[:500], y[:500])
    np.testing.assert_array_equal(first.predict(x[500:600]), second.predict(x[500:600]))


def test_early_stopping_restores_the_best_weights() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 8))
    y = x[:, 0] + rng.normal(0, 1.0, 120)  # noisy and small: a wide network overfits quickly
    model = NeuralNetworkRegressor(
        hidden_layers=(256, 256),
        epochs=300,
        batch_size=16,
        learning_rate=0.01,
        dropout_rate=0.0,
        weight_decay=0.0,
        early_stopping=True,
        patience=5,
        random_state=0,
    )
    model.fit(x[:80], y[:80], X_val=x[80:], y_val=y[80:])
    curve = model.validation_loss_curve_
    assert model.n_epochs_ < 300
    assert model.best_epoch_ == int(np.argmin(curve)) + 1
    assert model.n_epochs_ == model.best_epoch_ + 5
    # the weights in place are the best epoch's: their validation loss is the curve's minimum
    standardised = (model.predict(x[80:]) - y[80:]) / model.target_std_
    assert float(np.mean(standardised**2)) == pytest.approx(min(curve), rel=1e-4)
    assert min(curve) < curve[-1]


def test_learning_rate_schedules(
    nonlinear: tuple[np.ndarray, np.ndarray], make_reporter: Callable[..., object]
) -> None:
    x, y = nonlinear
    cosine = make_reporter()
    NeuralNetworkRegressor(**FAST, epochs=10, lr_schedule="cosine", reporter=cosine).fit(x[:400], y[:400])
    rates = [progress.learning_rate for progress in cosine.epochs]
    assert rates[0] == 0.01 and all(later < earlier for earlier, later in itertools.pairwise(rates))
    assert rates[5] == pytest.approx(0.005)  # half-way through a cosine over 10 epochs
    plateau = make_reporter()
    NeuralNetworkRegressor(**FAST, epochs=10, lr_schedule="reduce_on_plateau", reporter=plateau).fit(
        x[:400], y[:400], X_val=x[400:500], y_val=y[400:500]
    )
    assert all(progress.learning_rate <= 0.01 for progress in plateau.epochs)


def test_infinite_inputs_make_training_diverge() -> None:
    x = np.ones((40, 3))
    x[::2, 0] = 1e39  # beyond float32: becomes inf on the device
    with pytest.raises(TrainingDiverged) as caught:
        NeuralNetworkRegressor(**FAST, epochs=10).fit(x, np.arange(40.0))
    assert caught.value.reason == "TRAINING_DIVERGED"
    assert "at epoch 1" in caught.value.message and "learning_rate" in caught.value.message


def test_a_target_that_overflows_is_refused() -> None:
    with pytest.raises(TrainingDiverged):
        NeuralNetworkRegressor(**FAST, epochs=10).fit(np.ones((4, 1)), np.array([1e300, -1e300, 1e300, 0.0]))


def test_non_finite_outputs_are_never_returned(nonlinear: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = nonlinear
    model = NeuralNetworkRegressor(**FAST, epochs=10).fit(x[:300], y[:300])
    with pytest.raises(FailedPrecondition) as caught:
        model.predict(np.full((1, 4), 1e39))
    assert caught.value.reason == "NON_FINITE_PREDICTION"


def test_cancel_mid_fit_propagates(
    nonlinear: tuple[np.ndarray, np.ndarray], make_reporter: Callable[..., object]
) -> None:
    x, y = nonlinear
    reporter = make_reporter(cancel_after=20)
    with pytest.raises(JobCancelled):
        NeuralNetworkRegressor(**FAST, epochs=50, reporter=reporter).fit(x[:1600], y[:1600])
    assert reporter.checks == 21
    assert len(reporter.epochs) == 1  # 13 batches per epoch: cancelled during the second epoch


def test_restore_reproduces_predictions_and_odd_batch_sizes_train(
    nonlinear: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = nonlinear
    labels = (x[:, 0] > 0).astype(np.int64)
    model = NeuralNetworkClassifier(**{**FAST, "batch_size": 8, "dropout_rate": 0.2}, epochs=10).fit(
        x[:33], labels[:33]
    )
    copy = restore(model.network_config(), model.state_tensors())
    assert isinstance(copy, NeuralNetworkClassifier)
    np.testing.assert_array_equal(copy.classes_, [0, 1])
    np.testing.assert_allclose(copy.predict_proba(x[100:200]), model.predict_proba(x[100:200]))


def test_predict_is_safe_while_weights_are_replaced(nonlinear: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = nonlinear
    model = NeuralNetworkRegressor(**FAST, epochs=10).fit(x[:300], y[:300])
    expected = model.predict(x[:64])
    tensors = model.state_tensors()
    failures: list[BaseException] = []
    stop = threading.Event()

    def predict_loop() -> None:
        try:
            while not stop.is_set():
                np.testing.assert_allclose(model.predict(x[:64]), expected, rtol=1e-6)
        except BaseException as error:  # reported to the main thread
            failures.append(error)

    threads = [threading.Thread(target=predict_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(30):
        model.load_weights(4, tensors)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_and_restoring_on_cpu(
    nonlinear: tuple[np.ndarray, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    x, y = nonlinear
    with caplog.at_level(logging.INFO, logger="trainer_service.models"):
        model = NeuralNetworkRegressor(**FAST, epochs=30, device="cuda").fit(
            x[:1600], y[:1600], X_val=x[1600:], y_val=y[1600:]
        )
    assert "captured the training step in a CUDA graph" in caplog.text  # not the eager fallback
    assert model.device_.startswith("cuda:")
    assert r2_score(y[1600:], model.predict(x[1600:])) >= 0.9
    tensors = model.state_tensors()
    assert all(tensor.device.type == "cpu" for tensor in tensors.values())
    on_cpu = restore(model.network_config(), tensors, "cpu")
    np.testing.assert_allclose(on_cpu.predict(x[1600:]), model.predict(x[1600:]), rtol=1e-3, atol=1e-3)
