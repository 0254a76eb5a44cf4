"""Validation of repo ids, revisions, patterns and request ids."""

from __future__ import annotations

import pytest

from downloader_service.validation import (
    DownloadRequest,
    is_commit,
    model_id_problem,
    revision_problem,
    validate_revision,
    validate_start,
)
from mlsuite_common.errors import InvalidArgument


@pytest.mark.parametrize(
    "model_id",
    ["bert-base-uncased", "google/flan-t5-small", "org_1/Model.v2", "a/b", "x" * 96, "o/" + "n" * 94],
)
def test_valid_model_ids(model_id: str) -> None:
    assert model_id_problem(model_id) is None


@pytest.mark.parametrize(
    "model_id",
    [
        "",
        "https://huggingface.co/gpt2",
        "hf://gpt2",
        "/gpt2",
        "../gpt2",
        "org/../x",
        "a..b",
        "a--b",
        "org/x/y",
        "-org/x",
        "org/x-",
        "org/.x",
        "org/x.git",
        "org/x y",
        "org\\x",
        "~/x",
        "x" * 97,
        "org/",
        "/",
        "é/x",
    ],
)
def test_invalid_model_ids(model_id: str) -> None:
    assert model_id_problem(model_id) is not None


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/1", "feature_x", "a" * 40, "release-2024.01"])
def test_valid_revisions(revision: str) -> None:
    assert revision_problem(revision) is None


@pytest.mark.parametrize(
    "revision", ["../main", "main/", "/main", "a..b", "v1.", "x.lock", "a b", "x" * 201, "-x"]
)
def test_invalid_revisions(revision: str) -> None:
    assert revision_problem(revision) is not None


def test_commit_detection() -> None:
    assert is_commit("0123456789abcdef0123456789abcdef01234567")
    assert not is_commit("0123456789ABCDEF0123456789ABCDEF01234567")
    assert not is_commit("main")


def test_empty_revision_means_main() -> None:
    assert validate_revision("") == "main"
    assert validate_start("org/name", "", [], [], "") == DownloadRequest("org/name", "main")


def test_every_bad_field_is_reported() -> None:
    with pytest.raises(InvalidArgument) as bad:
        validate_start("../x", "a..b", ["ok/*.json", "/abs"], ["../up"], "bad id with spaces")
    fields = [v.field for v in bad.value.violations]
    assert fields == ["model_id", "revision", "allow_patterns[1]", "ignore_patterns[0]", "request_id"]
    assert bad.value.reason == "INVALID_ARGUMENT"


def test_patterns_are_kept_in_order() -> None:
    request = validate_start("org/name", "v1", ["*.json", "*.safetensors"], ["*.md"], "req-1")
    assert request.allow_patterns == ("*.json", "*.safetensors")
    assert request.ignore_patterns == ("*.md",) and request.request_id == "req-1"
