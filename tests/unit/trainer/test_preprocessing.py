"""Schema inference, normalisation, the ColumnTransformer, instance validation and label encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlsuite_common.errors import InvalidArgument
from trainer_service.instances import instances_to_frame
from trainer_service.preprocessing import (
    FeatureColumn,
    build_preprocessor,
    encode_labels,
    infer_feature_schema,
    normalize_features,
    numeric_target,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1.0, 2.0, np.nan, 4.0, 10.0],
            "i": pd.Series([1, 2, 3, 4, 5], dtype="int64"),
            "s": ["a", "b", None, "a", "c"],
            "o": pd.Series(["x", None, "y", "x", "x"], dtype=object),
            "b": [True, False, True, True, False],
        }
    )


def test_schema_is_inferred_from_dtypes() -> None:
    frame = _frame()
    frame["nullable_int"] = pd.Series([1, None, 3, 4, 5], dtype="Int64")
    frame["bool_with_missing"] = pd.Series([True, None, False, True, True], dtype=object)
    frame["empty"] = pd.Series([None] * 5, dtype=object)
    schema = infer_feature_schema(frame, list(frame.columns))
    assert [(column.name, column.dtype) for column in schema] == [
        ("n", "double"),
        ("i", "int64"),
        ("s", "string"),
        ("o", "string"),
        ("b", "bool"),
        ("nullable_int", "int64"),
        ("bool_with_missing", "bool"),
        ("empty", "string"),
    ]


def test_unsupported_column_type_is_rejected() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(InvalidArgument) as caught:
        infer_feature_schema(frame, ["t"])
    assert caught.value.reason == "UNSUPPORTED_FEATURE_TYPE"


def test_transformer_imputes_scales_and_one_hot_encodes() -> None:
    frame = _frame()
    schema = infer_feature_schema(frame, ["n", "s", "b"])
    normalised = normalize_features(frame, schema)
    assert normalised["s"].tolist()[:2] == ["a", "b"] and np.isnan(normalised["s"].iloc[2])
    assert normalised["b"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    transformer = build_preprocessor(normalised, schema)
    encoded = transformer.fit_transform(normalised)
    assert isinstance(encoded, np.ndarray)
    assert encoded.shape == (5, 2 + 3)  # n, b scaled; s one-hot over a, b, c
    # n: the missing value is imputed with the median 3.0 of [1, 2, 4, 10], then standardised.
    n_values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    np.testing.assert_allclose(encoded[:, 0], (n_values - n_values.mean()) / n_values.std())
    # s: the missing value becomes the most frequent category "a".
    np.testing.assert_array_equal(encoded[:, 2:], [[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]])


def test_unseen_category_at_predict_time_encodes_as_all_zeros() -> None:
    frame = _frame()
    schema = infer_feature_schema(frame, ["i", "o"])
    transformer = build_preprocessor(normalize_features(frame, schema), schema)
    transformer.fit(normalize_features(frame, schema))
    unseen = instances_to_frame([{"i": 3, "o": "never-seen"}, {"i": None, "o": None}], schema)
    encoded = transformer.transform(unseen)
    np.testing.assert_array_equal(encoded[0, 1:], [0, 0])
    np.testing.assert_array_equal(encoded[1, 1:], [1, 0])  # imputed with "x"
    assert encoded[1, 0] == pytest.approx(0.0)  # median 3 of 1..5 is the mean: standardised to 0


def test_a_feature_empty_in_training_is_left_out_and_all_empty_is_refused() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "e": pd.Series([None, None, None], dtype=object)})
    schema = infer_feature_schema(frame, ["a", "e"])
    transformer = build_preprocessor(normalize_features(frame, schema), schema)
    assert transformer.fit_transform(normalize_features(frame, schema)).shape == (3, 1)
    only_empty = infer_feature_schema(frame, ["e"])
    with pytest.raises(InvalidArgument) as caught:
        build_preprocessor(normalize_features(frame, only_empty), only_empty)
    assert caught.value.reason == "NO_USABLE_FEATURES"


def test_infinite_feature_values_are_refused() -> None:
    frame = pd.DataFrame({"a": [1.0, np.inf]})
    with pytest.raises(InvalidArgument) as caught:
        normalize_features(frame, [FeatureColumn("a", "double")])
    assert caught.value.reason == "NON_FINITE_VALUE"


def test_instances_are_checked_against_the_schema() -> None:
    schema = (FeatureColumn("n", "double"), FeatureColumn("s", "string"), FeatureColumn("b", "bool"))
    frame = instances_to_frame(
        [{"n": 1, "s": "a", "b": False, "extra": object()}, {"n": float("nan"), "s": None, "b": None}], schema
    )
    assert frame["n"].dtype == np.float64 and frame["n"].iloc[0] == 1.0 and np.isnan(frame["n"].iloc[1])
    assert frame["b"].tolist()[0] == 0.0
    cases = [
        ({"s": "a", "b": True}, "MISSING_FEATURE", "instances[0].n"),
        ({"n": "1.5", "s": "a", "b": True}, "INVALID_FEATURE_TYPE", "instances[0].n"),
        ({"n": True, "s": "a", "b": True}, "INVALID_FEATURE_TYPE", "instances[0].n"),
        ({"n": 1.0, "s": 3, "b": True}, "INVALID_FEATURE_TYPE", "instances[0].s"),
        ({"n": 1.0, "s": "a", "b": 1}, "INVALID_FEATURE_TYPE", "instances[0].b"),
        ({"n": float("inf"), "s": "a", "b": True}, "INVALID_FEATURE_VALUE", "instances[0].n"),
    ]
    for instance, reason, field in cases:
        with pytest.raises(InvalidArgument) as caught:
            instances_to_frame([instance], schema)
        assert (caught.value.reason, caught.value.violations[0].field) == (reason, field)


def test_labels_are_strings_without_a_float_suffix() -> None:
    codes, labels = encode_labels(pd.Series([1, 0, 1, 2], dtype="int64"))
    assert labels == ("0", "1", "2") and codes.tolist() == [1, 0, 1, 2]
    # An integer column read with missing values is float64; its labels stay "0" / "1".
    assert encode_labels(pd.Series([1.0, 0.0, 1.0]))[1] == ("0", "1")
    assert encode_labels(pd.Series([0.5, 1.0]))[1] == ("0.5", "1")
    assert encode_labels(pd.Series([True, False]))[1] == ("False", "True")
    codes, labels = encode_labels(pd.Series(["dog", "cat", "fish", "cat"]))
    assert labels == ("cat", "dog", "fish") and codes.tolist() == [1, 0, 2, 0]


def test_numeric_target_checks() -> None:
    assert numeric_target(pd.Series([1, 2], dtype="int64")).tolist() == [1.0, 2.0]
    with pytest.raises(InvalidArgument) as caught:
        numeric_target(pd.Series(["a", "b"], name="t"))
    assert caught.value.reason == "NON_NUMERIC_TARGET"
    with pytest.raises(InvalidArgument) as caught:
        numeric_target(pd.Series([1.0, np.inf], name="t"))
    assert caught.value.reason == "NON_FINITE_VALUE"
