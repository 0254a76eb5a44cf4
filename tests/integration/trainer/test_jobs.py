"""Job lifecycle: cancel, predict by job name, re-attach, idempotency, concurrency, queue, heartbeats."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    TERMINAL_STATES,
    assert_same_events,
    expect_error,
    get_job,
    long_nn_spec,
    make_spec,
    nonlinear_csv,
    payload,
    pb,
    pb_grpc,
    predict_numbers,
    sha256_hex,
    stored,
    struct,
    upload,
    wait_for,
    wait_for_epochs,
    watch,
)

RUNNING = pb.TRAINING_JOB_STATE_RUNNING
SUCCEEDED = pb.TRAINING_JOB_STATE_SUCCEEDED
CANCELLED = pb.TRAINING_JOB_STATE_CANCELLED
ROW = {"x0": 0.3, "x1": -1.0, "x2": 0.5, "x3": 1.5}


def _create(stub, spec: pb.TrainingJobSpec, request_id: str = "") -> pb.TrainingJob:
    return stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(spec=spec, request_id=request_id), timeout=RPC_TIMEOUT
    ).training_job


def _cancel(stub, name: str) -> pb.TrainingJob:
    return stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=name), timeout=RPC_TIMEOUT).training_job


def _short_nn(dataset: str, epochs: int = 10, seed: int = 7) -> pb.TrainingJobSpec:
    return make_spec(
        dataset, "y", "neural_network", {"epochs": epochs, "batch_size": 64, "hidden_layers": [16]}, seed=seed
    )


@pytest.fixture
def dataset(trainer_stub) -> pb.Dataset:
    """2000 rows of the non-linear regression on the per-test trainer."""
    return upload(trainer_stub, nonlinear_csv())


def test_cancel_running_neural_network(trainer, trainer_stub, dataset) -> None:
    job = _create(trainer_stub, long_nn_spec(dataset.name))
    wait_for_epochs(trainer_stub, job.name, 2)
    expect_error(
        lambda: trainer_stub.Predict(
            pb.PredictRequest(model=job.name, instances=[struct(ROW)]), timeout=RPC_TIMEOUT
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_NOT_SUCCEEDED",
        data_dir=trainer.config.data_dir,
    )
    asked = time.monotonic()
    response = _cancel(trainer_stub, job.name)
    assert response.state in (pb.TRAINING_JOB_STATE_CANCELLING, CANCELLED)
    events = watch(trainer_stub, job.name, timeout=30)
    took = time.monotonic() - asked
    assert took < 10, f"cancel took {took:.1f}s"
    last = events[-1]
    assert (payload(last), last.state) == ("state_change", CANCELLED)
    states = [e.state for e in stored(events)]
    assert pb.TRAINING_JOB_STATE_CANCELLING in states
    assert states.index(pb.TRAINING_JOB_STATE_CANCELLING) < states.index(CANCELLED) == len(states) - 1
    final = get_job(trainer_stub, job.name)
    assert final.state == CANCELLED
    assert final.model == "" and not final.metrics and final.HasField("end_time")
    assert final.latest_epoch.epoch < 1000
    assert trainer_stub.ListModels(pb.ListModelsRequest(), timeout=RPC_TIMEOUT).models == []
    # Finished now: a second cancel and a predict by job name are both refused.
    expect_error(
        lambda: _cancel(trainer_stub, job.name),
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_ALREADY_FINISHED",
        data_dir=trainer.config.data_dir,
    )
    expect_error(
        lambda: trainer_stub.Predict(
            pb.PredictRequest(model=job.name, instances=[struct(ROW)]), timeout=RPC_TIMEOUT
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_NOT_SUCCEEDED",
        data_dir=trainer.config.data_dir,
    )


def test_cancel_succeeded_job_is_refused_and_predict_by_job_name_works(
    trainer, trainer_stub, dataset
) -> None:
    job = _create(trainer_stub, make_spec(dataset.name, "y", "linear_regression"))
    job = wait_for(trainer_stub, job.name, lambda j: j.state in TERMINAL_STATES)
    assert job.state == SUCCEEDED, job.error
    expect_error(
        lambda: _cancel(trainer_stub, job.name),
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_ALREADY_FINISHED",
        data_dir=trainer.config.data_dir,
    )
    assert get_job(trainer_stub, job.name) == job
    by_job = predict_numbers(trainer_stub, job.name, [ROW, {**ROW, "x0": -1.0}])
    by_model = predict_numbers(trainer_stub, job.model, [ROW, {**ROW, "x0": -1.0}])
    assert by_job == by_model


def test_cancel_queued_job_is_immediate(make_trainer, stub_for) -> None:
    stub = stub_for(make_trainer(max_concurrent_jobs=1).address)
    dataset = upload(stub, nonlinear_csv())
    blocker = _create(stub, long_nn_spec(dataset.name))
    wait_for(stub, blocker.name, lambda j: j.state == RUNNING)
    queued = _create(stub, _short_nn(dataset.name))
    assert queued.state == pb.TRAINING_JOB_STATE_QUEUED
    assert _cancel(stub, queued.name).state == CANCELLED
    events = watch(stub, queued.name, timeout=10)
    assert [(payload(e), e.state) for e in events] == [("snapshot", CANCELLED), ("state_change", CANCELLED)]
    assert events[1].sequence == 1 and events[0].sequence == 1
    _cancel(stub, blocker.name)
    wait_for(stub, blocker.name, lambda j: j.state == CANCELLED, timeout=30)


def test_reattach_with_after_sequence_loses_and_repeats_nothing(trainer_stub, dataset) -> None:
    job = _create(trainer_stub, _short_nn(dataset.name, epochs=40))
    call = trainer_stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=job.name), timeout=60)
    first: list[pb.TrainingEvent] = []
    for response in call:
        first.append(response.event)
        if sum(payload(e) == "epoch_progress" for e in first) == 5:
            break
    call.cancel()  # the client goes away mid-stream
    assert payload(first[0]) == "snapshot"
    first_stored = stored(first)
    last_seen = first_stored[-1].sequence
    # Events keep coming while nobody watches.
    wait_for(trainer_stub, job.name, lambda j: j.latest_epoch.epoch >= 12 or j.state in TERMINAL_STATES)

    second = watch(trainer_stub, job.name, after=last_seen)
    assert payload(second[0]) == "snapshot"
    assert second[0].sequence >= last_seen
    union = first_stored + stored(second)
    sequences = [e.sequence for e in union]
    assert sequences == list(range(1, len(union) + 1))
    assert union[-1].state == SUCCEEDED
    assert sequences[-1] == get_job(trainer_stub, job.name).last_sequence
    # Exactly the stored log, event for event.
    replay = stored(watch(trainer_stub, job.name, after=0))
    assert_same_events(union, replay)
    assert [e.epoch_progress.epoch for e in union if payload(e) == "epoch_progress"] == list(range(1, 41))


def test_leaving_the_train_stream_does_not_cancel_the_job(trainer_stub, dataset) -> None:
    call = trainer_stub.Train(pb.TrainRequest(spec=_short_nn(dataset.name, epochs=20)), timeout=60)
    name = ""
    for response in call:
        if payload(response.event) == "snapshot":
            name = response.event.snapshot.name
        if payload(response.event) == "epoch_progress":
            break
    call.cancel()
    assert name
    events = watch(trainer_stub, name)
    assert events[-1].state == SUCCEEDED
    assert get_job(trainer_stub, name).latest_epoch.epoch == 20


def test_request_id_makes_create_idempotent(trainer, trainer_stub, dataset) -> None:
    spec = make_spec(dataset.name, "y", "ridge")
    first = _create(trainer_stub, spec, request_id="retry-1")
    second = _create(trainer_stub, spec, request_id="retry-1")
    assert second.name == first.name
    assert second.request_id == "retry-1"
    # A retried Train with the same request_id re-attaches to the same job.
    events = list(trainer_stub.Train(pb.TrainRequest(spec=spec, request_id="retry-1"), timeout=60))
    assert events[0].event.snapshot.name == first.name
    assert events[-1].event.state == SUCCEEDED
    jobs = trainer_stub.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=RPC_TIMEOUT).training_jobs
    assert [j.name for j in jobs] == [first.name]
    assert len(trainer_stub.ListModels(pb.ListModelsRequest(), timeout=RPC_TIMEOUT).models) == 1

    other = make_spec(dataset.name, "y", "ridge", {"alpha": 2.0})
    expect_error(
        lambda: _create(trainer_stub, other, request_id="retry-1"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
        "request_id",
        data_dir=trainer.config.data_dir,
    )
    assert [
        j.name for j in trainer_stub.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=30).training_jobs
    ] == [first.name]
    # Without a request_id every call creates a job.
    assert _create(trainer_stub, spec).name != _create(trainer_stub, spec).name


def test_upload_request_id_is_idempotent(trainer_stub) -> None:
    data = nonlinear_csv(100)
    first = upload(trainer_stub, data, request_id="upload-1")
    again = upload(trainer_stub, data, request_id="upload-1", sha256=first.sha256)
    assert again == first
    # A retry may not describe other bytes: another checksum or format is another upload, not a retry.
    other = nonlinear_csv(101)
    expect_error(lambda: upload(trainer_stub, other, request_id="upload-1", sha256=sha256_hex(other)),
                 grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED", "metadata.request_id")
    assert [d.name for d in trainer_stub.ListDatasets(pb.ListDatasetsRequest(), timeout=30).datasets] == [
        first.name
    ]


def test_four_concurrent_jobs_with_twenty_watchers(make_trainer, stub_for) -> None:
    stub = stub_for(make_trainer(max_concurrent_jobs=2).address)
    dataset = upload(stub, nonlinear_csv(1000))
    jobs = [_create(stub, _short_nn(dataset.name, epochs=12, seed=seed)).name for seed in range(4)]
    seen: dict[tuple[str, int], list[pb.TrainingEvent]] = {}
    errors: list[Exception] = []

    def follow(name: str, watcher: int) -> None:
        try:
            seen[(name, watcher)] = watch(stub, name, timeout=120)
        except Exception as exc:  # noqa: BLE001 - the main thread reports it
            errors.append(exc)

    threads = [threading.Thread(target=follow, args=(name, w)) for name in jobs for w in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert not errors, errors
    assert len(seen) == 20
    for name in jobs:
        events = stored(seen[(name, 0)])
        for w in range(1, 5):
            assert_same_events(stored(seen[(name, w)]), events)
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert events[-1].state == SUCCEEDED and payload(events[-1]) == "result"
        assert [e.epoch_progress.epoch for e in events if payload(e) == "epoch_progress"] == list(
            range(1, 13)
        )
        assert_same_events(events, stored(watch(stub, name)))
    # At most two ran at any moment.
    finished = [get_job(stub, name) for name in jobs]
    spans = [(j.start_time.ToNanoseconds(), j.end_time.ToNanoseconds()) for j in finished]
    for start, _ in spans:
        assert sum(s <= start < e for s, e in spans) <= 2


def test_queue_bound_is_resource_exhausted(make_trainer, stub_for) -> None:
    running = make_trainer(max_concurrent_jobs=1, max_queued_jobs=1)
    stub = stub_for(running.address)
    dataset = upload(stub, nonlinear_csv())
    first = _create(stub, long_nn_spec(dataset.name))
    wait_for(stub, first.name, lambda j: j.state == RUNNING)
    second = _create(stub, _short_nn(dataset.name))
    assert second.state == pb.TRAINING_JOB_STATE_QUEUED
    expect_error(
        lambda: _create(stub, _short_nn(dataset.name)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "JOB_QUEUE_FULL",
        data_dir=running.config.data_dir,
    )
    assert len(stub.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=30).training_jobs) == 2
    # A freed queue slot takes a job again.
    _cancel(stub, second.name)
    third = _create(stub, _short_nn(dataset.name))
    assert third.state == pb.TRAINING_JOB_STATE_QUEUED
    _cancel(stub, first.name)
    assert watch(stub, third.name, timeout=60)[-1].state == SUCCEEDED


def test_watchers_beyond_the_stream_limit_are_refused_and_unary_calls_stay_served(
    make_trainer, trainer_config, stub_for
) -> None:
    # 4 handler threads: 2 for streams, 2 kept for unary calls (a quarter, at least 2).
    running = make_trainer(server=replace(trainer_config.server, max_workers=4), max_concurrent_jobs=1)
    stub = stub_for(running.address)
    dataset = upload(stub, nonlinear_csv())
    job = _create(stub, long_nn_spec(dataset.name))
    wait_for(stub, job.name, lambda j: j.state == RUNNING)
    watchers = [stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=job.name), timeout=60) for _ in range(2)]
    assert all(next(w).event.WhichOneof("payload") == "snapshot" for w in watchers)  # both open
    with pytest.raises(grpc.RpcError) as refused:
        next(stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=job.name), timeout=10))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "streams open" in refused.value.details()
    expect_error(lambda: next(stub.Train(pb.TrainRequest(spec=_short_nn(dataset.name)), timeout=10)),
                 grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_STREAMS", data_dir=running.config.data_dir)
    # The refused Train created no job; unary calls (and the health check) answer at once.
    assert len(stub.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=5).training_jobs) == 1
    with grpc.insecure_channel(running.address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert check.status == health_pb2.HealthCheckResponse.SERVING
    _cancel(stub, job.name)
    for watcher in watchers:
        assert list(watcher)[-1].event.state == CANCELLED  # the open streams end normally
    assert watch(stub, job.name, timeout=30)[-1].state == CANCELLED  # and free their slots


def test_watchers_that_leave_at_once_free_their_stream_slots(trainer, trainer_stub, dataset) -> None:
    # Until its handler returns, a stream holds one of its connection's HTTP/2 stream slots (100 here).
    # Handlers that noticed a departed watcher only at their next wake-up (up to a second) let eight
    # threads that each open a watch, leave it and call Get exhaust them: a third of the calls on that
    # connection failed UNAVAILABLE (RST_STREAM with REFUSED_STREAM).
    job = _create(trainer_stub, long_nn_spec(dataset.name))
    wait_for(trainer_stub, job.name, lambda j: j.state == RUNNING)
    failures: list[str] = []
    with grpc.insecure_channel(trainer.address) as channel:  # one connection for all eight threads
        stub = pb_grpc.TrainerServiceStub(channel)

        def open_leave_get() -> None:
            for _ in range(40):
                try:
                    # Far past the end of the log: the handler waits for events that do not come.
                    call = stub.WatchTrainingJob(
                        pb.WatchTrainingJobRequest(name=job.name, after_sequence=10**9), timeout=RPC_TIMEOUT
                    )
                    first = payload(next(call).event)
                    call.cancel()
                    get_job(stub, job.name)
                    if first != "snapshot":
                        failures.append(f"the watch began with {first}")
                except grpc.RpcError as exc:
                    failures.append(f"{exc.code().name}: {exc.details()}")
                except Exception as exc:  # noqa: BLE001 - a thread's failure must fail the test, not vanish
                    failures.append(repr(exc))

        threads = [threading.Thread(target=open_leave_get) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    _cancel(trainer_stub, job.name)
    assert stored(watch(trainer_stub, job.name, timeout=60))[-1].state == CANCELLED


def test_heartbeats_on_a_quiet_stream(make_trainer, stub_for) -> None:
    stub = stub_for(make_trainer(max_concurrent_jobs=1).address)  # heartbeat_seconds=2 in the fixture config
    dataset = upload(stub, nonlinear_csv())
    blocker = _create(stub, long_nn_spec(dataset.name))
    wait_for(stub, blocker.name, lambda j: j.state == RUNNING)
    queued = _create(stub, _short_nn(dataset.name))
    call = stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=queued.name), timeout=30)
    received: list[tuple[float, pb.TrainingEvent]] = []
    started = time.monotonic()
    for response in call:
        received.append((time.monotonic(), response.event))
        if sum(payload(e) == "heartbeat" for _, e in received) == 2:
            break
    call.cancel()
    snapshot = received[0][1]
    assert payload(snapshot) == "snapshot" and snapshot.state == pb.TRAINING_JOB_STATE_QUEUED
    heartbeats = [(t, e) for t, e in received if payload(e) == "heartbeat"]
    assert [payload(e) for _, e in received] == ["snapshot", "heartbeat", "heartbeat"]
    latest = get_job(stub, queued.name).last_sequence
    for _, event in heartbeats:
        assert event.sequence == latest == snapshot.sequence
        assert event.state == pb.TRAINING_JOB_STATE_QUEUED
    assert heartbeats[0][0] - started < 2 + 2.5
    assert heartbeats[1][0] - heartbeats[0][0] < 2 + 2.5
    _cancel(stub, queued.name)
    _cancel(stub, blocker.name)
    wait_for(stub, blocker.name, lambda j: j.state == CANCELLED, timeout=30)


def test_heartbeat_carries_the_latest_sequence_of_a_running_job(trainer_stub, dataset) -> None:
    # Fitting and saving ~2000 trees (about 3 ms each here): a running job that is quiet for seconds.
    spec = make_spec(dataset.name, "y", "gradient_boosting_regressor", {"n_estimators": 2000, "max_depth": 3})
    events = watch(trainer_stub, _create(trainer_stub, spec).name, timeout=120)
    assert events[-1].state == SUCCEEDED
    phases = {e.phase_change.phase: e.time.ToNanoseconds() for e in events if payload(e) == "phase_change"}
    fitting_s = (phases[pb.TRAINING_PHASE_EVALUATING] - phases[pb.TRAINING_PHASE_FITTING]) / 1e9
    heartbeats = [i for i, e in enumerate(events) if payload(e) == "heartbeat"]
    assert heartbeats, f"no heartbeat during a fit of {fitting_s:.1f}s (heartbeat_seconds=2)"
    for index in heartbeats:
        before = stored(events[:index])
        assert events[index].sequence == before[-1].sequence
        assert events[index].state == before[-1].state == RUNNING


def test_cancel_scikit_learn_job_during_its_fit(trainer, trainer_stub, dataset) -> None:
    spec = make_spec(dataset.name, "y", "gradient_boosting_regressor", {"n_estimators": 2000, "max_depth": 3})
    job = _create(trainer_stub, spec)
    wait_for(trainer_stub, job.name, lambda j: j.phase == pb.TRAINING_PHASE_FITTING)
    assert _cancel(trainer_stub, job.name).state == pb.TRAINING_JOB_STATE_CANCELLING
    events = stored(watch(trainer_stub, job.name, timeout=120))
    assert [(payload(e), e.state) for e in events[-2:]] == [
        ("state_change", pb.TRAINING_JOB_STATE_CANCELLING),
        ("state_change", CANCELLED),
    ]
    phases = [e.phase_change.phase for e in events if payload(e) == "phase_change"]
    assert phases[-1] == pb.TRAINING_PHASE_FITTING  # stopped before evaluating
    final = get_job(trainer_stub, job.name)
    assert final.state == CANCELLED and final.model == ""
    assert list((trainer.config.data_dir / "models").iterdir()) == []
    assert list((trainer.config.data_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("data", "target", "model_type", "reason"),
    [
        (b"a,label\n1,x\n2,x\n3,x\n4,x\n5,x\n6,x\n", "label", "logistic_regression", "TOO_FEW_CLASSES"),
        (b"a,y\n1,2\ninf,3\n3,4\n4,5\n5,6\n", "y", "ridge", "NON_FINITE_VALUE"),
        (b"a,y\n1,2\n2,3\n", "y", "ridge", "TOO_FEW_ROWS"),
        (b"a,y\n1,2\n2,3\n3,4\n4,5\n5,6\n", "y", "knn_regressor", "HYPERPARAMETER_OUT_OF_RANGE"),
        # Beyond float32's range: standardising overflowed (the network diverged; ridge "succeeded" with
        # r2 NaN; scikit-learn's checks made other models INTERNAL). Refused alike for every model.
        (b"a,y\n" + b"".join(b"%d,%de300\n" % (i, (-1) ** i * i) for i in range(1, 40)), "y", "neural_network",
         "VALUE_OUT_OF_RANGE"),
        (b"a,y\n" + b"".join(b"%d,%de300\n" % (i, (-1) ** i * i) for i in range(1, 40)), "y", "ridge",
         "VALUE_OUT_OF_RANGE"),
        (b"a,y\n" + b"".join(b"%de300,%d\n" % (i, i) for i in range(1, 40)), "y", "gradient_boosting_regressor",
         "VALUE_OUT_OF_RANGE"),
    ],
)
def test_training_failures_end_the_job_failed_with_a_reason(
    trainer, trainer_stub, data: bytes, target: str, model_type: str, reason: str
) -> None:
    dataset = upload(trainer_stub, data)
    hyperparameters = {"epochs": 10} if model_type == "neural_network" else {}
    events = watch(
        trainer_stub, _create(trainer_stub, make_spec(dataset.name, target, model_type, hyperparameters)).name
    )
    last = events[-1]
    assert (payload(last), last.state) == ("state_change", pb.TRAINING_JOB_STATE_FAILED)
    assert last.state_change.error.reason == reason, last
    message = last.state_change.error.message
    assert message and "Traceback" not in message and str(trainer.config.data_dir) not in message
    job = get_job(trainer_stub, events[0].snapshot.name)
    assert (job.state, job.error.reason, job.error.message) == (pb.TRAINING_JOB_STATE_FAILED, reason, message)
    assert job.model == "" and not job.metrics
    expect_error(
        lambda: trainer_stub.Predict(
            pb.PredictRequest(model=job.name, instances=[struct({"a": 1.0})]), timeout=RPC_TIMEOUT
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_NOT_SUCCEEDED",
        data_dir=trainer.config.data_dir,
    )
