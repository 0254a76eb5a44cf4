"""Bad uploads: a precise status (code, reason, BadRequest field), no partial file, nothing lost."""

from __future__ import annotations

import io
import threading
import time

import grpc
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    expect_error,
    pb,
    sha256_hex,
    upload,
    upload_requests,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _csv_upload(data: bytes, **metadata) -> list[pb.UploadDatasetRequest]:
    return list(upload_requests(data, chunk_size=16, **metadata))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\n", "EMPTY_DATASET"),
        (b"a,b,y\n", "EMPTY_DATASET"),
        (b"a,b,y\r\n", "EMPTY_DATASET"),
    ],
)
def test_empty_or_header_only_dataset(baseline, check, data: bytes, reason: str) -> None:
    check(baseline.upload(_csv_upload(data)), INVALID, reason, "chunk")


def test_empty_file_and_zero_chunks(baseline, check) -> None:
    metadata = pb.UploadDatasetRequest(metadata=pb.DatasetMetadata(format=pb.DATASET_FORMAT_CSV))
    check(baseline.upload([metadata]), INVALID, "EMPTY_UPLOAD", "chunk")
    check(baseline.upload([metadata, pb.UploadDatasetRequest(chunk=b"")]), INVALID, "EMPTY_UPLOAD", "chunk")


def test_empty_parquet_dataset(baseline, check) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": pa.array([], pa.float64()), "y": pa.array([], pa.float64())}), buffer)
    check(
        baseline.upload(_csv_upload(buffer.getvalue(), fmt=pb.DATASET_FORMAT_PARQUET)),
        INVALID,
        "EMPTY_DATASET",
        "chunk",
    )


def test_ragged_csv_row_names_the_row(baseline, check) -> None:
    data = b"a,b,y\n1,2,3\n4,5,6\n7,8\n9,10,11\n"
    details = check(baseline.upload(_csv_upload(data)), INVALID, "RAGGED_ROW", "chunk")
    assert "data row 3" in details.message, details
    assert "2 fields" in details.message and "expected 3" in details.message, details


def test_unreadable_upload(baseline, check) -> None:
    check(
        baseline.upload(_csv_upload(b"\x00\x01\x02binary\xff\xfe" * 10)),
        INVALID,
        "UNREADABLE_DATASET",
        "chunk",
    )
    check(
        baseline.upload(_csv_upload(b"not parquet at all", fmt=pb.DATASET_FORMAT_PARQUET)),
        INVALID,
        "UNREADABLE_DATASET",
        "chunk",
    )


def test_a_nul_byte_anywhere_in_a_csv_is_unreadable(baseline, check) -> None:
    rows = b"".join(b"%d,%d\n" % (i, 2 * i) for i in range(20_000))  # ~190 KB, past the first look at 8 KiB
    data = b"a,y\n" + rows[:150_000] + b"\x00" + rows[150_000:]
    details = check(baseline.upload(list(upload_requests(data, chunk_size=64 * 1024))), INVALID,
                    "UNREADABLE_DATASET", "chunk")
    assert "NUL byte at offset 150004 (from 0)" in details.message, details


def test_a_stray_quote_that_would_swallow_the_last_rows_is_unreadable(baseline, check) -> None:
    data = b'n,text\n0,"stray quote\n' + b"".join(b"%d,plain\n" % i for i in range(1, 500))
    details = check(baseline.upload(_csv_upload(data)), INVALID, "UNREADABLE_DATASET", "chunk")
    assert "never closed" in details.message, details
    closed = b'n,text\n0,"two\nlines"\n1,plain\n'
    assert upload(baseline.stub, closed).row_count == 2
    # Read back from the upload itself: past blank lines, and by the parity of the closing run of quotes.
    assert upload(baseline.stub, b'n,text\n0,"two\nlines"\n' + b"\n" * 70_000).row_count == 1
    escaped = b'n,text\n0,"stray\n1,ok\n2,""\n'
    check(baseline.upload(_csv_upload(escaped)), INVALID, "UNREADABLE_DATASET", "chunk")


def test_sha256_mismatch_and_malformed(baseline, check) -> None:
    data = b"a,y\n1,2\n3,4\n"
    check(
        baseline.upload(_csv_upload(data, sha256=sha256_hex(b"other bytes"))),
        INVALID,
        "SHA256_MISMATCH",
        "metadata.sha256",
    )
    check(baseline.upload(_csv_upload(data, sha256="xyz")), INVALID, "INVALID_SHA256", "metadata.sha256")
    accepted = upload(baseline.stub, data, sha256=sha256_hex(data).upper())
    assert accepted.sha256 == sha256_hex(data)


def test_metadata_not_first_or_repeated(baseline, check) -> None:
    chunk = pb.UploadDatasetRequest(chunk=b"a,y\n1,2\n")
    metadata = pb.UploadDatasetRequest(metadata=pb.DatasetMetadata(format=pb.DATASET_FORMAT_CSV))
    check(baseline.upload([chunk, metadata]), INVALID, "METADATA_FIRST", "metadata")
    check(baseline.upload([]), INVALID, "METADATA_FIRST", "metadata")
    check(baseline.upload([metadata, chunk, metadata]), INVALID, "METADATA_REPEATED", "metadata")
    check(baseline.upload([metadata, chunk, pb.UploadDatasetRequest()]), INVALID, "EMPTY_MESSAGE", "chunk")


def test_missing_format_and_oversized_chunk(baseline, check) -> None:
    check(
        baseline.upload(
            [
                pb.UploadDatasetRequest(metadata=pb.DatasetMetadata()),
                pb.UploadDatasetRequest(chunk=b"a,y\n1,2\n"),
            ],
        ),
        INVALID,
        "MISSING_FORMAT",
        "metadata.format",
    )
    big = pb.UploadDatasetRequest(chunk=b"1" * (1024 * 1024 + 1))
    check(
        baseline.upload(
            [pb.UploadDatasetRequest(metadata=pb.DatasetMetadata(format=pb.DATASET_FORMAT_CSV)), big],
        ),
        INVALID,
        "CHUNK_TOO_LARGE",
        "chunk",
    )


def test_upload_over_the_size_cap(make_trainer, stub_for) -> None:
    running = make_trainer(max_upload_bytes=10_000)
    stub = stub_for(running.address)
    data_dir = running.config.data_dir
    kept = upload(stub, b"a,y\n1,2\n3,4\n")
    too_big = b"a,y\n" + b"".join(b"%d,%d\n" % (i, i * 2) for i in range(3000))
    assert len(too_big) > 10_000
    expect_error(
        lambda: stub.UploadDataset(upload_requests(too_big, chunk_size=4096), timeout=RPC_TIMEOUT),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "UPLOAD_TOO_LARGE",
        data_dir=data_dir,
    )
    assert list((data_dir / "tmp").iterdir()) == []
    assert [p.name for p in (data_dir / "datasets").iterdir()] == [kept.name.split("/")[1]]
    assert [d.name for d in stub.ListDatasets(pb.ListDatasetsRequest(), timeout=RPC_TIMEOUT).datasets] == [
        kept.name
    ]
    assert stub.GetDataset(pb.GetDatasetRequest(name=kept.name), timeout=RPC_TIMEOUT).dataset == kept
    # Exactly at the cap is fine.
    at_cap = b"a,y\n" + b"1,2\n" * ((10_000 - 4) // 4)
    assert len(at_cap) == 10_000
    assert upload(stub, at_cap).size_bytes == 10_000


def test_long_display_name_and_upload_request_id(baseline, check) -> None:
    data = b"a,y\n1,2\n"
    check(
        baseline.upload(_csv_upload(data, display_name="n" * 257)),
        INVALID,
        "INVALID_DISPLAY_NAME",
        "metadata.display_name",
    )
    check(
        baseline.upload(_csv_upload(data, request_id="r" * 129)),
        INVALID,
        "INVALID_REQUEST_ID",
        "metadata.request_id",
    )
    for name in ("nul\x00byte", "clear\x1b[2Jscreen", "two\nlines"):  # would reach every terminal that lists it
        check(baseline.upload(_csv_upload(data, display_name=name)), INVALID, "INVALID_DISPLAY_NAME",
              "metadata.display_name")


def test_bad_column_names(baseline, check) -> None:
    check(baseline.upload(_csv_upload(b"a,a,y\n1,2,3\n")), INVALID, "INVALID_COLUMN_NAMES", "chunk")
    check(baseline.upload(_csv_upload(b"a,,y\n1,2,3\n")), INVALID, "INVALID_COLUMN_NAMES", "chunk")
    long_name = b"q" * 1025  # a name is echoed in every listing and error; 1,024 characters is the limit
    check(baseline.upload(_csv_upload(long_name + b",y\n1,2\n")), INVALID, "INVALID_COLUMN_NAMES", "chunk")
    accepted = upload(baseline.stub, b"q" * 1024 + b",y\n1,2\n")
    assert accepted.columns[0].name == "q" * 1024
    baseline.stub.DeleteDataset(pb.DeleteDatasetRequest(name=accepted.name), timeout=30)


def _inspection_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "csv-inspection"]


def test_an_abandoned_upload_leaves_no_file_and_no_inspection_behind(trainer, trainer_stub) -> None:
    data_dir = trainer.config.data_dir
    assert _inspection_threads() == []
    hold = threading.Event()

    def requests():
        yield pb.UploadDatasetRequest(
            metadata=pb.DatasetMetadata(display_name="abandoned", format=pb.DATASET_FORMAT_CSV)
        )
        yield pb.UploadDatasetRequest(chunk=b"a,b\n" + b"1,2\n" * 5000)
        hold.wait(30)  # the client stalls mid-upload, then goes away

    call = trainer_stub.UploadDataset.future(requests(), timeout=RPC_TIMEOUT)
    deadline = time.monotonic() + 20
    while not _inspection_threads():  # the CSV is being inspected while it arrives
        assert time.monotonic() < deadline, "the upload never started inspecting"
        time.sleep(0.02)
    call.cancel()
    hold.set()
    while _inspection_threads() or list((data_dir / "tmp").iterdir()):
        assert time.monotonic() < deadline, "the abandoned upload left its inspection or its file behind"
        time.sleep(0.02)
    assert trainer_stub.ListDatasets(pb.ListDatasetsRequest(), timeout=RPC_TIMEOUT).datasets == []
    assert upload(trainer_stub, b"a,y\n1,2\n3,4\n").row_count == 2  # and the next upload works
