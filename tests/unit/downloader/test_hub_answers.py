"""The checks of the Hub's JSON answers: what a Hub sends passes, anything else is NotAHubAnswer."""

from __future__ import annotations

import pytest

from downloader_service.hub_answers import NotAHubAnswer, file_path_problem, parse_model_info, parse_tree_page
from downloader_service.hub_values import RepoFile

SHA = "0123456789abcdef" * 2 + "01234567"


@pytest.mark.parametrize("path", ["config.json", "sub/dir/model.safetensors", ".gitattributes", "a b.txt"])
def test_repo_file_names_pass(path: str) -> None:
    assert file_path_problem(path) is None


@pytest.mark.parametrize(
    "path", ["", "../x", "a/../x", "/etc/passwd", "C:/x", "a\\b", "a//b", "./x", "x/", "~/x", "a\nb", None, 3]
)
def test_unsafe_file_names_are_refused(path: object) -> None:
    assert file_path_problem(path) is not None


def test_model_info_with_sizes_and_without() -> None:
    info = {"sha": SHA, "siblings": [{"rfilename": "config.json", "size": 3}, {"rfilename": "a/b.bin", "size": 0}]}
    assert parse_model_info(info) == (SHA, (RepoFile("config.json", 3), RepoFile("a/b.bin", 0)))
    assert parse_model_info({"sha": SHA, "siblings": [{"rfilename": "config.json"}]}) == (SHA, None)
    assert parse_model_info({"sha": SHA, "siblings": []}) == (SHA, None)


@pytest.mark.parametrize(
    "info",
    [
        [], "x", None, {"foo": 1}, {"sha": "abc"}, {"sha": SHA.upper()}, {"sha": SHA, "siblings": "x"},
        {"sha": SHA, "siblings": [None]}, {"sha": SHA, "siblings": [{"rfilename": "x", "size": True}]},
        {"sha": SHA, "siblings": [{"rfilename": "x", "size": 1.5}]},
    ],
)
def test_model_info_no_hub_sends_is_refused(info: object) -> None:
    with pytest.raises(NotAHubAnswer):
        parse_model_info(info)


def test_tree_pages() -> None:
    page = [{"type": "directory", "path": "a", "size": 0}, {"type": "file", "path": "a/b.txt", "size": 2}]
    assert parse_tree_page(page) == [RepoFile("a/b.txt", 2)]
    for bad in ({"x": 1}, [{"type": "file", "path": "a"}], [{"type": "link", "path": "a", "size": 1}]):
        with pytest.raises(NotAHubAnswer):
            parse_tree_page(bad)
