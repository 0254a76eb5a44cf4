"""The `mlsuite` CLI as a user runs it: real subprocesses against a real TrainerService."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mlsuite_client import JobState, TrainerClient
from mlsuite_client.trainer_types import Dataset, TrainingJob

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _name(kind: str, text: str) -> str:
    match = re.search(rf"{kind}/[0-9A-Za-z_-]+", text)
    assert match, text
    return match.group(0)


def test_datasets_upload_list_show_delete(cli: CliRunner, regression_csv: Path) -> None:
    upload = cli("datasets", "upload", str(regression_csv), "--name", "cli-upload")
    assert upload.returncode == 0, upload.stderr
    name = _name("datasets", upload.stdout)
    assert "cli-upload" in upload.stdout and "color" in upload.stdout and "160" in upload.stdout

    quiet = cli("datasets", "upload", str(regression_csv), "-q")
    assert quiet.returncode == 0 and re.fullmatch(r"datasets/\S+\n", quiet.stdout)

    listing = cli("datasets", "list")
    assert listing.returncode == 0 and name in listing.stdout and quiet.stdout.strip() in listing.stdout
    show = cli("datasets", "show", name)
    assert show.returncode == 0 and "sha256" in show.stdout and "string" in show.stdout

    for dataset in (name, quiet.stdout.strip()):
        assert cli("datasets", "delete", dataset).returncode == 0
    gone = cli("datasets", "show", name)
    assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr
    assert re.search(r"request id: [0-9a-f]{32}", gone.stderr)  # what to quote to an operator


def test_local_and_usage_errors_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli("datasets", "upload", str(tmp_path / "absent.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    unknown_suffix = tmp_path / "data.txt"
    unknown_suffix.write_text("a,b\n1,2\n")
    assert cli("datasets", "upload", str(unknown_suffix)).returncode == 2
    assert cli().returncode == 2
    assert cli("train", "--dataset", "datasets/x", "--model-type", "ridge").returncode == 2  # no --target
    assert (
        cli("train", "--dataset", "d", "--target", "y", "--model-type", "m", "--param", "novalue").returncode
        == 2
    )
    assert cli("jobs", "list", "--state", "sleeping").returncode == 2


def test_models_types_table(cli: CliRunner) -> None:
    result = cli("models", "types")
    assert result.returncode == 0, result.stderr
    assert "neural_network" in result.stdout and "logistic_regression" in result.stdout
    assert "epochs: int = 100 (10–1000)" in result.stdout
    assert "hidden_layers" in result.stdout and "[128, 64, 32]" in result.stdout
    only = cli("models", "types", "--category", "classification")
    assert "neural_network_classifier" in only.stdout and "linear_regression" not in only.stdout


def test_train_without_follow_prints_the_job(
    cli: CliRunner, client: TrainerClient, regression_dataset: Dataset
) -> None:
    result = cli(
        "train",
        "--dataset",
        regression_dataset.name,
        "--target",
        "y",
        "--model-type",
        "ridge",
        "--param",
        "alpha=0.5",
        "--features",
        "x1,x2,color",
    )
    assert result.returncode == 0, result.stderr
    job = result.stdout.strip()
    assert re.fullmatch(r"trainingJobs/\S+", job) and "jobs watch" in result.stderr
    spec = client.get_training_job(job).spec
    assert spec.hyperparameters == {"alpha": 0.5} and spec.feature_columns == ("x1", "x2", "color")
    watch = cli("jobs", "watch", job)
    assert watch.returncode == 0 and "r2" in watch.stdout and "model: models/" in watch.stdout


def test_train_follow_shows_epochs_metrics_and_model(
    cli: CliRunner, client: TrainerClient, regression_dataset: Dataset
) -> None:
    result = cli(
        "train",
        "--dataset",
        regression_dataset.name,
        "--target",
        "y",
        "--model-type",
        "neural_network",
        "--param",
        "epochs=10",
        "--param",
        "hidden_layers=32,16",
        "--param",
        "learning_rate=0.01",
        "--seed",
        "2",
        "--follow",
    )
    assert result.returncode == 0, result.stderr
    assert "epoch 1/10" in result.stdout and "epoch 10/10" in result.stdout
    assert "phase: fitting" in result.stdout and "r2" in result.stdout
    model = client.get_model(_name("models", result.stdout.split("model:")[-1]))
    assert model.hyperparameters["hidden_layers"] == (32, 16)


def test_train_follow_reports_server_rejections(cli: CliRunner, regression_dataset: Dataset) -> None:
    result = cli(
        "train",
        "--dataset",
        regression_dataset.name,
        "--target",
        "y",
        "--model-type",
        "neural_network",
        "--param",
        "epochs=5",
        "--param",
        "bogus=1",
        "--follow",
    )
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr and "epochs" in result.stderr and "bogus" in result.stderr


def test_sklearn_follow_shows_phases(cli: CliRunner, classification_dataset: Dataset) -> None:
    result = cli(
        "train",
        "--dataset",
        classification_dataset.name,
        "--target",
        "label",
        "--model-type",
        "random_forest_classifier",
        "--param",
        "n_estimators=10",
        "--follow",
    )
    assert result.returncode == 0, result.stderr
    for phase in ("loading data", "preprocessing", "fitting", "evaluating", "saving"):
        assert f"phase: {phase}" in result.stdout
    assert "accuracy" in result.stdout


def test_jobs_list_watch_and_plot(
    cli: CliRunner, nn_job: TrainingJob, classifier_job: TrainingJob, tmp_path: Path
) -> None:
    listing = cli("jobs", "list")
    assert listing.returncode == 0 and nn_job.name in listing.stdout and "SUCCEEDED" in listing.stdout
    failed_only = cli("jobs", "list", "--state", "failed")
    assert failed_only.returncode == 0 and nn_job.name not in failed_only.stdout
    show = cli("jobs", "show", nn_job.name)
    assert show.returncode == 0 and "hidden_layers=[32, 16]" in show.stdout

    replay = cli("jobs", "watch", nn_job.name)
    assert replay.returncode == 0 and "epoch 10/10" in replay.stdout and nn_job.model in replay.stdout
    tail = cli("jobs", "watch", nn_job.name, "--after", str(nn_job.last_sequence))
    assert tail.returncode == 0 and "epoch 1/10" not in tail.stdout and nn_job.model in tail.stdout

    png = tmp_path / "loss.png"
    plot = cli("jobs", "plot", nn_job.name, "--output", str(png))
    assert plot.returncode == 0, plot.stderr
    assert png.read_bytes()[:8] == PNG_MAGIC and "10 epochs" in plot.stdout
    no_epochs = cli("jobs", "plot", classifier_job.name, "--output", str(tmp_path / "none.png"))
    assert no_epochs.returncode == 1 and "no epoch events" in no_epochs.stderr
    assert not (tmp_path / "none.png").exists()
    absent = cli("jobs", "watch", "trainingJobs/nope")
    assert absent.returncode == 1 and "NOT_FOUND" in absent.stderr
    assert "re-attach" not in absent.stderr.lower()  # the stream never opened: there is nothing to re-attach to


def test_ctrl_c_detaches_and_cancel_stops_the_job(
    trainer_target: str, cli: CliRunner, client: TrainerClient, regression_dataset: Dataset
) -> None:
    argv = ["--trainer", trainer_target, "train", "--dataset", regression_dataset.name, "--target", "y"]
    argv += [
        "--model-type",
        "neural_network",
        "--param",
        "epochs=1000",
        "--param",
        "batch_size=8",
        "--follow",
    ]
    # Ctrl-C raises KeyboardInterrupt even where SIGINT was inherited ignored (a backgrounded test run).
    main = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    main += "from mlsuite_client.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", main, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.startswith("epoch ") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    match = re.search(r"jobs watch (trainingJobs/\S+) --after (\d+)", stderr)
    assert match, stderr
    job, after = match.group(1), int(match.group(2))
    assert after > 0
    assert client.get_training_job(job).state is JobState.RUNNING  # detaching never cancels

    cancel = cli("jobs", "cancel", job)
    assert cancel.returncode == 0 and ("CANCELLING" in cancel.stdout or "CANCELLED" in cancel.stdout)
    watch = cli("jobs", "watch", job, "--after", str(after))
    assert watch.returncode == 1 and "cancelled" in watch.stderr
    assert cli("jobs", "cancel", job).returncode == 1  # finished: FAILED_PRECONDITION


def test_predict_csv_in_and_out(
    cli: CliRunner, nn_job: TrainingJob, classifier_job: TrainingJob, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("x1,x2,color,y\n0.5,1.0,red,9\n-1,,blue,\n1.2,2.5,,3\n")
    output = tmp_path / "out.csv"
    result = cli("predict", nn_job.model, "--input", str(rows), "--output", str(output))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(output)
    assert list(frame.columns) == ["x1", "x2", "color", "y", "prediction"] and len(frame) == 3
    assert frame["prediction"].notna().all()

    labelled = tmp_path / "labelled.csv"
    labelled.write_text("a,b\n2,2\n-2,-2\n")
    stdout = cli("predict", classifier_job.model, "--input", str(labelled), "--batch-size", "1")
    assert stdout.returncode == 0, stdout.stderr
    table = pd.read_csv(__import__("io").StringIO(stdout.stdout))
    assert list(table["prediction"]) == ["yes", "no"]
    assert {"probability_no", "probability_yes"} <= set(table.columns)

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nlots,2\n")
    wrong = cli("predict", classifier_job.model, "--input", str(bad))
    assert wrong.returncode == 2 and "'a'" in wrong.stderr
    missing = cli("predict", classifier_job.model, "--input", str(rows))
    assert missing.returncode == 2 and "lacks the model's feature columns" in missing.stderr
    assert cli("predict", "models/nope", "--input", str(labelled)).returncode == 1


def test_server_text_with_brackets_is_printed_as_text(cli: CliRunner, regression_csv: Path) -> None:
    # Rich reads "[...]" as markup: a dataset named "[/evil]" made `datasets list` crash with a MarkupError for
    # everyone on the server, and "spec.hyperparameters[alpha]" lost its "[alpha]".
    upload = cli("datasets", "upload", str(regression_csv), "--name", "[/evil] [bold]x :cat:")
    assert upload.returncode == 0, upload.stderr
    name = _name("datasets", upload.stdout)
    try:
        for argv in (("datasets", "list"), ("datasets", "show", name)):
            shown = cli(*argv)
            assert shown.returncode == 0 and "[/evil] [bold]x :cat:" in shown.stdout, shown.stderr
        bad = cli("train", "--dataset", name, "--target", "y", "--model-type", "ridge", "--param", "alfa=1")
        assert bad.returncode == 1 and "spec.hyperparameters[alfa]" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        cli("datasets", "delete", name)
