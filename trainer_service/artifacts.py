"""The on-disk form of a trained model, written and read without ever unpickling foreign bytes.

A model directory holds `model.json` (the manifest), `preprocessor.skops` (the fitted
ColumnTransformer) and either `estimator.skops` (scikit-learn) or `network.safetensors` +
`network.json` (torch). skops files are loaded only when every type they name that skops does not
trust by default is in TRUSTED_SKOPS_TYPES below.
"""

from __future__ import annotations

import json
import logging
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import skops.io
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.compose import ColumnTransformer

from mlsuite_common.errors import FailedPrecondition
from trainer_service.models import NEURAL_NETWORK_TYPES
from trainer_service.preprocessing import FEATURE_DTYPES, FeatureColumn
from trainer_service.registry import ModelCategory

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_SKOPS_TYPES",
    "ModelManifest",
    "save_model",
    "load_manifest",
    "load_trusted",
    "load_parts",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_FILE = "model.json"
PREPROCESSOR_FILE = "preprocessor.skops"
ESTIMATOR_FILE = "estimator.skops"
WEIGHTS_FILE = "network.safetensors"
NETWORK_FILE = "network.json"

# Types beyond skops' default trust list that our own fitted objects contain; anything else is refused.
TRUSTED_SKOPS_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    }
)


@dataclass(frozen=True)
class ModelManifest:
    """What a model directory holds: model type, category, input schema, classes and library versions."""

    model_type: str
    category: ModelCategory
    feature_schema: tuple[FeatureColumn, ...]
    classes: tuple[str, ...]
    library_versions: dict[str, str]


def _invalid(message: str) -> FailedPrecondition:
    return FailedPrecondition(message, reason="MODEL_ARTIFACT_INVALID")


def save_model(
    directory: pathlib.Path,
    manifest: ModelManifest,
    preprocessor: ColumnTransformer,
    estimator: BaseEstimator,
) -> None:
    """Write manifest, preprocessor and estimator into `directory` (which the caller renames as a whole)."""
    skops.io.dump(preprocessor, directory / PREPROCESSOR_FILE)
    if manifest.model_type in NEURAL_NETWORK_TYPES:
        from safetensors.torch import save_file

        save_file(estimator.state_tensors(), str(directory / WEIGHTS_FILE))
        (directory / NETWORK_FILE).write_text(
            json.dumps(estimator.network_config(), indent=2), encoding="utf-8"
        )
    else:
        skops.io.dump(estimator, directory / ESTIMATOR_FILE)
    document = {
        "format_version": FORMAT_VERSION,
        "model_type": manifest.model_type,
        "category": manifest.category.value,
        "feature_schema": [
            {"name": column.name, "dtype": column.dtype} for column in manifest.feature_schema
        ],
        "classes": list(manifest.classes),
        "library_versions": manifest.library_versions,
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(document, indent=2), encoding="utf-8")


def _read_json(path: pathlib.Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _invalid(f"model file {path.name!r} is missing or not valid JSON") from error
    if not isinstance(document, dict):
        raise _invalid(f"model file {path.name!r} is not a JSON object")
    return document


def load_manifest(directory: pathlib.Path) -> ModelManifest:
    """The manifest of a model directory, checked for format version and a well-formed schema."""
    document = _read_json(directory / MANIFEST_FILE)
    if document.get("format_version") != FORMAT_VERSION:
        raise _invalid(f"model format version {document.get('format_version')!r} is not {FORMAT_VERSION}")
    try:
        schema = tuple(
            FeatureColumn(str(item["name"]), str(item["dtype"])) for item in document["feature_schema"]
        )
        manifest = ModelManifest(
            model_type=str(document["model_type"]),
            category=ModelCategory(document["category"]),
            feature_schema=schema,
            classes=tuple(str(label) for label in document["classes"]),
            library_versions={str(key): str(value) for key, value in document["library_versions"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _invalid("model manifest is malformed") from error
    if any(column.dtype not in FEATURE_DTYPES for column in schema):
        raise _invalid("model manifest names an unknown feature dtype")
    return manifest


def load_trusted(path: pathlib.Path) -> object:
    """A skops file's object; any type beyond skops' defaults and our allow-list is UNTRUSTED_ARTIFACT."""
    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # a truncated or foreign file: skops raises zip / JSON / key errors
        raise _invalid(f"model file {path.name!r} is not a readable skops file") from error
    refused = sorted(set(untrusted) - TRUSTED_SKOPS_TYPES)
    if refused:
        logger.error("refusing %s: untrusted types %s", path, refused)
        raise FailedPrecondition(
            f"model file {path.name!r} contains types this server does not trust: {', '.join(refused)}",
            reason="UNTRUSTED_ARTIFACT",
        )
    try:
        return skops.io.load(path, trusted=sorted(untrusted))
    except Exception as error:  # the file vanished (DeleteModel) or changed since the check above
        raise _invalid(f"model file {path.name!r} is not a readable skops file") from error


def load_parts(
    directory: pathlib.Path, manifest: ModelManifest, device: str = "cpu"
) -> tuple[ColumnTransformer, BaseEstimator]:
    """The fitted preprocessor and estimator of a model directory (torch weights placed on `device`)."""
    preprocessor = load_trusted(directory / PREPROCESSOR_FILE)
    _check_preprocessor(preprocessor, manifest)
    if manifest.model_type in NEURAL_NETWORK_TYPES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from trainer_service.models import neural_network

        try:
            tensors = load_file(str(directory / WEIGHTS_FILE), device="cpu")
        except (OSError, SafetensorError) as error:
            raise _invalid(f"model file {WEIGHTS_FILE!r} is missing or unreadable") from error
        try:
            estimator: object = neural_network.restore(_read_json(directory / NETWORK_FILE), tensors, device)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise _invalid("the network description does not match its weights") from error
    else:
        estimator = load_trusted(directory / ESTIMATOR_FILE)
    _check_estimator(estimator, manifest)
    return preprocessor, estimator  # type: ignore[return-value]


def _check_preprocessor(preprocessor: object, manifest: ModelManifest) -> None:
    """A fitted ColumnTransformer over exactly the manifest's features, or MODEL_ARTIFACT_INVALID."""
    if not isinstance(preprocessor, ColumnTransformer) or not hasattr(preprocessor, "transformers_"):
        raise _invalid("the model's preprocessor is not a fitted ColumnTransformer")
    expected = [column.name for column in manifest.feature_schema]
    if [str(name) for name in getattr(preprocessor, "feature_names_in_", ())] != expected:
        raise _invalid("the model's preprocessor was fitted on other features than its manifest names")


def _check_estimator(estimator: object, manifest: ModelManifest) -> None:
    """An estimator of the manifest's category that answers Predict, or MODEL_ARTIFACT_INVALID.

    Any trusted type loads from a skops file, so a swapped file (another model's preprocessor, a
    classifier under a regression manifest) is caught here rather than as an AttributeError in Predict.
    """
    if not isinstance(estimator, BaseEstimator):
        raise _invalid("the model's estimator is not a scikit-learn estimator")
    if manifest.category is ModelCategory.REGRESSION:
        if not is_regressor(estimator) or not callable(getattr(estimator, "predict", None)):
            raise _invalid(f"the model's estimator is not a regressor, as model type {manifest.model_type!r} is")
        return
    if not is_classifier(estimator) or not callable(getattr(estimator, "predict_proba", None)):
        raise _invalid(f"the model's estimator is not a classifier, as model type {manifest.model_type!r} is")
    codes = getattr(estimator, "classes_", None)
    try:
        in_range = codes is not None and all(0 <= int(code) < len(manifest.classes) for code in codes)
    except (TypeError, ValueError):
        in_range = False
    if not in_range:
        raise _invalid("the model's estimator predicts other classes than its manifest names")
