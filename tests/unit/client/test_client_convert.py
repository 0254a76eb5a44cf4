"""Client conversions: Python values <-> HyperparameterValue / Struct, protos -> dataclasses."""

from __future__ import annotations

import math
from datetime import UTC

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from mlsuite.trainer.v1 import trainer_service_pb2 as pb

from mlsuite_client import _convert as conv
from mlsuite_client import _requests as req
from mlsuite_client.errors import from_rpc_error
from mlsuite_client.trainer_types import (
    BoolParameter,
    CategoricalParameter,
    DoubleParameter,
    IntListParameter,
    IntParameter,
    JobState,
    TrainingJobSpec,
)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (True, "bool_value", True),
        (False, "bool_value", False),
        (np.bool_(True), "bool_value", True),
        (0, "int_value", 0),
        (100, "int_value", 100),
        (np.int64(-3), "int_value", -3),
        (0.001, "double_value", 0.001),
        (np.float32(0.5), "double_value", 0.5),
        (1e-5, "double_value", 1e-5),
        ("cosine", "string_value", "cosine"),
        ("", "string_value", ""),
    ],
)
def test_scalar_hyperparameters_map_to_their_oneof_case(value: object, kind: str, expected: object) -> None:
    proto = req.hyperparameter_to_proto("p", value)
    assert proto.WhichOneof("kind") == kind
    assert getattr(proto, kind) == expected


def test_bool_is_never_sent_as_an_int() -> None:
    assert req.hyperparameter_to_proto("early_stopping", True).WhichOneof("kind") == "bool_value"
    assert req.hyperparameter_to_proto("epochs", 1).WhichOneof("kind") == "int_value"


@pytest.mark.parametrize("value", [[128, 64, 32], (16,), [], [np.int32(8), 4]])
def test_int_sequences_map_to_int_list(value: list[int]) -> None:
    proto = req.hyperparameter_to_proto("hidden_layers", value)
    assert proto.WhichOneof("kind") == "int_list_value"
    assert list(proto.int_list_value.values) == [int(v) for v in value]
    assert conv.hyperparameter_from_proto(proto) == tuple(int(v) for v in value)


@pytest.mark.parametrize("value", [[1, 2.5], [True, 2], {"a": 1}, None, object(), [1, "2"]])
def test_unsupported_hyperparameters_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError, match="hyperparameter 'p'"):
        req.hyperparameter_to_proto("p", value)


def test_hyperparameters_round_trip_through_a_spec() -> None:
    spec = TrainingJobSpec(
        dataset="datasets/a",
        target_column="y",
        model_type="neural_network",
        feature_columns=("x1", "x2"),
        hyperparameters={
            "epochs": 10,
            "learning_rate": 0.01,
            "hidden_layers": [8, 4],
            "early_stopping": True,
            "lr_schedule": "cosine",
        },
        validation_fraction=0.25,
        seed=7,
        device="cpu",
    )
    proto = req.spec_to_proto(spec)
    assert proto.device == pb.DEVICE_CPU
    back = conv.spec_from_proto(proto)
    assert back.hyperparameters == {
        "early_stopping": True,
        "epochs": 10,
        "hidden_layers": (8, 4),
        "learning_rate": 0.01,
        "lr_schedule": "cosine",
    }
    assert (back.dataset, back.feature_columns, back.seed, back.device) == (
        "datasets/a",
        ("x1", "x2"),
        7,
        "cpu",
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null_value"),
        (math.nan, "null_value"),
        (np.nan, "null_value"),
        (np.float64("nan"), "null_value"),
        (True, "bool_value"),
        (np.bool_(False), "bool_value"),
        (3, "number_value"),
        (np.int64(4), "number_value"),
        (2.5, "number_value"),
        ("a", "string_value"),
    ],
)
def test_struct_values(value: object, kind: str) -> None:
    assert req.struct_value(value).WhichOneof("kind") == kind


def test_instances_become_structs_with_nulls_for_missing_values() -> None:
    struct = req.instance_to_struct(
        {"x": 1.5, "color": "red", "gap": None, "nan": float("nan"), "flag": True}
    )
    assert struct.fields["x"].number_value == 1.5
    assert struct.fields["color"].string_value == "red"
    assert struct.fields["gap"].WhichOneof("kind") == "null_value"
    assert struct.fields["nan"].WhichOneof("kind") == "null_value"
    assert struct.fields["flag"].bool_value is True
    with pytest.raises(TypeError):
        req.instance_to_struct({"x": [1, 2]})


def test_enum_helpers() -> None:
    assert req.device_to_proto("CUDA") == pb.DEVICE_CUDA
    assert req.format_to_proto(".parquet") == pb.DATASET_FORMAT_PARQUET
    assert req.category_to_proto(None) == pb.MODEL_CATEGORY_UNSPECIFIED
    assert req.category_to_proto("classification") == pb.MODEL_CATEGORY_SUPERVISED_CLASSIFICATION
    assert req.state_to_proto("succeeded") == pb.TRAINING_JOB_STATE_SUCCEEDED
    assert req.state_to_proto(JobState.RUNNING) == pb.TRAINING_JOB_STATE_RUNNING
    assert req.state_to_proto(None) == pb.TRAINING_JOB_STATE_UNSPECIFIED
    for bad in (
        lambda: req.device_to_proto("tpu"),
        lambda: req.format_to_proto("xlsx"),
        lambda: req.state_to_proto("done"),
        lambda: req.category_to_proto("clustering"),
    ):
        with pytest.raises(ValueError):
            bad()


def _event(**payload: object) -> pb.TrainingEvent:
    return pb.TrainingEvent(
        sequence=7,
        time=timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=500_000_000),
        state=pb.TRAINING_JOB_STATE_RUNNING,
        **payload,
    )


def test_epoch_event() -> None:
    event = conv.event_from_proto(
        _event(
            epoch_progress=pb.EpochProgress(
                epoch=3,
                total_epochs=30,
                train_loss=0.5,
                learning_rate=1e-3,
                samples_per_second=1000.0,
                elapsed=duration_pb2.Duration(seconds=2, nanos=250_000_000),
                eta=duration_pb2.Duration(seconds=18),
            )
        )
    )
    assert (event.kind, event.sequence, event.state) == ("epoch_progress", 7, JobState.RUNNING)
    assert event.time is not None and event.time.tzinfo == UTC and event.time.microsecond == 500_000
    assert event.epoch is not None
    assert (event.epoch.epoch, event.epoch.total_epochs, event.epoch.validation_loss) == (3, 30, None)
    assert event.epoch.elapsed == 2.25 and event.epoch.eta == 18.0
    assert not event.is_terminal and event.is_stored


def test_optional_validation_loss_is_kept_when_zero() -> None:
    epoch = conv.epoch_from_proto(pb.EpochProgress(epoch=1, total_epochs=1, validation_loss=0.0))
    assert epoch.validation_loss == 0.0


def test_phase_state_result_heartbeat_and_snapshot_events() -> None:
    phase = conv.event_from_proto(_event(phase_change=pb.PhaseChange(phase=pb.TRAINING_PHASE_FITTING)))
    assert (phase.kind, phase.phase) == ("phase_change", "FITTING")

    failed = pb.TrainingEvent(
        sequence=9,
        state=pb.TRAINING_JOB_STATE_FAILED,
        state_change=pb.StateChange(
            error=pb.TrainingError(reason="TRAINING_DIVERGED", message="loss is NaN"), message="failed"
        ),
    )
    event = conv.event_from_proto(failed)
    assert (event.kind, event.error_reason, event.error_message, event.message) == (
        "state_change",
        "TRAINING_DIVERGED",
        "loss is NaN",
        "failed",
    )
    assert event.is_terminal and event.time is None

    result = conv.event_from_proto(
        pb.TrainingEvent(
            sequence=10,
            state=pb.TRAINING_JOB_STATE_SUCCEEDED,
            result=pb.TrainingResult(metrics={"r2": 0.9, "mae": 1.0}, model="models/m"),
        )
    )
    assert (result.kind, result.model, dict(result.metrics)) == (
        "result",
        "models/m",
        {"mae": 1.0, "r2": 0.9},
    )
    assert result.is_terminal

    heartbeat = conv.event_from_proto(_event(heartbeat=pb.Heartbeat()))
    assert heartbeat.kind == "heartbeat" and not heartbeat.is_stored

    job = pb.TrainingJob(
        name="trainingJobs/j",
        state=pb.TRAINING_JOB_STATE_RUNNING,
        phase=pb.TRAINING_PHASE_FITTING,
        last_sequence=7,
        spec=pb.TrainingJobSpec(dataset="datasets/d", target_column="y", model_type="ridge"),
        resolved_hyperparameters={"alpha": pb.HyperparameterValue(double_value=1.0)},
    )
    snapshot = conv.event_from_proto(_event(snapshot=job))
    assert snapshot.kind == "snapshot" and not snapshot.is_stored
    assert snapshot.job is not None and snapshot.job.name == "trainingJobs/j"
    assert snapshot.phase == "FITTING" and snapshot.job.spec.device == "auto"
    assert snapshot.job.resolved_hyperparameters == {"alpha": 1.0}
    assert (
        snapshot.job.start_time is None and snapshot.job.error is None and snapshot.job.latest_epoch is None
    )


def test_parameter_specs_are_typed() -> None:
    model_type = pb.ModelType(
        id="neural_network",
        category=pb.MODEL_CATEGORY_SUPERVISED_REGRESSION,
        speed=pb.MODEL_SPEED_SLOW,
        complexity=pb.MODEL_COMPLEXITY_HIGH,
        available=True,
        gpu_accelerated=True,
        parameters=[
            pb.ParameterSpec(
                name="epochs", int_spec=pb.IntParameterSpec(default_value=100, min_value=10, max_value=1000)
            ),
            pb.ParameterSpec(name="seedless", int_spec=pb.IntParameterSpec(default_value=0)),
            pb.ParameterSpec(
                name="learning_rate", double_spec=pb.DoubleParameterSpec(default_value=1e-3, min_value=0.0)
            ),
            pb.ParameterSpec(
                name="lr_schedule",
                categorical_spec=pb.CategoricalParameterSpec(
                    default_value="none", choices=["none", "cosine"]
                ),
            ),
            pb.ParameterSpec(name="early_stopping", bool_spec=pb.BoolParameterSpec(default_value=False)),
            pb.ParameterSpec(
                name="hidden_layers",
                int_list_spec=pb.IntListParameterSpec(
                    default_value=[128, 64, 32], min_length=1, max_length=10, min_value=1, max_value=4096
                ),
            ),
        ],
    )
    mt = conv.model_type_from_proto(model_type)
    assert (mt.category, mt.speed, mt.complexity) == ("regression", "slow", "high")
    epochs, seedless, lr, schedule, early, layers = mt.parameters
    assert epochs == IntParameter("epochs", "", 100, 10, 1000)
    assert seedless == IntParameter("seedless", "", 0, None, None)
    assert lr == DoubleParameter("learning_rate", "", 1e-3, 0.0, None)
    assert schedule == CategoricalParameter("lr_schedule", "", "none", ("none", "cosine"))
    assert early == BoolParameter("early_stopping", "", False)
    assert layers == IntListParameter("hidden_layers", "", (128, 64, 32), 1, 10, 1, 4096)


def test_models_and_predictions() -> None:
    model = conv.model_from_proto(
        pb.Model(
            name="models/m",
            category=pb.MODEL_CATEGORY_SUPERVISED_CLASSIFICATION,
            classes=["a", "b"],
            feature_columns=[
                pb.FeatureColumn(name="x", dtype=pb.COLUMN_TYPE_DOUBLE),
                pb.FeatureColumn(name="c", dtype=pb.COLUMN_TYPE_STRING),
            ],
            hyperparameters={"hidden_layers": pb.HyperparameterValue(int_list_value=pb.IntList(values=[4]))},
        )
    )
    assert model.category == "classification" and model.classes == ("a", "b")
    assert [(c.name, c.dtype) for c in model.feature_columns] == [("x", "double"), ("c", "string")]
    assert model.hyperparameters == {"hidden_layers": (4,)} and model.create_time is None

    number = conv.prediction_from_proto(pb.Prediction(number=0.0))
    assert (number.number, number.label, number.value) == (0.0, None, 0.0)
    label = conv.prediction_from_proto(pb.Prediction(label="b", probabilities={"a": 0.25, "b": 0.75}))
    assert (label.value, dict(label.probabilities)) == ("b", {"a": 0.25, "b": 0.75})


def test_datasets() -> None:
    dataset = conv.dataset_from_proto(
        pb.Dataset(
            name="datasets/d",
            format=pb.DATASET_FORMAT_CSV,
            row_count=3,
            size_bytes=10,
            columns=[pb.DatasetColumn(name="flag", dtype=pb.COLUMN_TYPE_BOOL, null_count=1)],
            create_time=timestamp_pb2.Timestamp(seconds=1),
        )
    )
    assert (
        dataset.format == "csv" and dataset.columns[0].dtype == "bool" and dataset.columns[0].null_count == 1
    )
    assert dataset.create_time is not None and dataset.create_time.tzinfo == UTC


def test_struct_numbers_are_plain_doubles() -> None:
    assert req.struct_value(np.int64(2**40)).number_value == float(2**40)
    assert isinstance(req.struct_value(1), struct_pb2.Value)


def test_feature_values_numbers_bools_and_missing() -> None:
    values = req.feature_values_to_proto("x", [1, 2.5, None, float("nan"), True, np.bool_(False), np.float32(0.5)])
    assert values.WhichOneof("kind") == "doubles"
    got = list(values.doubles.values)
    assert got[:2] == [1.0, 2.5] and math.isnan(got[2]) and math.isnan(got[3]) and got[4:] == [1.0, 0.0, 0.5]
    assert list(req.feature_values_to_proto("x", np.arange(3.0)).doubles.values) == [0.0, 1.0, 2.0]


def test_feature_values_text_marks_missing_rows() -> None:
    values = req.feature_values_to_proto("color", ["red", None, "blue", float("nan")])
    assert values.WhichOneof("kind") == "strings"
    assert list(values.strings.values) == ["red", "", "blue", ""]
    assert list(values.strings.missing_rows) == [1, 3]


@pytest.mark.parametrize(("values", "message"), [(["red", 3], "in a column of text"), ([1, b"x"], "unsupported")])
def test_feature_values_refuse_mixed_or_unknown_types(values: list[object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        req.feature_values_to_proto("col", values)


def test_feature_values_take_pandas_nullable_columns() -> None:
    pd = pytest.importorskip("pandas")
    numbers = req.feature_values_to_proto("n", pd.array([1, None, 3], dtype="Int64"))
    assert numbers.WhichOneof("kind") == "doubles" and math.isnan(numbers.doubles.values[1])
    texts = req.feature_values_to_proto("s", pd.array(["a", None], dtype="string"))
    assert list(texts.strings.values) == ["a", ""] and list(texts.strings.missing_rows) == [1]



def test_predict_column_is_checked_whole_with_absolute_rows() -> None:
    with pytest.raises(TypeError, match=r"column 'c', row 3: 5 in a column of text"):
        req.PredictColumn("c", [None, None, "a", 5])
    with pytest.raises(TypeError, match="sequence of values, not a str"):
        req.PredictColumn("color", "red")
    column = req.PredictColumn("color", [np.float32("nan"), "red", None, "blue"])
    first, second = column.to_proto(0, 2), column.to_proto(2, 4)
    assert list(first.strings.values) == ["", "red"] and list(first.strings.missing_rows) == [0]
    assert list(second.strings.values) == ["", "blue"] and list(second.strings.missing_rows) == [0]
    assert column.rows == 4


class _CutStream(grpc.RpcError):
    """What a stream cut by a proxy looks like to the client: a status, no trailers, the opening headers."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INTERNAL

    def details(self) -> str:
        return "Received RST_STREAM with error code 2"

    def trailing_metadata(self) -> tuple:
        return ()

    def initial_metadata(self) -> tuple:
        return (("x-request-id", "abc123"),)


def test_client_errors_take_the_request_id_from_a_cut_streams_headers() -> None:
    error = from_rpc_error(_CutStream())
    assert error.code is grpc.StatusCode.INTERNAL and error.request_id == "abc123"
