"""Inspecting a CSV while it is uploaded: followers of the growing file, and the same answer as afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mlsuite_common.errors import InvalidArgument
from trainer_service.datasets import DatasetFormat, inspect_csv, inspect_dataset
from trainer_service.upload import DatasetWriter, UploadAbandoned


def _late_float_csv(rows: int = 100_000) -> bytes:
    """Column b reads as int64 in the first 1 MiB block; a double near the end forces a re-read."""
    lines = ["a,b,name"] + [f"{i},{i % 97},row{i % 13}" for i in range(rows)]
    lines[-5] = f"{rows},2.5,late"
    return ("\n".join(lines) + "\n").encode()


def _feed(writer: DatasetWriter, data: bytes, chunk: int, pause: float) -> None:
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])
        time.sleep(pause)


def _read_in_background(reader) -> tuple[threading.Thread, list[BaseException]]:
    """Start a read that has to wait; returns its thread and the list its exception lands in."""
    errors: list[BaseException] = []

    def read() -> None:
        try:
            reader.readinto(bytearray(10))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    waiting = threading.Thread(target=read)
    waiting.start()
    time.sleep(0.1)
    assert waiting.is_alive()
    return waiting, errors


def test_a_follower_reads_bytes_as_they_arrive_and_ends_with_the_upload(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path, 1 << 20) as writer:
        reader = writer.follow().open()
        writer.write(b"abc")
        assert reader.read(10) == b"abc"
        got: list[bytes] = []
        waiting = threading.Thread(target=lambda: got.append(reader.read(10)))
        waiting.start()
        time.sleep(0.2)
        assert waiting.is_alive()  # nothing new yet: the read waits instead of seeing an end
        writer.write(b"defg")
        waiting.join(timeout=5)
        assert got == [b"defg"]
        writer.finish(tmp_path / "data.csv", None)
        assert reader.read(10) == b""  # finished: end of file
        assert writer.follow().head(5) == b"abcde"  # a new follower still finds the renamed file
        reader.close()


def test_abandoning_the_upload_wakes_a_waiting_follower(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, 1 << 20)
    reader = writer.follow().open()
    waiting, errors = _read_in_background(reader)
    writer.abort()
    waiting.join(timeout=5)
    assert not waiting.is_alive() and isinstance(errors[0], UploadAbandoned)
    assert list(tmp_path.iterdir()) == []
    reader.close()


@pytest.mark.parametrize("pause", [0.0, 0.002])
def test_inspection_during_the_upload_matches_inspection_after_it(tmp_path: Path, pause: float) -> None:
    data = _late_float_csv()
    assert len(data) > 1 << 20
    result: list[object] = []
    with DatasetWriter(tmp_path, 1 << 24) as writer:
        inspector = threading.Thread(target=lambda: result.append(inspect_csv(writer.follow())))
        inspector.start()
        _feed(writer, data, 64 * 1024, pause)
        writer.finish(tmp_path / "data.csv", None)
        inspector.join(timeout=60)
    expected = inspect_dataset(tmp_path / "data.csv", DatasetFormat.CSV)
    assert result == [expected]
    assert [(c.name, c.dtype) for c in expected.columns] == [
        ("a", "int64"),
        ("b", "double"),
        ("name", "string"),
    ]
    assert expected.row_count == 100_000


def test_a_ragged_row_found_during_the_upload_is_the_same_error(tmp_path: Path) -> None:
    data = b"a,b\n1,2\n3\n5,6\n"
    errors: list[BaseException] = []
    with DatasetWriter(tmp_path, 1 << 20) as writer:

        def inspect() -> None:
            try:
                inspect_csv(writer.follow())
            except InvalidArgument as exc:
                errors.append(exc)

        inspector = threading.Thread(target=inspect)
        inspector.start()
        _feed(writer, data, 3, 0.001)
        writer.finish(tmp_path / "data.csv", None)
        inspector.join(timeout=30)
    assert errors and errors[0].reason == "RAGGED_ROW"
    assert "data row 2" in errors[0].message and str(tmp_path) not in errors[0].message


def test_a_closed_follower_refuses_reads_and_wakes_a_waiting_one(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path, 1 << 20) as writer:
        writer.write(b"abc")
        reader = writer.follow().open()
        assert reader.read(3) == b"abc"
        waiting, errors = _read_in_background(reader)  # waits: nothing new has been written
        reader.close()
        waiting.join(timeout=5)
        assert not waiting.is_alive() and isinstance(errors[0], ValueError)
        with pytest.raises(ValueError):
            reader.readinto(bytearray(10))
