"""File selection: safe defaults, the pickle policy, the size cap."""

from __future__ import annotations

import pytest

from downloader_service.hub_values import RepoFile, RepoListing
from downloader_service.plan import DownloadPlan, DownloadPolicy, is_pickle_weight, select_files
from mlsuite_common.errors import FailedPrecondition, ResourceExhausted

POLICY = DownloadPolicy(max_download_bytes=10**9)


def _listing(*files: tuple[str, int]) -> RepoListing:
    return RepoListing("org/name", "main", "c" * 40, tuple(RepoFile(p, s) for p, s in files))


def test_defaults_take_weights_configs_tokenizer_and_card_only() -> None:
    listing = _listing(
        ("config.json", 10),
        ("model.safetensors", 100),
        ("pytorch_model.bin", 100),
        ("tokenizer.json", 5),
        ("vocab.txt", 5),
        ("merges.txt", 5),
        ("spiece.model", 5),
        ("README.md", 1),
        (".gitattributes", 1),
        ("train.py", 3),
        ("onnx/model.onnx", 50),
        ("special_tokens_map.json", 1),
    )
    selected = {f.path for f in select_files(listing, (), (), POLICY)}
    assert selected == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
        "merges.txt",
        "spiece.model",
        "README.md",
        "special_tokens_map.json",
    }


def test_pickle_only_repo_is_refused_unless_allowed() -> None:
    listing = _listing(("config.json", 10), ("pytorch_model.bin", 100))
    with pytest.raises(FailedPrecondition) as refused:
        select_files(listing, (), (), POLICY)
    assert refused.value.reason == "PICKLE_WEIGHTS_REFUSED"
    allowed = select_files(listing, (), (), DownloadPolicy(10**9, allow_pickle_weights=True))
    assert {f.path for f in allowed} == {"config.json", "pytorch_model.bin"}


def test_patterns_that_select_pickles_are_refused() -> None:
    listing = _listing(("config.json", 10), ("model.safetensors", 100), ("training_args.bin", 1))
    with pytest.raises(FailedPrecondition) as refused:
        select_files(listing, ("*",), (), POLICY)
    assert refused.value.metadata["file"] == "training_args.bin"
    assert {f.path for f in select_files(listing, ("*",), ("*.bin",), POLICY)} == {
        "config.json",
        "model.safetensors",
    }


def test_nothing_selected_and_too_large() -> None:
    listing = _listing(("config.json", 10), ("model.safetensors", 1000))
    with pytest.raises(FailedPrecondition) as empty:
        select_files(listing, ("*.gguf",), (), POLICY)
    assert empty.value.reason == "NO_FILES_SELECTED"
    with pytest.raises(ResourceExhausted) as big:
        select_files(listing, (), (), DownloadPolicy(max_download_bytes=1009))
    assert big.value.reason == "DOWNLOAD_TOO_LARGE" and big.value.metadata["bytes_total"] == "1010"
    assert len(select_files(listing, (), (), DownloadPolicy(max_download_bytes=1010))) == 2


def test_plan_orders_pending_small_first_and_skips_cached() -> None:
    files = (RepoFile("model.safetensors", 1000), RepoFile("config.json", 10), RepoFile("vocab.txt", 20))
    plan = DownloadPlan("c" * 40, files, frozenset({"vocab.txt"}))
    assert [f.path for f in plan.pending] == ["config.json", "model.safetensors"]
    assert plan.bytes_total == 1030


@pytest.mark.parametrize(
    ("path", "pickled"),
    [
        ("a.bin", True),
        ("x/y.PT", True),
        ("m.ckpt", True),
        ("m.safetensors", False),
        ("m.pkl", True),
        ("bin.json", False),
    ],
)
def test_pickle_detection(path: str, pickled: bool) -> None:
    assert is_pickle_weight(path) is pickled
