"""The Hugging Face Hub client: the only module that imports huggingface_hub.

Downloads stay on plain HTTP (Xet disabled before the import) in 64 KiB chunks, so progress is exact
and a cancel takes effect at the next chunk. Library errors become domain errors here, with messages
that never contain the token, a local path or a traceback.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_DISABLE_XET"] = "1"  # read when huggingface_hub is imported: keep transfers on plain HTTP

import dataclasses  # noqa: E402
import functools  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import urllib.parse  # noqa: E402
from collections.abc import Callable, Collection, Iterable, Sequence  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx2  # noqa: E402 - the transport huggingface_hub raises from
from huggingface_hub import (  # noqa: E402
    HFCacheInfo,
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    scan_cache_dir,
    set_client_factory,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (  # noqa: E402
    CorruptedCacheException,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name  # noqa: E402
from huggingface_hub.utils import (  # noqa: E402
    build_hf_headers,
    filter_repo_objects,
    get_session,
    hf_raise_for_status,
)
from huggingface_hub.utils._cache_manager import CachedRepoInfo, _scan_cached_repo  # noqa: E402 - one repo
from huggingface_hub.utils._http import default_client_factory  # noqa: E402 - the library's own client

from downloader_service import errors  # noqa: E402
from downloader_service.hub_answers import NotAHubAnswer, parse_model_info, parse_tree_page  # noqa: E402
from downloader_service.hub_values import CachedRevision, RepoFile, RepoListing  # noqa: E402
from downloader_service.validation import is_commit, model_id_problem  # noqa: E402
from mlsuite_common.errors import (  # noqa: E402
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ServiceError,
    Unavailable,
)

__all__ = ["CHUNK_BYTES", "HubClient", "filter_paths", "shown_url"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
_MAX_TREE_PAGES = 100  # the Hub pages trees by 1,000 entries or more: far beyond any downloadable model
constants.HF_HUB_DISABLE_XET = True  # in case huggingface_hub was imported before this module
constants.DOWNLOAD_CHUNK_SIZE = CHUNK_BYTES  # process-global, read at call time

_UNREACHABLE = (
    httpx2.TransportError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    ConnectionError,
    TimeoutError,
)


def filter_paths(paths: Iterable[str], allow: Sequence[str], ignore: Sequence[str]) -> list[str]:
    """Paths matching the allow globs (all when empty) and no ignore glob, as snapshot_download selects."""
    return list(
        filter_repo_objects(
            list(paths), allow_patterns=list(allow) or None, ignore_patterns=list(ignore) or None
        )
    )


class _ByteCounter:
    """Stands in for tqdm: forwards byte counts and raises DownloadCancelled once `cancel` is set."""

    def __init__(
        self, *_args: Any, on_bytes: Callable[[int], None], cancel: threading.Event, **_kwargs: Any
    ) -> None:
        self._on_bytes = on_bytes
        self._cancel = cancel

    def update(self, n: int | float | None = 1) -> None:
        """Count `n` bytes (negative when the library rewinds a retried transfer)."""
        if self._cancel.is_set():
            raise errors.DownloadCancelled()
        if n:
            self._on_bytes(int(n))

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> _ByteCounter:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


_transfer = threading.local()  # .cancel: the cancel event of the file transfer this thread runs


def _stop_if_cancelled(_request: httpx2.Request) -> None:
    """An httpx request hook: a cancelled transfer sends no further request.

    huggingface_hub retries a transfer that stalled (after each read timeout, with a Range request), and
    only a received byte reaches _ByteCounter. Without this, cancelling a download whose Hub stopped
    sending waited out every retry (about a minute) and then ended FAILED instead of CANCELLED.
    """
    cancel = getattr(_transfer, "cancel", None)
    if cancel is not None and cancel.is_set():
        raise errors.DownloadCancelled()


def _bound_timeout(request: httpx2.Request) -> None:
    """An httpx request hook: a request sent without a timeout gets --hub-timeout-seconds.

    huggingface_hub's client has timeout=None, and some of its calls (the tree listing) pass none: a
    Hub that never answered held the StartDownload thread forever, and SIGTERM could not exit.
    """
    timeout = request.extensions.get("timeout") or {}
    if all(value is None for value in timeout.values()):
        bound = httpx2.Timeout(constants.HF_HUB_DOWNLOAD_TIMEOUT)
        request.extensions = {**request.extensions, "timeout": bound.as_dict()}


def _client_factory() -> httpx2.Client:
    """huggingface_hub's own HTTP client, with the timeout bound and the cancel check in its request hooks."""
    client = default_client_factory()
    hooks = client.event_hooks
    client.event_hooks = {
        **hooks,
        "request": [*hooks.get("request", []), _bound_timeout, _stop_if_cancelled],
    }
    return client


set_client_factory(_client_factory)


def shown_url(url: str) -> str:
    """`url` without credentials or query (https://user:secret@hub/?token=x -> https://hub/): safe to show."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # a malformed port: show none rather than fail
        port = ""
    return urllib.parse.urlunsplit((parts.scheme, host + port, parts.path, "", ""))


class HubClient:
    """Resolves, lists and downloads Hub repos into one cache dir with bounded timeouts."""

    def __init__(self, endpoint: str, *, cache_dir: Path, token: str | None, timeout: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        # What messages, error metadata and logs show: an endpoint may carry credentials (user:pass@host).
        self.shown_endpoint = shown_url(self.endpoint)
        self.cache_dir = cache_dir
        # Never logged, only handed to huggingface_hub; False (not None) so that exactly the configured token
        # is used, never one from a token file.
        self._token = token
        self._timeout = timeout
        # The read timeout of file transfers too (huggingface_hub reads it at each request): a Hub that stops
        # sending mid-file is noticed, and a cancel lands, within this many seconds. _bound_timeout gives it
        # to every other request that names no timeout.
        constants.HF_HUB_DOWNLOAD_TIMEOUT = timeout
        self._skipped: set[str] = set()  # cache entries already logged as not listable

    def __repr__(self) -> str:
        return f"HubClient(endpoint={self.shown_endpoint!r}, cache_dir={str(self.cache_dir)!r})"

    # -- resolution ----------------------------------------------------------------------------------

    def list_files(self, model_id: str, revision: str) -> RepoListing:
        """Resolve `revision` to a commit and list every file with its size (bounded requests).

        The answers are read here rather than by HfApi.model_info, so that a body no Hub sends is
        HUB_ERROR naming the endpoint, checked (commit, file names, sizes) before any filesystem use.
        """
        try:
            url = f"{self.endpoint}/api/models/{model_id}/revision/{urllib.parse.quote(revision, safe='')}"
            body, _ = self._get_json(url, {"blobs": "true"})
            commit, files = parse_model_info(body)
            if files is None:  # a Hub without file sizes in the model info: list the tree
                files = self._tree_files(model_id, commit)
        except ServiceError:
            raise
        except NotAHubAnswer as exc:
            raise self._not_a_hub_answer(model_id, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise self._resolution_error(exc, model_id, revision) from None
        return RepoListing(model_id=model_id, revision=revision, commit=commit, files=files)

    def _get_json(self, url: str, params: dict[str, str] | None) -> tuple[object, str | None]:
        """One bounded GET of a Hub API route: its JSON body (NotAHubAnswer if none) and its next page."""
        response = get_session().get(
            url, headers=build_hf_headers(token=self._token or False), params=params, timeout=self._timeout
        )
        hf_raise_for_status(response)
        if not 200 <= response.status_code < 300:  # e.g. a redirect without a Location
            raise NotAHubAnswer(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:  # HTML, text, truncated JSON (UnicodeDecodeError is a ValueError too)
            raise NotAHubAnswer("a body that is not JSON") from None
        return body, response.links.get("next", {}).get("url")

    def _tree_files(self, model_id: str, commit: str) -> tuple[RepoFile, ...]:
        """Every file of the commit's tree, one bounded request per page.

        Not HfApi.list_repo_tree: it retries a timed-out page five times with backoff, so a hung Hub
        held StartDownload for minutes instead of --hub-timeout-seconds.
        """
        url: str | None = f"{self.endpoint}/api/models/{model_id}/tree/{commit}"
        params: dict[str, str] | None = {"recursive": "true"}
        files: list[RepoFile] = []
        for _page in range(_MAX_TREE_PAGES):
            body, url = self._get_json(url, params)  # type: ignore[arg-type]
            files += parse_tree_page(body)
            params = None  # the next-page link carries them
            if not url:
                return tuple(files)
        raise NotAHubAnswer(f"a tree listing of more than {_MAX_TREE_PAGES} pages")

    def check_access(self, model_id: str, commit: str, path: str) -> None:
        """HEAD one file, so a gated repo is refused now rather than at its first byte."""
        url = hf_hub_url(model_id, path, revision=commit, endpoint=self.endpoint)
        try:
            get_hf_file_metadata(
                url, token=self._token or False, timeout=self._timeout, endpoint=self.endpoint
            )
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise self._resolution_error(exc, model_id, commit) from None

    def _not_a_hub_answer(self, model_id: str, problem: str) -> FailedPrecondition:
        """HUB_ERROR for an answer no Hub gives (wrong endpoint, proxy or captive portal)."""
        return FailedPrecondition(
            f"the endpoint {self.shown_endpoint} answered for model {model_id} with {problem}: "
            "not a Hub answer (is --hub-endpoint a Hugging Face Hub?)",
            reason=errors.HUB_ERROR,
            metadata={"model_id": model_id, "endpoint": self.shown_endpoint},
        )

    def _resolution_error(self, exc: Exception, model_id: str, revision: str) -> Exception:
        meta = {"model_id": model_id}
        if isinstance(exc, GatedRepoError):
            return PermissionDenied(
                f"model {model_id} is gated: the server's Hub token is missing or has no access",
                reason=errors.GATED_REPO,
                metadata=meta,
            )
        if isinstance(exc, RevisionNotFoundError):
            return NotFound(
                f"revision {revision!r} of model {model_id} not found on the Hub",
                reason=errors.REVISION_NOT_FOUND,
                metadata={**meta, "revision": revision},
            )
        if isinstance(exc, RepositoryNotFoundError):
            return NotFound(
                f"model {model_id} not found on the Hub", reason=errors.MODEL_NOT_FOUND, metadata=meta
            )
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            code = exc.response.status_code
            if code in (401, 403):
                return PermissionDenied(
                    f"the Hub refused access to model {model_id} (HTTP {code})",
                    reason=errors.HUB_ACCESS_DENIED,
                    metadata=meta,
                )
            if code >= 500 or code in (408, 429):
                return Unavailable(
                    f"Hub unreachable at {self.shown_endpoint} (HTTP {code})",
                    reason=errors.HUB_UNAVAILABLE,
                    metadata={"endpoint": self.shown_endpoint},
                )
            return FailedPrecondition(
                f"the Hub answered HTTP {code} for model {model_id}", reason=errors.HUB_ERROR, metadata=meta
            )
        if isinstance(exc, EntryNotFoundError):
            return FailedPrecondition(
                f"the Hub lists a file of model {model_id} that it does not serve",
                reason=errors.HUB_ERROR,
                metadata=meta,
            )
        if isinstance(exc, _UNREACHABLE):
            return Unavailable(
                f"Hub unreachable at {self.shown_endpoint}",
                reason=errors.HUB_UNAVAILABLE,
                metadata={"endpoint": self.shown_endpoint},
            )
        return exc

    # -- transfer ------------------------------------------------------------------------------------

    def is_cached(self, model_id: str, commit: str, path: str) -> bool:
        """True when `path` of `commit` is complete in the cache."""
        found = try_to_load_from_cache(model_id, path, cache_dir=self.cache_dir, revision=commit)
        return isinstance(found, str)

    def download(
        self, model_id: str, commit: str, path: str, on_bytes: Callable[[int], None], cancel: threading.Event
    ) -> None:
        """Fetch one file into the cache, reporting bytes; raises DownloadCancelled or DownloadFailed."""
        counter = functools.partial(_ByteCounter, on_bytes=on_bytes, cancel=cancel)
        _transfer.cancel = cancel
        try:
            hf_hub_download(
                model_id,
                path,
                revision=commit,
                cache_dir=self.cache_dir,
                endpoint=self.endpoint,
                token=self._token or False,
                etag_timeout=self._timeout,
                tqdm_class=counter,  # type: ignore[arg-type]
            )
        except (errors.DownloadCancelled, errors.DownloadFailed):
            raise
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            if cancel.is_set():  # it failed while being cancelled (a read timed out): the cancel wins
                raise errors.DownloadCancelled() from None
            failure = self._transfer_error(exc, path)
            if failure is None:
                raise
            logger.info(
                "download of %s from %s failed: %s (%s)", path, model_id, failure.message, type(exc).__name__
            )
            raise failure from None
        finally:
            _transfer.cancel = None

    def _transfer_error(self, exc: Exception, path: str) -> errors.DownloadFailed | None:
        if isinstance(exc, GatedRepoError):
            return errors.DownloadFailed(
                f"the Hub refused {path}: the repo is gated", reason=errors.GATED_REPO
            )
        if isinstance(
            exc, (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError)
        ) and not isinstance(exc, LocalEntryNotFoundError):
            return errors.DownloadFailed(f"the Hub no longer serves {path}", reason=errors.HUB_ERROR)
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            return errors.DownloadFailed(
                f"the Hub answered HTTP {exc.response.status_code} while downloading {path}",
                reason=errors.HUB_ERROR,
            )
        if isinstance(exc, _UNREACHABLE):
            return errors.DownloadFailed(
                f"lost the connection to the Hub at {self.shown_endpoint} while downloading {path}",
                reason=errors.HUB_UNAVAILABLE,
            )
        if isinstance(exc, OSError):
            if "Consistency check failed" in str(exc):
                return errors.DownloadFailed(
                    f"{path} arrived incomplete from the Hub", reason=errors.HUB_ERROR
                )
            detail = os.strerror(exc.errno) if exc.errno else type(exc).__name__
            return errors.DownloadFailed(
                f"could not store {path} in the cache: {detail}", reason=errors.DOWNLOAD_FAILED
            )
        return None

    # -- cache ---------------------------------------------------------------------------------------

    def repo_dir(self, model_id: str) -> Path:
        """The cache folder of `model_id` (models--org--name)."""
        return self.cache_dir / repo_folder_name(repo_id=model_id, repo_type="model")

    def snapshot_dir(self, model_id: str, commit: str) -> Path:
        """The snapshot folder of one commit."""
        return self.repo_dir(model_id) / "snapshots" / commit

    def scan(self) -> list[CachedRevision]:
        """Every intact cached model revision.

        scan_cache_dir drops a whole repo when one of its files lost its blob (a disk cleaner, a user):
        its intact revisions would vanish and could not be deleted. Such repos are scanned here file by
        file instead; a revision with a missing blob is logged and left out (DeleteDownloadedModel of the
        model removes it).
        """
        if not self.cache_dir.is_dir():
            return []
        info = self._scan_cache()
        for warning in info.warnings:
            logger.debug("cache scan skipped an entry: %s", warning)
        readable = {repo.repo_path.resolve() for repo in info.repos}
        found: list[CachedRevision] = []
        for repo_dir in sorted(self.cache_dir.glob("models--*")):
            if repo_dir.is_dir() and repo_dir.resolve() not in readable:
                found += self._scan_damaged(repo_dir)
        for repo in info.repos:
            if repo.repo_type != "model":
                continue
            if model_id_problem(repo.repo_id):
                self._skip(repo.repo_path.name, "its name is not a valid model id")
                continue
            for revision in repo.revisions:
                if not is_commit(revision.commit_hash):
                    self._skip(f"{repo.repo_path.name}/snapshots/{revision.commit_hash}", "not a 40-hex commit")
                    continue
                found.append(
                    CachedRevision(
                        model_id=repo.repo_id,
                        commit=revision.commit_hash,
                        refs=tuple(sorted(revision.refs)),
                        files=tuple(
                            sorted(
                                f.file_path.relative_to(revision.snapshot_path).as_posix()
                                for f in revision.files
                            )
                        ),
                        size_bytes=revision.size_on_disk,
                        last_modified=datetime.fromtimestamp(revision.last_modified, UTC),
                    )
                )
        return found

    def _skip(self, entry: str, why: str) -> None:
        """Log, once per entry, a cache entry left out of the listing because the API could not name it.

        Listed, it could not be deleted (DeleteDownloadedModel validates model ids and commits); it is
        left on disk untouched, for whoever put it there.
        """
        if entry not in self._skipped:
            self._skipped.add(entry)
            logger.warning("cache: %s is not listed: %s", entry, why)

    @staticmethod
    def _model_id_of(repo_dir: Path) -> str | None:
        """The model id of a models--org--name folder (None if it does not name a valid one)."""
        model_id = repo_dir.name.split("--", 1)[1].replace("--", "/") if "--" in repo_dir.name else ""
        return None if model_id_problem(model_id) else model_id

    def _scan_damaged(self, repo_dir: Path) -> list[CachedRevision]:
        """The intact revisions of a repo scan_cache_dir could not read; the others are logged."""
        model_id = self._model_id_of(repo_dir)
        snapshots = repo_dir / "snapshots"
        if model_id is None:
            self._skip(repo_dir.name, "its name is not a valid model id")
            return []
        if not snapshots.is_dir():
            return []
        refs: dict[str, list[str]] = {}
        if (repo_dir / "refs").is_dir():
            for ref in (repo_dir / "refs").rglob("*"):
                try:
                    commit = ref.read_text().strip() if ref.is_file() else ""
                except (OSError, UnicodeDecodeError):  # an unreadable ref names nothing
                    continue
                if commit:
                    refs.setdefault(commit, []).append(ref.relative_to(repo_dir / "refs").as_posix())
        intact: list[CachedRevision] = []
        for snapshot in sorted(snapshots.iterdir()):
            if not snapshot.is_dir() or not is_commit(snapshot.name):
                self._skip(f"{repo_dir.name}/snapshots/{snapshot.name}", "not a 40-hex commit folder")
                continue
            files = [p for p in snapshot.rglob("*") if p.is_symlink() or p.is_file()]
            missing = [p for p in files if not p.exists()]
            if missing or not files:
                logger.warning("cache: %s@%s has %d file(s) whose blob is missing; it is not listed, and "
                               "deleting the model removes it", model_id, snapshot.name, len(missing))
                continue
            stats = [p.stat() for p in files]
            intact.append(CachedRevision(
                model_id=model_id,
                commit=snapshot.name,
                refs=tuple(sorted(refs.get(snapshot.name, ()))),
                files=tuple(sorted(p.relative_to(snapshot).as_posix() for p in files)),
                size_bytes=sum(st.st_size for st in stats),
                last_modified=datetime.fromtimestamp(max(st.st_mtime for st in stats), UTC),
            ))
        return intact

    def is_damaged(self, model_id: str) -> bool:
        """Whether `model_id` has a cache folder that huggingface_hub cannot read."""
        return self.repo_dir(model_id).is_dir() and self._repo_only(model_id) is None

    def remove_repo(self, model_id: str) -> int:
        """Remove the model's whole cache folder (every revision, damaged ones too); returns the bytes freed."""
        repo_dir = self.repo_dir(model_id)
        freed = sum(p.stat().st_size for p in repo_dir.rglob("*") if p.is_file() and not p.is_symlink())
        shutil.rmtree(repo_dir, ignore_errors=True)
        return freed

    def _delete_damaged(self, model_id: str, commits: Collection[str]) -> int:
        """Delete revisions of a repo huggingface_hub cannot read: snapshots, their refs, unused blobs."""
        repo_dir = self.repo_dir(model_id)
        for commit in commits:
            shutil.rmtree(repo_dir / "snapshots" / commit, ignore_errors=True)
        if (repo_dir / "refs").is_dir():
            for ref in (repo_dir / "refs").rglob("*"):
                try:
                    named = ref.read_text().strip() if ref.is_file() else ""
                except (OSError, UnicodeDecodeError):  # a damaged ref names nothing: leave it
                    continue
                if named in commits:
                    ref.unlink()
        used = {p.resolve() for p in (repo_dir / "snapshots").rglob("*") if p.is_symlink()}
        freed = 0
        for blob in (repo_dir / "blobs").iterdir() if (repo_dir / "blobs").is_dir() else ():
            if blob.resolve() not in used:
                freed += blob.stat().st_size
                blob.unlink()
        return freed

    def _scan_cache(self) -> HFCacheInfo:
        """scan_cache_dir, except that a repo it chokes on is left out (and logged) instead of failing it all.

        It lets UnicodeDecodeError or OSError escape (a ref file of binary bytes, an unreadable folder):
        one damaged entry then made listing and deleting any model INTERNAL. Those repos are rescanned
        one by one here; the ones left out are handled as damaged (see scan and _delete_damaged).
        """
        try:
            return scan_cache_dir(self.cache_dir)
        except (UnicodeDecodeError, OSError) as exc:
            logger.warning("cache scan failed (%s); scanning the models one by one", type(exc).__name__)
        repos: set[CachedRepoInfo] = set()
        warnings: list[CorruptedCacheException] = []
        for repo_dir in sorted(self.cache_dir.glob("models--*")):
            try:
                repos.add(_scan_cached_repo(repo_dir))
            except (CorruptedCacheException, UnicodeDecodeError, OSError) as exc:
                warnings.append(CorruptedCacheException(f"{repo_dir.name}: {type(exc).__name__}"))
        return HFCacheInfo(
            size_on_disk=sum(r.size_on_disk for r in repos),
            repos=frozenset(repos),
            incomplete_files=frozenset(),
            warnings=warnings,
            cache_dir=self.cache_dir,
        )

    def _repo_only(self, model_id: str) -> HFCacheInfo | None:
        """The cache scan narrowed to `model_id`'s repo (None if it is not readable).

        huggingface_hub's delete_revisions looks a commit hash up in every repo of the scan and deletes
        the first repo it finds it in. A mirror or a pushed copy of a model shares its commit hashes, so
        on the whole cache that could delete another model; on one repo it cannot.
        """
        info = self._scan_cache()
        repo = next((r for r in info.repos if r.repo_id == model_id and r.repo_type == "model"), None)
        return None if repo is None else dataclasses.replace(info, repos=frozenset({repo}))

    def delete_revisions(self, model_id: str, commits: Collection[str]) -> int:
        """Delete cached revisions of one model (snapshots, refs, unshared blobs); returns the bytes freed."""
        info = self._repo_only(model_id)
        if info is None:
            return self._delete_damaged(model_id, commits) if self.repo_dir(model_id).is_dir() else 0
        strategy = info.delete_revisions(*commits)
        strategy.execute()
        return strategy.expected_freed_size

    def delete_files(self, model_id: str, commit: str, paths: Collection[str]) -> bool:
        """Delete snapshot entries (and blobs nothing else uses); False if the revision is unreadable."""
        info = self._repo_only(model_id)
        for repo in info.repos if info is not None else ():
            for revision in repo.revisions:
                if revision.commit_hash != commit:
                    continue
                doomed = [
                    f
                    for f in revision.files
                    if f.file_path.relative_to(revision.snapshot_path).as_posix() in paths
                ]
                if doomed:
                    info.delete_files(*doomed).execute()
                if len(doomed) == len(revision.files):
                    info.delete_revisions(commit).execute()
                return True
        return False
