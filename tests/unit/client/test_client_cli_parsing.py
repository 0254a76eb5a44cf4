"""CLI parsing without a server: --param values, features, predict CSV coercion, the event stream wrapper."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pandas as pd
import pytest
from mlsuite.trainer.v1 import trainer_service_pb2 as pb

import mlsuite_client
from mlsuite_client.cli import build_parser
from mlsuite_client.cli._trainer_common import describe_parameter, fmt_duration, fmt_value, reattach_command
from mlsuite_client.cli.predict import columns_from_frame
from mlsuite_client.cli.train import coerce_params, parse_features, parse_param, parse_value
from mlsuite_client.errors import MLSuiteError, NotFoundError
from mlsuite_client.trainer import TrainingEventStream
from mlsuite_client.trainer_types import (
    CategoricalParameter,
    DoubleParameter,
    FeatureColumn,
    IntListParameter,
    IntParameter,
    ModelType,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", 10),
        ("-3", -3),
        ("0.001", 0.001),
        ("1e-5", 1e-5),
        (".5", 0.5),
        ("true", True),
        ("False", False),
        ("[128, 64, 32]", (128, 64, 32)),
        ("[]", ()),
        ("64,32", (64, 32)),
        ("64,", (64,)),
        ("cosine", "cosine"),
        ("reduce_on_plateau", "reduce_on_plateau"),
        ("a,b", "a,b"),
        (" 7 ", 7),
    ],
)
def test_parse_value(text: str, expected: object) -> None:
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


def test_bracketed_lists_hold_integers_only() -> None:
    with pytest.raises(ValueError):
        parse_value("[1, x]")


@pytest.mark.parametrize("text", ["epochs", "=3", "hidden=[1,a]"])
def test_parse_param_rejects_malformed_pairs(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_param(text)


def test_parse_param_and_features() -> None:
    assert parse_param("epochs=30") == ("epochs", "30")
    assert parse_param(" lr_schedule = cosine") == ("lr_schedule", " cosine")
    assert parse_features("a, b,,c") == ("a", "b", "c")


def test_params_fit_the_model_types_specs() -> None:
    model_type = ModelType(
        id="neural_network",
        display_name="",
        category="regression",
        description="",
        speed="slow",
        complexity="high",
        available=True,
        gpu_accelerated=True,
        parameters=(
            IntParameter("epochs", "", 100, 10, 1000),
            DoubleParameter("learning_rate", "", 1e-3),
            IntListParameter("hidden_layers", "", (128,), 1, 10, 1, 4096),
            CategoricalParameter("lr_schedule", "", "none", ("none", "1cycle")),
        ),
    )
    raw = [
        ("epochs", "30"),
        ("learning_rate", "1"),
        ("hidden_layers", "64"),
        ("lr_schedule", "1cycle"),
        ("unknown", "2.5"),
    ]
    assert coerce_params(raw, model_type) == {
        "epochs": 30,
        "learning_rate": 1.0,
        "hidden_layers": (64,),
        "lr_schedule": "1cycle",
        "unknown": 2.5,
    }
    assert type(coerce_params(raw, model_type)["learning_rate"]) is float
    assert coerce_params(raw, None)["hidden_layers"] == 64


def test_train_command_line() -> None:
    args = build_parser().parse_args(
        [
            "train",
            "--dataset",
            "datasets/d",
            "--target",
            "y",
            "--model-type",
            "ridge",
            "--features",
            "a,b",
            "--param",
            "alpha=0.5",
            "--param",
            "fit_intercept=false",
            "--follow",
        ]
    )
    assert args.features == ("a", "b") and args.param == [("alpha", "0.5"), ("fit_intercept", "false")]
    assert args.follow and args.device == "auto" and args.validation_fraction == 0.0
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(
            ["train", "--dataset", "d", "--target", "y", "--model-type", "m", "--param", "x"]
        )
    assert exc.value.code == 2


_TRAIN = ["train", "--dataset", "datasets/d", "--target", "y", "--model-type", "ridge"]
_INT64 = "-9223372036854775808..9223372036854775807"
_FRACTION = "--validation-fraction: must be a finite number in [0, 0.5], got"


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of a command line that argparse must refuse with exit status 2."""
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["download", "list", "--page-size", "99999999999"], "--page-size: must be in 0..2147483647, got 99999999999"),
        (["download", "list", "--page-size", "2147483648"], "--page-size: must be in 0..2147483647, got 2147483648"),
        (["download", "list", "--page-size", "-1"], "--page-size: must be in 0..2147483647, got -1"),
        (["download", "list", "--page-size", "abc"], "--page-size: expected an integer in 0..2147483647, got 'abc'"),
        (["jobs", "watch", "trainingJobs/j", "--after", str(2**63)], f"--after: must be in 0..{2**63 - 1}, got"),
        (["jobs", "watch", "trainingJobs/j", "--after", "-1"], f"--after: must be in 0..{2**63 - 1}, got -1"),
        ([*_TRAIN, "--seed", str(2**63)], f"--seed: must be in {_INT64}, got {2**63}"),
        ([*_TRAIN, "--seed", str(-(2**63) - 1)], f"--seed: must be in {_INT64}, got {-(2**63) - 1}"),
        ([*_TRAIN, "--param", "epochs=99999999999999999999"], f"outside the 64-bit integer range {_INT64}"),
        ([*_TRAIN, "--param", "hidden_layers=64,99999999999999999999"], "99999999999999999999 is outside the 64-bit"),
        (["predict", "models/m", "-i", "x.csv", "--batch-size", "0"], "--batch-size: must be in 1..10000, got 0"),
    ],
)
def test_integer_flags_outside_the_proto_range_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _usage_error(argv, capsys)


def test_integer_flags_accept_the_proto_range_bounds() -> None:
    parser = build_parser()
    assert parser.parse_args(["download", "list", "--page-size", "2147483647"]).page_size == 2**31 - 1
    assert parser.parse_args(["jobs", "watch", "trainingJobs/j", "--after", str(2**63 - 1)]).after == 2**63 - 1
    assert parser.parse_args([*_TRAIN, "--seed", str(-(2**63))]).seed == -(2**63)
    assert parse_value(str(2**63 - 1)) == 2**63 - 1 and parse_value(f"[{-(2**63)}]") == (-(2**63),)


def _run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The real `mlsuite` in a subprocess, importing the same client and protos as this test."""
    client_dir = Path(mlsuite_client.__file__).resolve().parents[1]
    protos_dir = Path(pb.__file__).resolve().parents[3]
    path = os.pathsep.join([str(client_dir), str(protos_dir), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        # Port 1 refuses connections: a value that reached the network would fail with exit status 1.
        [sys.executable, "-m", "mlsuite_client", "--trainer", "127.0.0.1:1", "--downloader", "127.0.0.1:1", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_cli_refuses_an_out_of_range_page_size_without_a_traceback() -> None:
    result = _run_cli("download", "list", "--page-size", "99999999999")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "argument --page-size: must be in 0..2147483647, got 99999999999" in result.stderr


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1", "1e10", "1e300", "86400.5"])
def test_timeouts_that_grpc_would_expire_at_once_are_usage_errors(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stderr = _usage_error([f"--timeout={value}", "download", "status"], capsys)
    assert f"argument --timeout: must be a finite number in (0, 86400], got {value}" in stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--timeout", "soon", "download", "status"], "--timeout: expected a number in (0, 86400], got 'soon'"),
        ([*_TRAIN, "--validation-fraction", "nan"], f"{_FRACTION} nan"),
        ([*_TRAIN, "--validation-fraction", "inf"], f"{_FRACTION} inf"),
        ([*_TRAIN, "--validation-fraction", "0.6"], f"{_FRACTION} 0.6"),
        ([*_TRAIN, "--validation-fraction", "-0.1"], "must be a finite number in [0, 0.5], got -0.1"),
        ([*_TRAIN, "--param", "learning_rate=1e999"], "1e999 is too large for a 64-bit float"),
    ],
)
def test_float_flags_outside_their_range_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _usage_error(argv, capsys)


def test_float_flags_accept_their_bounds() -> None:
    parser = build_parser()
    assert parser.parse_args(["--timeout", "86400", "download", "status"]).timeout == 86400.0
    assert parser.parse_args(["--timeout", "0.001", "download", "status"]).timeout == 0.001
    assert parser.parse_args(["download", "status"]).timeout == 30.0
    assert parser.parse_args([*_TRAIN, "--validation-fraction", "0.5"]).validation_fraction == 0.5
    assert parser.parse_args([*_TRAIN, "--validation-fraction", "0"]).validation_fraction == 0.0
    assert parse_value("1e308") == 1e308


def test_cli_refuses_an_infinite_timeout_before_calling() -> None:
    result = _run_cli("--timeout", "inf", "download", "status")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "DEADLINE_EXCEEDED" not in result.stderr
    assert "argument --timeout: must be a finite number in (0, 86400], got inf" in result.stderr


def test_predict_csv_is_coerced_to_the_feature_schema() -> None:
    frame = pd.read_csv(
        io.StringIO("x,n,color,flag,extra\n1.5,3,red,true,z\n,4, ,0,z\n2,,blue,,z\n"), dtype=str
    )
    features = [
        FeatureColumn("x", "double"),
        FeatureColumn("n", "int64"),
        FeatureColumn("color", "string"),
        FeatureColumn("flag", "bool"),
    ]
    assert columns_from_frame(frame, features) == {
        "x": [1.5, None, 2.0],
        "n": [3.0, 4.0, None],
        "color": ["red", None, "blue"],
        "flag": [True, False, None],
    }


def test_predict_csv_errors_name_the_column() -> None:
    frame = pd.read_csv(io.StringIO("x,color\n1,red\nabc,blue\n"), dtype=str)
    with pytest.raises(ValueError, match=r"column 'x', row 2: 'abc' is not a number"):
        columns_from_frame(frame, [FeatureColumn("x", "double")])
    with pytest.raises(ValueError, match="lacks the model's feature columns: size"):
        columns_from_frame(frame, [FeatureColumn("size", "double")])
    numbers_as_strings = columns_from_frame(frame, [FeatureColumn("x", "string")])
    assert numbers_as_strings == {"x": ["1", "abc"]}


def test_formatting_helpers() -> None:
    assert fmt_value(True) == "true" and fmt_value((1, 2)) == "[1, 2]" and fmt_value(1e-5) == "1e-05"
    assert fmt_duration(4.24) == "4.2s" and fmt_duration(185) == "3m05s" and fmt_duration(3720) == "1h02m"
    assert describe_parameter(IntParameter("epochs", "", 100, 10, 1000)) == "epochs: int = 100 (10–1000)"
    args = argparse.Namespace(trainer="10.0.0.1:1")
    assert (
        reattach_command(args, "trainingJobs/j", 12)
        == "mlsuite --trainer 10.0.0.1:1 jobs watch trainingJobs/j --after 12"
    )


class _FakeError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "gone"


class _FakeCall:
    """Yields responses, then raises an error (or stops); records cancel()."""

    def __init__(self, responses: list[pb.WatchTrainingJobResponse], error: grpc.RpcError | None) -> None:
        self._responses = list(responses)
        self._error = error
        self.cancelled = False

    def __next__(self) -> pb.WatchTrainingJobResponse:
        if self._responses:
            return self._responses.pop(0)
        if self.cancelled:
            raise _FakeError(grpc.StatusCode.CANCELLED)
        if self._error is not None:
            raise self._error
        raise StopIteration

    def cancel(self) -> None:
        self.cancelled = True


def _response(sequence: int, **payload: object) -> pb.WatchTrainingJobResponse:
    return pb.WatchTrainingJobResponse(
        event=pb.TrainingEvent(sequence=sequence, state=pb.TRAINING_JOB_STATE_RUNNING, **payload)
    )


def test_event_stream_tracks_stored_sequences_and_translates_errors() -> None:
    responses = [
        _response(5, snapshot=pb.TrainingJob(name="trainingJobs/j", state=pb.TRAINING_JOB_STATE_RUNNING)),
        _response(3, epoch_progress=pb.EpochProgress(epoch=1, total_epochs=2)),
        _response(4, epoch_progress=pb.EpochProgress(epoch=2, total_epochs=2)),
        _response(4, heartbeat=pb.Heartbeat()),
    ]
    stream = TrainingEventStream(
        _FakeCall(responses, _FakeError(grpc.StatusCode.NOT_FOUND)), after_sequence=2
    )
    kinds = []
    with pytest.raises(MLSuiteError) as exc:
        for event in stream:
            kinds.append(event.kind)
    assert isinstance(exc.value, NotFoundError) and exc.value.code == grpc.StatusCode.NOT_FOUND
    assert kinds == ["snapshot", "epoch_progress", "epoch_progress", "heartbeat"]
    assert stream.job_name == "trainingJobs/j" and stream.last_sequence == 4


def test_event_stream_cancel_detaches_quietly() -> None:
    call = _FakeCall([_response(1, heartbeat=pb.Heartbeat())] * 3, None)
    stream = TrainingEventStream(call)
    assert next(stream).kind == "heartbeat"
    stream.cancel()
    assert call.cancelled
    assert [e.kind for e in stream] == ["heartbeat", "heartbeat"]
