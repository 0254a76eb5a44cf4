"""Models whose files vanish or are swapped, and stored rows that no longer parse: precise errors, never INTERNAL."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import skops.io

from tests.integration.trainer._support import (
    expect_error,
    linear_rows,
    make_spec,
    pb,
    struct,
    to_csv,
    upload,
    wait_for,
)

SUCCEEDED = pb.TRAINING_JOB_STATE_SUCCEEDED
ROW = {"a": 1.0, "b": 2.0, "c": 3.0}


def _model(stub: Any, model_type: str = "ridge", seed: int = 3) -> pb.TrainingJob:
    """A succeeded job (and so a stored model) of `model_type` over a tiny linear dataset."""
    x, y = linear_rows(40, seed=seed)
    dataset = upload(stub, to_csv(["a", "b", "c", "y"], [(*r, t) for r, t in zip(x.tolist(), y.tolist(), strict=True)]))
    job = stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", model_type)), timeout=30
    ).training_job
    return wait_for(stub, job.name, lambda j: j.state == SUCCEEDED)


def _predict(stub: Any, model: str) -> Any:
    return stub.Predict(pb.PredictRequest(model=model, instances=[struct(ROW)]), timeout=30)


def test_predict_whose_model_is_deleted_while_its_files_are_read_is_not_found(
    trainer, trainer_stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DeleteModel lands between load_trusted's type check and skops' load of the same file: the load
    # raised FileNotFoundError outside any handler and Predict answered INTERNAL (t18: 35 in 1,135 calls).
    job = _model(trainer_stub)
    checked = skops.io.get_untrusted_types

    def check_then_delete(*args: Any, **kwargs: Any) -> list[str]:
        found = checked(*args, **kwargs)
        monkeypatch.setattr(skops.io, "get_untrusted_types", checked)
        trainer.core.models.delete(job.model)
        return found

    monkeypatch.setattr(skops.io, "get_untrusted_types", check_then_delete)
    expect_error(lambda: _predict(trainer_stub, job.model), grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND",
                 data_dir=trainer.config.data_dir)
    expect_error(lambda: _predict(trainer_stub, job.name), grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND")


def test_a_model_file_swapped_for_another_trusted_object_is_artifact_invalid(trainer, trainer_stub) -> None:
    # t12 "estimator.skops swap": another model's preprocessor (a ColumnTransformer, a trusted type) under
    # a ridge model's estimator.skops loaded, then Predict raised AttributeError (no predict): INTERNAL.
    data_dir = trainer.config.data_dir
    damaged, other = _model(trainer_stub), _model(trainer_stub, seed=4)
    models = data_dir / "models"
    swapped = (models / other.model.split("/")[1] / "preprocessor.skops").read_bytes()
    (models / damaged.model.split("/")[1] / "estimator.skops").write_bytes(swapped)
    expect_error(lambda: _predict(trainer_stub, damaged.model), grpc.StatusCode.FAILED_PRECONDITION,
                 "MODEL_ARTIFACT_INVALID", data_dir=data_dir)
    assert _predict(trainer_stub, other.model).predictions[0].WhichOneof("value") == "number"
    trainer_stub.GetModel(pb.GetModelRequest(name=damaged.model), timeout=30)  # the record itself is intact
