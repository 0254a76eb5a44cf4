"""A Hugging Face Hub-compatible HTTP server on 127.0.0.1 for tests (routes per shared/HUB_PROTOCOL.md).

It serves model repos from memory to the real `huggingface_hub` client and can throttle bodies,
cut a connection mid-body, answer an HTTP error for one file, gate a repo behind a Bearer token,
and be killed with downloads in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["HubRepo", "HubRequest", "LocalHub", "git_blob_sha1"]

logger = logging.getLogger(__name__)

_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".pkl", ".ckpt", ".h5", ".onnx", ".model")
_LFS_MIN_BYTES = 10 * 1024


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of `data`: the ETag the Hub sends for small (non-LFS) files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_lfs(path: str, data: bytes) -> bool:
    return path.endswith(_LFS_SUFFIXES) or len(data) >= _LFS_MIN_BYTES


@dataclass
class HubRepo:
    """One repo: commits (sha -> files), refs (branch or tag -> sha) and an optional gate token."""

    repo_id: str
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    gated_token: str | None = None


@dataclass(frozen=True)
class HubRequest:
    """One request the hub received."""

    method: str
    path: str
    range: str | None
    authorized: bool


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: LocalHub) -> None:
        self.hub = hub
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        logger.debug("hub connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        logger.debug("hub: " + format, *args)

    def setup(self) -> None:
        super().setup()
        self.server.hub._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.hub._track(self.connection, add=False)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.server.hub._handle(self, head=False)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
        self.server.hub._handle(self, head=True)


class LocalHub:
    """A threaded Hub-compatible server; `url` is its endpoint. Knobs may change while it runs."""

    def __init__(self, port: int = 0) -> None:
        self._repos: dict[str, HubRepo] = {}
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.requests: list[HubRequest] = []
        self.throttle_bytes_per_second: int | None = None
        self.fail_status: dict[str, int] = {}  # file name -> HTTP status of its GET body
        self.cut_after: dict[str, int] = {}  # file name -> bytes after which the next body is cut (once)
        self.stall: set[str] = set()  # file names whose bodies send their headers and then nothing
        self._unstall = threading.Event()  # set by reset_faults: stalled bodies give up and close
        self.api_status: int | None = None  # answer every /api/ request with this status
        self.model_info_sizes = True  # file sizes in the model info when asked (?blobs=true)
        self.listed_sizes: dict[str, int] = {}  # file name -> the size the model info claims (a lying listing)
        self.info_fields: dict[str, object] = {}  # model-info fields to replace (a bad "sha"; None drops it)
        self.info_siblings: list[object] | None = None  # the model info's "siblings", verbatim
        self.api_body: tuple[int, str, bytes] | None = None  # every /api/ request: (status, content type, body)
        self.tree_entries: list[object] | None = None  # the tree listing's entries, verbatim
        self.stall_tree = False  # tree listings send nothing (until reset_faults)
        self.tree_next_link: str | None = None  # a Link: <url>; rel="next" header on tree listings
        self.api_delay = 0.0  # seconds every /api/ answer waits (a slow Hub: concurrent calls overlap)
        self._body_started = threading.Condition(self._lock)
        self._bodies_started: dict[str, int] = {}
        self._server = _Server(("127.0.0.1", port), self)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-hub", daemon=True)
        self._thread.start()

    # -- content -------------------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        branch: str = "main",
        tags: tuple[str, ...] = (),
        gated_token: str | None = None,
    ) -> str:
        """Add (or extend) a repo with one commit of `files` on `branch`; returns the commit sha."""
        digest = hashlib.sha1(repo_id.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        digest.update(branch.encode())
        commit = digest.hexdigest()
        with self._lock:
            repo = self._repos.setdefault(repo_id, HubRepo(repo_id))
            repo.commits[commit] = dict(files)
            repo.refs[branch] = commit
            for tag in tags:
                repo.refs[tag] = commit
            if gated_token is not None:
                repo.gated_token = gated_token
        return commit

    def add_mirror(self, repo_id: str, of: str) -> None:
        """Add `repo_id` as a copy of `of` with the same commits and refs (a mirror, or a pushed clone)."""
        with self._lock:
            source = self._repos[of]
            self._repos[repo_id] = HubRepo(repo_id, commits=dict(source.commits), refs=dict(source.refs))

    def reset_faults(self) -> None:
        """Clear throttling, failures, cuts and the request counters (between tests)."""
        self.throttle_bytes_per_second = None
        self.fail_status.clear()
        self.cut_after.clear()
        self.stall.clear()
        self._unstall.set()
        self._unstall = threading.Event()
        self.api_status = None
        self.model_info_sizes = True
        self.listed_sizes.clear()
        self.info_fields.clear()
        self.info_siblings = None
        self.api_body = None
        self.tree_entries = None
        self.stall_tree = False
        self.tree_next_link = None
        self.api_delay = 0.0
        with self._lock:
            self._bodies_started.clear()
            self.requests.clear()

    def body_requests(self, filename: str) -> int:
        """How many GET bodies of `filename` were requested."""
        with self._lock:
            return self._bodies_started.get(filename, 0)

    def wait_for_body(self, filename: str, timeout: float = 10.0) -> bool:
        """Wait until a GET body of `filename` has started; True if it did."""
        with self._body_started:
            return self._body_started.wait_for(lambda: self._bodies_started.get(filename, 0) > 0, timeout)

    # -- lifecycle -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving and close the listening socket; open connections end on their own."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def kill(self) -> None:
        """Stop at once: close the listening socket and reset every open connection mid-body."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- routing -------------------------------------------------------------------------------------

    def _handle(self, handler: _Handler, *, head: bool) -> None:
        split = urlsplit(handler.path)
        raw_path = split.path
        segments = [unquote(s) for s in raw_path.strip("/").split("/")]
        auth = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append(
                HubRequest(
                    "HEAD" if head else "GET", raw_path, handler.headers.get("Range"), auth is not None
                )
            )
        try:
            if segments[:2] == ["api", "models"]:
                self._handle_api(handler, segments[2:], parse_qs(split.query), head=head)
            elif "resolve" in segments[1:3]:
                self._handle_resolve(handler, segments, auth, head=head)
            else:
                self._error(handler, 404, "", "not a Hub route", head=head)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            handler.close_connection = True

    def _find_repo(self, segments: list[str]) -> tuple[HubRepo | None, list[str]]:
        with self._lock:
            if len(segments) >= 2 and f"{segments[0]}/{segments[1]}" in self._repos:
                return self._repos[f"{segments[0]}/{segments[1]}"], segments[2:]
            if segments and segments[0] in self._repos:
                return self._repos[segments[0]], segments[1:]
        return None, []

    def _resolve_rev(self, repo: HubRepo, revision: str) -> str | None:
        with self._lock:
            if revision in repo.refs:
                return repo.refs[revision]
            if revision in repo.commits:
                return revision
        return None

    def _handle_api(
        self, handler: _Handler, segments: list[str], query: dict[str, list[str]], *, head: bool
    ) -> None:
        if self.api_delay:
            time.sleep(self.api_delay)
        if self.api_status is not None:
            self._error(handler, self.api_status, "", "injected failure", head=head)
            return
        if self.api_body is not None:
            self._raw(handler, *self.api_body, head=head)
            return
        repo, rest = self._find_repo(segments)
        if repo is None:
            self._error(handler, 404, "RepoNotFound", "Repository not found", head=head)
            return
        if not rest or rest[0] == "revision":
            revision = "/".join(rest[1:]) if rest else "main"
            commit = self._resolve_rev(repo, revision)
            if commit is None:
                self._error(handler, 404, "RevisionNotFound", f"Invalid rev id: {revision}", head=head)
                return
            files = repo.commits[commit]
            with_blobs = self.model_info_sizes and query.get("blobs", [""])[0].lower() == "true"
            siblings = [
                {
                    "rfilename": p,
                    **(
                        {"size": self.listed_sizes.get(p.rsplit("/", 1)[-1], len(files[p])),
                         "blobId": git_blob_sha1(files[p])}
                        if with_blobs
                        else {}
                    ),
                }
                for p in sorted(files)
            ]
            info = {
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": commit,
                "private": False,
                "gated": "manual" if repo.gated_token else False,
                "siblings": siblings if self.info_siblings is None else self.info_siblings,
            }
            info.update(self.info_fields)
            self._json(handler, {k: v for k, v in info.items() if v is not None}, head=head)
            return
        if rest[0] == "tree":
            commit = self._resolve_rev(repo, rest[1] if len(rest) > 1 else "main")
            if commit is None:
                self._error(handler, 404, "RevisionNotFound", "Invalid rev id", head=head)
                return
            if self.stall_tree:
                self._unstall.wait(60)  # a hung listing: no status line, no body
                handler.close_connection = True
                return
            tree = self._tree(repo.commits[commit]) if self.tree_entries is None else self.tree_entries
            link = {"Link": f'<{self.tree_next_link}>; rel="next"'} if self.tree_next_link else {}
            self._raw(handler, 200, "application/json", json.dumps(tree).encode(), head=head, headers=link)
            return
        self._error(handler, 404, "", "unknown API route", head=head)

    @staticmethod
    def _tree(files: Mapping[str, bytes]) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = []
        folders = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
        for folder in folders:
            entries.append(
                {
                    "type": "directory",
                    "oid": hashlib.sha1(folder.encode()).hexdigest(),
                    "size": 0,
                    "path": folder,
                }
            )
        for path in sorted(files):
            data = files[path]
            entry: dict[str, object] = {
                "type": "file",
                "oid": git_blob_sha1(data),
                "size": len(data),
                "path": path,
            }
            if _is_lfs(path, data):
                entry["lfs"] = {
                    "oid": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "pointerSize": 134,
                }
            entries.append(entry)
        return entries

    def _handle_resolve(
        self, handler: _Handler, segments: list[str], auth: str | None, *, head: bool
    ) -> None:
        index = segments.index("resolve", 1)
        repo_id = "/".join(segments[:index])
        with self._lock:
            repo = self._repos.get(repo_id)
        if repo is None:
            self._error(handler, 404, "RepoNotFound", "Repository not found", head=head)
            return
        if repo.gated_token is not None and auth != f"Bearer {repo.gated_token}":
            self._error(handler, 401, "GatedRepo", f"Access to model {repo_id} is restricted.", head=head)
            return
        rest = segments[index + 1 :]
        commit = self._resolve_rev(repo, rest[0]) if rest else None
        if commit is None:
            self._error(handler, 404, "RevisionNotFound", "Invalid rev id", head=head)
            return
        path = "/".join(rest[1:])
        data = repo.commits[commit].get(path)
        if data is None:
            self._error(handler, 404, "EntryNotFound", f"{path} does not exist", head=head)
            return
        name = path.rsplit("/", 1)[-1]
        if not head and name in self.fail_status:
            self._error(handler, self.fail_status[name], "", "injected failure", head=head)
            return
        self._send_file(handler, commit, path, data, head=head)

    # -- responses -----------------------------------------------------------------------------------

    def _send_file(self, handler: _Handler, commit: str, path: str, data: bytes, *, head: bool) -> None:
        start = 0
        range_header = handler.headers.get("Range")
        if not head and range_header and range_header.startswith("bytes="):
            first = range_header[len("bytes=") :].split("-", 1)[0]
            start = int(first) if first else 0
        status = 206 if start > 0 else 200
        body = data[start:]
        handler.send_response(status)
        handler.send_header("X-Repo-Commit", commit)
        if _is_lfs(path, data):
            handler.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
            handler.send_header("X-Linked-Size", str(len(data)))
            handler.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        else:
            handler.send_header("ETag", f'"{git_blob_sha1(data)}"')
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Accept-Ranges", "bytes")
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if head:
            return
        name = path.rsplit("/", 1)[-1]
        with self._body_started:
            self._bodies_started[name] = self._bodies_started.get(name, 0) + 1
            self._body_started.notify_all()
            cut = self.cut_after.pop(name, None)
            stalled, unstall = name in self.stall, self._unstall
        if stalled:  # a Hub (or proxy) that stops sending mid-transfer, without closing the connection
            unstall.wait(60)
            handler.close_connection = True
            return
        self._write_body(handler, body, cut)

    def _write_body(self, handler: _Handler, body: bytes, cut: int | None) -> None:
        rate = self.throttle_bytes_per_second
        piece = max(1024, rate // 20) if rate else 256 * 1024
        sent = 0
        while sent < len(body):
            end = min(len(body), sent + piece)
            if cut is not None and end >= cut:
                handler.wfile.write(body[sent:cut])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            handler.wfile.write(body[sent:end])
            sent = end
            rate = self.throttle_bytes_per_second
            if rate:
                time.sleep(piece / rate)

    def _json(self, handler: _Handler, payload: object, *, head: bool) -> None:
        self._raw(handler, 200, "application/json", json.dumps(payload).encode(), head=head)

    def _raw(
        self, handler: _Handler, status: int, content_type: str, body: bytes, *, head: bool,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)

    def _error(self, handler: _Handler, status: int, code: str, message: str, *, head: bool) -> None:
        body = json.dumps({"error": message}).encode()
        handler.send_response(status)
        if code:
            handler.send_header("X-Error-Code", code)
        handler.send_header("X-Error-Message", message)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)
