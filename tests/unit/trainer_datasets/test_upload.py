"""DatasetWriter and validate_sha256: hashing, size cap, empty uploads, checksum check, atomic finish."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlsuite_common.errors import InvalidArgument, ResourceExhausted
from trainer_service.datasets import MAX_CHUNK_BYTES, DatasetWriter, validate_sha256

CHUNKS = [b"a,b\n", b"1,2\n", b"3,4\n"]
DIGEST = hashlib.sha256(b"".join(CHUNKS)).hexdigest()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_hash_size_and_chunk_count(tmp_path: Path) -> None:
    final = tmp_path / "ds.csv"
    with DatasetWriter(tmp_path, max_bytes=1024) as writer:
        for chunk in CHUNKS:
            writer.write(chunk)
        assert writer.size_bytes == 12
        assert writer.chunk_count == 3
        assert writer.sha256 == DIGEST
        writer.finish(final, None)
    assert final.read_bytes() == b"".join(CHUNKS)
    assert _leftovers(tmp_path) == ["ds.csv"]


def test_expected_sha256_is_case_insensitive(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path, max_bytes=1024) as writer:
        for chunk in CHUNKS:
            writer.write(chunk)
        writer.finish(tmp_path / "ds.csv", DIGEST.upper())
    assert (tmp_path / "ds.csv").exists()


def test_temp_file_lives_in_directory_until_finish(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, max_bytes=1024)
    writer.write(b"x")
    (temp,) = tmp_path.iterdir()
    assert temp.name.startswith(".upload-")
    writer.finish(tmp_path / "final", "")
    assert _leftovers(tmp_path) == ["final"]


def test_exactly_the_cap_is_accepted(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path, max_bytes=8) as writer:
        writer.write(b"1234")
        writer.write(b"5678")
        writer.finish(tmp_path / "ds", None)
    assert (tmp_path / "ds").stat().st_size == 8


def test_cap_exceeded_removes_partial_file(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, max_bytes=10)
    writer.write(b"123456")
    with pytest.raises(ResourceExhausted) as caught:
        writer.write(b"78901")
    assert caught.value.reason == "UPLOAD_TOO_LARGE"
    assert "10 bytes" in caught.value.message
    assert _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError):
        writer.write(b"x")


def test_oversized_chunk_is_rejected(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, max_bytes=10 * MAX_CHUNK_BYTES)
    with pytest.raises(InvalidArgument) as caught:
        writer.write(b"x" * (MAX_CHUNK_BYTES + 1))
    assert caught.value.reason == "CHUNK_TOO_LARGE"
    assert _leftovers(tmp_path) == []


def test_zero_chunks_is_an_empty_upload(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, max_bytes=10)
    with pytest.raises(InvalidArgument) as caught:
        writer.finish(tmp_path / "ds", None)
    assert caught.value.reason == "EMPTY_UPLOAD"
    assert caught.value.violations[0].field == "chunk"
    assert _leftovers(tmp_path) == []


def test_sha256_mismatch_removes_temp_and_writes_nothing(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, max_bytes=1024)
    writer.write(b"payload")
    with pytest.raises(InvalidArgument) as caught:
        writer.finish(tmp_path / "ds", "0" * 64)
    assert caught.value.reason == "SHA256_MISMATCH"
    assert caught.value.violations[0].field == "metadata.sha256"
    assert _leftovers(tmp_path) == []


def test_finish_replaces_atomically_with_os_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "ds.csv"
    final.write_bytes(b"old")
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    with DatasetWriter(tmp_path, max_bytes=1024) as writer:
        writer.write(b"new")
        writer.finish(final, None)
    assert len(calls) == 1 and calls[0][0].startswith(".upload-") and calls[0][1] == "ds.csv"
    assert final.read_bytes() == b"new"


def test_failed_rename_keeps_previous_file_and_drops_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    final = tmp_path / "ds.csv"
    final.write_bytes(b"old")

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    writer = DatasetWriter(tmp_path, max_bytes=1024)
    writer.write(b"new")
    with pytest.raises(OSError):
        writer.finish(final, None)
    assert final.read_bytes() == b"old"
    assert _leftovers(tmp_path) == ["ds.csv"]


def test_context_manager_aborts_on_exception(tmp_path: Path) -> None:
    with pytest.raises(ValueError), DatasetWriter(tmp_path, max_bytes=1024) as writer:
        writer.write(b"partial")
        raise ValueError("client went away")
    assert _leftovers(tmp_path) == []


def test_context_manager_keeps_finished_file(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path, max_bytes=1024) as writer:
        writer.write(b"data")
        writer.finish(tmp_path / "ds", None)
        writer.abort()
    assert _leftovers(tmp_path) == ["ds"]


def test_abort_is_idempotent(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, max_bytes=1024)
    writer.write(b"data")
    writer.abort()
    writer.abort()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("value", ["", DIGEST, DIGEST.upper()])
def test_validate_sha256_accepts_empty_and_hex(value: str) -> None:
    assert validate_sha256(value) == value.lower()


@pytest.mark.parametrize("value", ["abc", "g" * 64, DIGEST + "0", " " + DIGEST[1:]])
def test_validate_sha256_rejects_malformed(value: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_sha256(value)
    assert caught.value.reason == "INVALID_SHA256"
    assert caught.value.violations[0].field == "metadata.sha256"
