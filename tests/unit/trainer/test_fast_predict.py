"""The Predict fast path: instance columns, the numpy feature encoder and the BatchNorm-folded network.

Each fast part is checked against the library path it replaces: scikit-learn's ColumnTransformer
(bit for bit) and the torch module (to float32 rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from google.protobuf import struct_pb2
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from torch import nn

from mlsuite_common.errors import FailedPrecondition, InvalidArgument
from trainer_service import convert
from trainer_service.feature_encoder import FeatureEncoder
from trainer_service.instances import FeatureLayout, instance_columns, numeric_table
from trainer_service.models.cpu_inference import FoldedNetwork
from trainer_service.models.network_training import build_network
from trainer_service.models.neural_network import NeuralNetworkClassifier, NeuralNetworkRegressor
from trainer_service.preprocessing import (
    VALUE_LIMIT,
    FeatureColumn,
    build_preprocessor,
    infer_feature_schema,
    normalize_features,
)


def _training_frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "d": rng.normal(3.0, 2.0, rows),
            "i": pd.Series(rng.integers(-50, 50, rows), dtype="int64"),
            "b": rng.integers(0, 2, rows).astype(bool),
            "s": rng.choice(["red", "green", "blue"], rows).astype(object),
            "t": rng.choice(["x", "y"], rows).astype(object),
            "k": rng.normal(0.0, 1e-9, rows),  # nearly constant: a tiny scale
        }
    )
    frame.loc[::7, "d"] = np.nan
    frame.loc[::11, "s"] = None
    return frame


def _instances(rows: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(11)
    instances: list[dict[str, object]] = []
    for index in range(rows):
        instances.append(
            {
                "d": None if index % 5 == 0 else float(rng.normal(3.0, 2.0)),
                "i": int(rng.integers(-80, 80)),
                "b": bool(index % 2) if index % 9 else None,
                "s": ["red", "green", "blue", "never-seen", None][index % 5],
                "t": "x" if index % 3 else float("nan"),
                "k": float(rng.normal()),
                "ignored": "extra keys are fine",
            }
        )
    return instances


@pytest.fixture(scope="module")
def fitted() -> tuple[tuple[FeatureColumn, ...], ColumnTransformer]:
    frame = _training_frame()
    schema = infer_feature_schema(frame, list(frame.columns))
    normalised = normalize_features(frame, schema)
    return schema, build_preprocessor(normalised, schema).fit(normalised)


@pytest.mark.parametrize("rows", [1, 2, 57])
def test_encoder_output_is_bit_for_bit_scikit_learns(fitted, rows: int) -> None:
    schema, transformer = fitted
    encoder = FeatureEncoder.compile(transformer)
    assert encoder is not None
    columns = instance_columns(_instances(rows), FeatureLayout.of(schema))
    expected = transformer.transform(columns.frame())
    encoded = encoder.encode(columns)
    assert encoded.dtype == np.float64 and encoded.shape == expected.shape == (rows, encoder.width)
    np.testing.assert_array_equal(encoded, expected)


@pytest.mark.parametrize("rows", [1, 5, 57])
def test_a_numeric_encoder_encodes_python_float_rows_bit_for_bit(fitted, rows: int) -> None:
    frame = _training_frame()[["d", "i", "b", "k"]]
    schema = infer_feature_schema(frame, list(frame.columns))
    normalised = normalize_features(frame, schema)
    transformer = build_preprocessor(normalised, schema).fit(normalised)
    encoder = FeatureEncoder.compile(transformer)
    assert encoder is not None and encoder.numeric_inputs == ("d", "i", "b", "k")
    layout = FeatureLayout.of(schema)
    instances = _instances(rows)
    instances[0]["k"] = 3e38  # beyond the limit once divided by k's tiny scale: clipped
    columns = instance_columns(instances, layout)
    expected = transformer.transform(columns.frame())
    np.testing.assert_array_equal(encoder.encode(columns), expected)
    encoded = encoder.encode_rows(numeric_table(instances, layout))
    assert encoded is not None
    clipped = np.clip(expected, -VALUE_LIMIT, VALUE_LIMIT)
    assert np.array(encoded).tobytes() == clipped.tobytes() and np.abs(clipped[0]).max() == VALUE_LIMIT
    instances[0]["d"] = -1e39  # beyond the limit as given: the array path refuses it by name
    assert encoder.encode_rows(numeric_table(instances, layout)) is None
    mixed = FeatureEncoder.compile(fitted[1])
    assert mixed is not None and mixed.numeric_inputs is None and mixed.encode_rows([[1.0]]) is None


def test_encoder_imputes_and_ignores_unseen_categories(fitted) -> None:
    schema, transformer = fitted
    encoder = FeatureEncoder.compile(transformer)
    assert encoder is not None
    instance = {"d": None, "i": 0, "b": True, "s": "never-seen", "t": None, "k": 0.0}
    row = encoder.encode(instance_columns([instance], FeatureLayout.of(schema)))[0]
    numeric = transformer.named_transformers_["numeric"]
    scaler = numeric.named_steps["scale"]
    median_d = numeric.named_steps["impute"].statistics_[0]
    assert row[0] == pytest.approx((median_d - scaler.mean_[0]) / scaler.scale_[0])
    onehot = transformer.named_transformers_["categorical"].named_steps["onehot"]
    s_width = len(onehot.categories_[0])
    categorical = row[len(scaler.mean_) :]
    assert categorical[:s_width].tolist() == [0.0] * s_width  # an unseen colour is all zeros
    assert categorical[s_width:].sum() == 1.0  # the missing "t" takes the most frequent value


def test_transformers_of_another_shape_are_not_compiled(fitted) -> None:
    frame = _training_frame()
    numeric = ["d", "i", "k"]
    shapes = [
        ColumnTransformer([("n", StandardScaler(), numeric)]),  # no pipeline
        ColumnTransformer(
            [("n", Pipeline([("m", SimpleImputer()), ("s", StandardScaler())]), numeric)],
            remainder="passthrough",
        ),
        ColumnTransformer(
            [("n", Pipeline([("m", SimpleImputer(add_indicator=True)), ("s", StandardScaler())]), numeric)]
        ),
        ColumnTransformer(
            [
                (
                    "c",
                    Pipeline(
                        [
                            ("m", SimpleImputer(strategy="most_frequent")),
                            (
                                "o",
                                OneHotEncoder(
                                    min_frequency=5, handle_unknown="infrequent_if_exist", sparse_output=False
                                ),
                            ),
                        ]
                    ),
                    ["s"],
                )
            ]
        ),
    ]
    for transformer in shapes:
        transformer.fit(frame[[*numeric, "s", "b", "t"]].assign(s=frame["s"].fillna("red")))
        assert FeatureEncoder.compile(transformer) is None


def test_instance_columns_gather_numbers_bools_and_strings() -> None:
    schema = (
        FeatureColumn("n", "double"),
        FeatureColumn("s", "string"),
        FeatureColumn("b", "bool"),
        FeatureColumn("i", "int64"),
    )
    columns = instance_columns(
        [
            {"n": 1, "s": "a", "b": False, "i": 3.0},
            {"n": np.float64("nan"), "s": None, "b": None, "i": None},
            {"n": np.float32(2.5), "s": float("nan"), "b": np.bool_(True), "i": 7},
        ],
        FeatureLayout.of(schema),
    )
    assert columns.numeric_names == ("n", "b", "i")
    np.testing.assert_array_equal(
        columns.numeric, [[1.0, 0.0, 3.0], [np.nan, np.nan, np.nan], [2.5, 1.0, 7.0]]
    )
    assert (
        columns.strings["s"][0] == "a"
        and np.isnan(columns.strings["s"][1])
        and np.isnan(columns.strings["s"][2])
    )
    np.testing.assert_array_equal(columns.numeric_of(["i", "n"]), [[3.0, 1.0], [np.nan, np.nan], [7.0, 2.5]])
    frame = columns.frame()
    assert list(frame.columns) == ["n", "b", "i", "s"] and len(frame) == 3


@pytest.mark.parametrize(
    ("instances", "reason", "field"),
    [
        ([{"n": 1.0, "b": True}, {"b": True}], "MISSING_FEATURE", "instances[1].n"),
        ([{"n": 1.0, "b": True}, {"n": 2.0}], "MISSING_FEATURE", "instances[1].b"),
        ([{"n": 1.0, "b": True}, {"n": float("inf"), "b": False}], "INVALID_FEATURE_VALUE", "instances[1].n"),
        ([{"n": 1.0, "b": True}, {"n": 1.0, "b": 1.0}], "INVALID_FEATURE_TYPE", "instances[1].b"),
        ([{"n": [1.0], "b": True}], "INVALID_FEATURE_TYPE", "instances[0].n"),
        ([{"n": 1.0, "b": True}, {"n": 1.0, "b": "yes"}], "INVALID_FEATURE_TYPE", "instances[1].b"),
    ],
)
def test_a_bad_value_is_named_by_instance_and_feature(instances, reason: str, field: str) -> None:
    schema = (FeatureColumn("n", "double"), FeatureColumn("b", "bool"))
    with pytest.raises(InvalidArgument) as caught:
        instance_columns(instances, FeatureLayout.of(schema))
    assert (caught.value.reason, caught.value.violations[0].field) == (reason, field)


def _random_statistics(module: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for layer in module:
            if isinstance(layer, nn.BatchNorm1d):
                layer.running_mean.normal_(generator=generator)
                layer.running_var.uniform_(0.2, 3.0, generator=generator)
                layer.weight.normal_(generator=generator)
                layer.bias.normal_(generator=generator)
    return module.eval()


@pytest.mark.parametrize("rows", [1, 1000])
def test_folded_network_matches_the_module(rows: int) -> None:
    module = _random_statistics(build_network(12, (64, 32, 16), 3, 0.3))
    folded = FoldedNetwork.compile(module)
    assert folded is not None
    features = np.random.default_rng(1).normal(size=(rows, 12)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.as_tensor(features)).numpy()
    np.testing.assert_allclose(folded(features), expected, rtol=1e-5, atol=1e-5)
    assert module.training is False  # folding left the installed module as it was
    with torch.no_grad():
        np.testing.assert_array_equal(module(torch.as_tensor(features)).numpy(), expected)


def test_other_layer_kinds_are_not_folded() -> None:
    assert FoldedNetwork.compile(nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))) is None
    assert (
        FoldedNetwork.compile(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 1)))
        is None
    )
    assert FoldedNetwork.compile(nn.Linear(4, 1)) is None


@pytest.mark.parametrize("kind", [NeuralNetworkRegressor, NeuralNetworkClassifier])
def test_estimators_predict_the_same_through_numpy_and_torch(kind) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 6))
    y = (
        x[:, 0] + x[:, 1] ** 2
        if kind is NeuralNetworkRegressor
        else (x[:, 0] > 0).astype(int) + (x[:, 1] > 1)
    )
    estimator = kind(hidden_layers=(32, 16), epochs=3, batch_size=64).fit(x, y)
    assert estimator._folded is not None  # noqa: SLF001 - the CPU path is the folded one
    folded = estimator.predict_proba(x) if kind is NeuralNetworkClassifier else estimator.predict(x)
    estimator._folded = None  # noqa: SLF001 - force the torch forward
    reference = estimator.predict_proba(x) if kind is NeuralNetworkClassifier else estimator.predict(x)
    np.testing.assert_allclose(folded, reference, rtol=1e-4, atol=1e-5)


def test_predict_instances_read_in_bulk_what_they_read_one_by_one() -> None:
    struct = struct_pb2.Struct()
    struct.update({"n": 2.5, "zero": 0.0, "minus_zero": -0.0, "nan": float("nan"), "s": "text", "empty": "",
                   "yes": True, "no": False, "none": None, "nested": {"a": 1}, "list": [1, "b"]})
    struct.fields["unset"].CopyFrom(struct_pb2.Value())  # a Value with no kind: missing, like null
    [instance] = convert.instances([struct])
    keys = list(struct.fields)
    # repr: NaN and -0.0 compare by spelling; a bool must stay a bool, not become 1.0
    assert repr(instance.values_of(keys)) == repr([instance[key] for key in keys])
    assert repr(instance.values_of(["minus_zero", "n"])) == "[-0.0, 2.5]"
    with pytest.raises(KeyError, match="absent"):
        instance.values_of(["n", "absent", "s"])


def test_regressor_predicts_python_float_rows_as_predict_does() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 5))
    estimator = NeuralNetworkRegressor(hidden_layers=(16, 8), epochs=2, batch_size=64).fit(x, x[:, 0] + x[:, 1] ** 2)
    rows = x[:3] * [1, 1, 1e3, 1, -1]
    assert estimator.predict_rows(rows.tolist()) == estimator.predict(rows).tolist()  # same bits
    with pytest.raises(FailedPrecondition) as caught:
        estimator.predict_rows([[3e38] * 5])
    assert caught.value.reason == "NON_FINITE_PREDICTION"
    estimator._folded = None  # noqa: SLF001 - the torch forward (a network that does not fold)
    assert estimator.predict_rows(rows.tolist()) == estimator.predict(rows).tolist()
