"""The Hugging Face Hub client; with hub_cache, the only modules that import huggingface_hub.

Downloads stay on plain HTTP (Xet disabled before the import) in 64 KiB chunks, so progress is exact
and a cancel takes effect at the next chunk. Library errors become domain errors here, with messages
that never contain the token, a local path or a traceback.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_DISABLE_XET"] = "1"  # read when huggingface_hub is imported: keep transfers on plain HTTP

import functools  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import urllib.parse  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx2  # noqa: E402 - the transport huggingface_hub raises from
from huggingface_hub import (  # noqa: E402
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    set_client_factory,
)
from huggingface_hub.errors import (  # noqa: E402
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import (  # noqa: E402
    build_hf_headers,
    filter_repo_objects,
    get_session,
    hf_raise_for_status,
)
from huggingface_hub.utils._http import default_client_factory  # noqa: E402 - the library's own client

from downloader_service import errors  # noqa: E402
from downloader_service.hub_answers import NotAHubAnswer, parse_model_info, parse_tree_page  # noqa: E402
from downloader_service.hub_cache import HubCache  # noqa: E402
from downloader_service.hub_values import RepoFile, RepoListing  # noqa: E402
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


class HubClient(HubCache):
    """Resolves, lists and downloads Hub repos into its cache (HubCache) with bounded timeouts."""

    def __init__(self, endpoint: str, *, cache_dir: Path, token: str | None, timeout: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        # What messages, error metadata and logs show: an endpoint may carry credentials (user:pass@host).
        self.shown_endpoint = shown_url(self.endpoint)
        super().__init__(cache_dir)
        # Never logged, only handed to huggingface_hub; False (not None) so that exactly the configured token
        # is used, never one from a token file.
        self._token = token
        self._timeout = timeout
        # The read timeout of file transfers too (huggingface_hub reads it at each request): a Hub that stops
        # sending mid-file is noticed, and a cancel lands, within this many seconds. _bound_timeout gives it
        # to every other request that names no timeout.
        constants.HF_HUB_DOWNLOAD_TIMEOUT = timeout

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
        following = response.links.get("next", {}).get("url")
        if following is not None:
            # The next page must come from the same Hub: the request carries the token.
            here, there = urllib.parse.urlsplit(url), urllib.parse.urlsplit(following)
            if (there.scheme, there.netloc) != (here.scheme, here.netloc):
                raise NotAHubAnswer("a next-page link to another host")
        return body, following

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
