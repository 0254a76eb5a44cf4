"""scikit-learn style regressor and classifier around the seed's AdvancedNN (see network_training).

The regressor standardises its target and has one output; the classifier has one logit per class.
"""

from __future__ import annotations

import abc
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from mlsuite_common.errors import FailedPrecondition
from trainer_service.events import ProgressReporter
from trainer_service.models import TrainingDiverged
from trainer_service.models.cpu_inference import FoldedNetwork
from trainer_service.models.network_training import (
    TrainingSettings,
    as_float32,
    build_network,
    forward_in_chunks,
    torch_device,
    train_network,
)

__all__ = ["HYPERPARAMETER_NAMES", "NeuralNetworkRegressor", "NeuralNetworkClassifier", "restore"]

logger = logging.getLogger(__name__)

HYPERPARAMETER_NAMES: tuple[str, ...] = (
    *("hidden_layers", "epochs", "learning_rate", "batch_size", "dropout_rate", "weight_decay"),
    *("gradient_clip_norm", "early_stopping", "patience", "lr_schedule"),
)


def _non_finite_output() -> FailedPrecondition:
    return FailedPrecondition(
        "the network produced a non-finite output; an input value is probably far outside the training range",
        reason="NON_FINITE_PREDICTION",
    )


class _NeuralNetwork(BaseEstimator, metaclass=abc.ABCMeta):
    """Shared fit / predict / persistence of the regressor and classifier; subclasses define the target."""

    def __init__(
        self,
        hidden_layers: tuple[int, ...] = (128, 64, 32),
        epochs: int = 100,
        learning_rate: float = 0.001,
        batch_size: int = 32,
        dropout_rate: float = 0.2,
        weight_decay: float = 1e-5,
        gradient_clip_norm: float = 1.0,
        early_stopping: bool = False,
        patience: int = 10,
        lr_schedule: str = "none",
        device: str = "cpu",
        random_state: int = 0,
        reporter: ProgressReporter | None = None,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.dropout_rate = dropout_rate
        self.weight_decay = weight_decay
        self.gradient_clip_norm = gradient_clip_norm
        self.early_stopping = early_stopping
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.device = device
        self.random_state = random_state
        self.reporter = reporter
        # Guards module_: a predict must never see weights half replaced by a load.
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        """Learn the target encoding from the training targets and return them encoded."""

    @abc.abstractmethod
    def _validation_targets(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoded validation targets and the mask of rows that can be scored."""

    @abc.abstractmethod
    def _loss(self) -> nn.Module:
        """The training loss."""

    @abc.abstractmethod
    def _n_outputs(self) -> int:
        """Units of the output layer."""

    @abc.abstractmethod
    def _target_config(self) -> dict[str, Any]:
        """JSON-ready target encoding (mean/std or classes)."""

    @abc.abstractmethod
    def _restore_target(self, config: Mapping[str, Any]) -> None:
        """Set the target encoding from _target_config() output."""

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> _NeuralNetwork:
        """Train on (X, y); (X_val, y_val), when given, drive early stopping and reduce_on_plateau."""
        features = as_float32(X)
        targets = self._encode_targets(np.asarray(y))
        device = torch_device(self.device)
        torch.manual_seed(self.random_state)
        generator = torch.Generator(device=device)
        generator.manual_seed(self.random_state)
        module = build_network(
            features.shape[1], self.hidden_layers, self._n_outputs(), self.dropout_rate
        ).to(device)
        train = (torch.as_tensor(features, device=device), torch.as_tensor(targets, device=device))
        validation = None
        if X_val is not None and y_val is not None and len(X_val) > 0:
            encoded, keep = self._validation_targets(np.asarray(y_val))
            if keep.any():
                rows = as_float32(X_val)[keep]
                validation = (
                    torch.as_tensor(rows, device=device),
                    torch.as_tensor(encoded[keep], device=device),
                )
        logger.info("training %s on %s: %d rows x %d features", type(self).__name__, device, *features.shape)
        settings = TrainingSettings(
            **{field.name: getattr(self, field.name) for field in fields(TrainingSettings)}
        )
        history = train_network(
            module,
            self._loss(),
            train,
            validation,
            settings=settings,
            generator=generator,
            reporter=self.reporter,
        )
        self.loss_curve_ = history.train_losses
        self.validation_loss_curve_ = history.validation_losses
        self.best_epoch_ = history.best_epoch
        self.n_epochs_ = len(history.train_losses)
        self._install(module.eval(), features.shape[1], str(device))
        return self

    def _install(self, module: nn.Module, n_features: int, device: str) -> None:
        # On the CPU, predictions run through the BatchNorm-folded numpy copy (see cpu_inference).
        folded = FoldedNetwork.compile(module) if torch.device(device).type == "cpu" else None
        with self._lock:
            self.module_ = module
            self._folded = folded
            self.n_features_in_ = n_features
            self.device_ = device

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Network outputs (after the subclass's output transform) as float64, never silently non-finite."""
        if "module_" not in self.__dict__:  # check_is_fitted's full scan costs more than a one-row forward
            check_is_fitted(self, "module_")
        with self._lock:
            module, folded = self.module_, self._folded
        if folded is not None:
            # One errstate for the float32 cast and the products (as_float32's own, inlined): each
            # numpy call counts in a one-row Predict. The folded layers give (rows, outputs) already.
            with np.errstate(over="ignore", invalid="ignore"):
                result = self._transform_array(folded(np.ascontiguousarray(X, dtype=np.float32)))
            result = result.astype(np.float64)
        else:
            features = as_float32(X)
            with self._lock:
                outputs = forward_in_chunks(module, features, self._transform_output).numpy()
            result = outputs.astype(np.float64).reshape(len(X), self._n_outputs())
        if not np.isfinite(result).all():
            raise _non_finite_output()
        return result

    def _transform_output(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def _transform_array(self, outputs: np.ndarray) -> np.ndarray:
        return outputs

    def network_config(self) -> dict[str, Any]:
        """JSON-ready description to rebuild this fitted network: hyperparameters, architecture, target."""
        check_is_fitted(self, "module_")
        hyperparameters: dict[str, Any] = {name: getattr(self, name) for name in HYPERPARAMETER_NAMES}
        hyperparameters["hidden_layers"] = list(self.hidden_layers)
        return {
            "estimator": type(self).__name__,
            "hyperparameters": hyperparameters,
            "random_state": self.random_state,
            "architecture": {"n_features": self.n_features_in_, "n_outputs": self._n_outputs()},
            "target": self._target_config(),
        }

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The fitted weights (BatchNorm statistics included) as contiguous CPU tensors."""
        check_is_fitted(self, "module_")
        with self._lock:
            return {
                name: value.detach().cpu().contiguous() for name, value in self.module_.state_dict().items()
            }

    def load_weights(self, n_features: int, tensors: Mapping[str, torch.Tensor], device: str = "cpu") -> None:
        """Build the network for n_features inputs, load `tensors` strictly and swap it in under the lock."""
        target = torch_device(device)
        module = build_network(n_features, self.hidden_layers, self._n_outputs(), self.dropout_rate)
        module.load_state_dict(dict(tensors), strict=True)
        self._install(module.to(target).eval(), n_features, str(target))


class NeuralNetworkRegressor(RegressorMixin, _NeuralNetwork):
    """Neural-network regressor on an MSE loss; the target is standardised with training mean and std."""

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        values = y.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = float(values.mean()), float(values.std())
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise TrainingDiverged(
                "the target's mean or standard deviation overflows; rescale the target column"
            )
        self.target_mean_ = mean
        self.target_std_ = std if std > 0 else 1.0
        return self._standardise(values)

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        return (
            ((values.astype(np.float64) - self.target_mean_) / self.target_std_)
            .astype(np.float32)
            .reshape(-1, 1)
        )

    def _validation_targets(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._standardise(y), np.ones(len(y), dtype=bool)

    def _loss(self) -> nn.Module:
        return nn.MSELoss()

    def _n_outputs(self) -> int:
        return 1

    def _target_config(self) -> dict[str, Any]:
        return {"mean": self.target_mean_, "std": self.target_std_}

    def _restore_target(self, config: Mapping[str, Any]) -> None:
        self.target_mean_ = float(config["mean"])
        self.target_std_ = float(config["std"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions on the target's original scale."""
        return self._forward(X)[:, 0] * self.target_std_ + self.target_mean_

    def predict_rows(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """predict() of a few rows, given and answered as Python floats: the same bits as predict().

        A one-row Predict pays several microseconds per numpy call in the server (code and data gone cold
        in grpc's thread hand-offs). With the folded CPU network, numpy runs only the layers; the target's
        rescaling is the same float64 multiply and add, on Python floats.
        """
        if "module_" not in self.__dict__:
            check_is_fitted(self, "module_")
        with self._lock:
            folded = self._folded
        if folded is None:
            return self.predict(np.array(rows, dtype=np.float64)).tolist()
        with np.errstate(over="ignore", invalid="ignore"):
            outputs = folded(np.array(rows, dtype=np.float32))[:, 0].tolist()
        if not all(map(math.isfinite, outputs)):
            raise _non_finite_output()
        return [output * self.target_std_ + self.target_mean_ for output in outputs]


class NeuralNetworkClassifier(ClassifierMixin, _NeuralNetwork):
    """Neural-network classifier on a cross-entropy loss with one logit per training class."""

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        self.classes_ = np.unique(y)
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _validation_targets(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A validation class never seen in training has no logit and cannot be scored.
        keep = np.isin(y, self.classes_)
        codes = np.zeros(len(y), dtype=np.int64)
        codes[keep] = np.searchsorted(self.classes_, y[keep])
        return codes, keep

    def _loss(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _target_config(self) -> dict[str, Any]:
        return {"classes": self.classes_.tolist()}

    def _restore_target(self, config: Mapping[str, Any]) -> None:
        self.classes_ = np.asarray(config["classes"])

    def _transform_output(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=1)

    def _transform_array(self, outputs: np.ndarray) -> np.ndarray:
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of classes_."""
        return self._forward(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        return self.classes_[self._forward(X).argmax(axis=1)]


def restore(
    config: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], device: str = "cpu"
) -> _NeuralNetwork:
    """A fitted estimator from network_config() output and state_tensors() output."""
    kind = {kind.__name__: kind for kind in (NeuralNetworkRegressor, NeuralNetworkClassifier)}[
        config["estimator"]
    ]
    values = dict(config["hyperparameters"])
    values["hidden_layers"] = tuple(int(units) for units in values["hidden_layers"])
    estimator = kind(**values, device=device, random_state=int(config["random_state"]))
    estimator._restore_target(config["target"])
    estimator.load_weights(int(config["architecture"]["n_features"]), tensors, device)
    return estimator
