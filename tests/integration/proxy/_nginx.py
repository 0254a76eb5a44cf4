"""Run the shipped nginx gRPC proxy (deploy/nginx) as a foreground subprocess with its own prefix and logs.

The http-context file is deploy/nginx/mlsuite.conf.template itself, rendered the way the nginx image renders
it (each ${PROXY_*} replaced, defaults from deploy/nginx/mlsuite.env); only the main nginx.conf around it
(pid, logs, temp paths) is written here, as the image's own nginx.conf would be.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULTS",
    "TEMPLATE",
    "NginxProxy",
    "nginx_binary",
    "read_defaults",
    "render_template",
    "start_nginx",
]

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "deploy" / "nginx" / "mlsuite.conf.template"
DEFAULTS = ROOT / "deploy" / "nginx" / "mlsuite.env"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str | None:
    """Path of the nginx executable (Debian puts it in /usr/sbin, which a user's PATH may lack), or None."""
    sbin = "/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin"
    return shutil.which("nginx") or shutil.which("nginx", path=sbin)


def read_defaults(path: Path = DEFAULTS) -> dict[str, str]:
    """The KEY=VALUE lines of an env file (blank lines and # comments skipped)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path.name}:{number}: expected KEY=VALUE, got {raw!r}")
        values[key.strip()] = value.strip()
    return values


def render_template(values: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The template with every ${NAME} replaced; a placeholder without a value is an error."""
    text = template.read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise KeyError(f"{template.name} needs values for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def _main_conf(root: Path, include: Path) -> str:
    temp = "\n".join(f"    {name}_temp_path {root / 'temp' / name};" for name in _TEMP_PATHS)
    # As root the workers would switch to `nobody`, who cannot enter pytest's private temp directory.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return (
        "daemon off;\n"
        "master_process on;\n"
        "worker_processes 1;\n"
        f"{user}"
        f"pid {root / 'nginx.pid'};\n"
        f"error_log {root / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        f"{temp}\n"
        f"    include {include};\n"
        "}\n"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class NginxProxy:
    """A running nginx: its address, prefix directory and logs."""

    process: subprocess.Popen[bytes]
    address: str
    root: Path
    values: dict[str, str]

    def error_log(self) -> str:
        """The error log so far."""
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> str:
        """The access log (nginx's stdout) so far."""
        return (self.root / "access.log").read_text(errors="replace")

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), then SIGKILL if nginx lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_nginx(
    root: Path,
    trainer: str,
    downloader: str,
    overrides: Mapping[str, str] | None = None,
    timeout: float = 15.0,
) -> NginxProxy:
    """Render the shipped config for these upstreams; run nginx in the foreground on a free loopback port."""
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError("nginx is not installed")
    root.mkdir(parents=True, exist_ok=True)
    for name in _TEMP_PATHS:
        (root / "temp" / name).mkdir(parents=True, exist_ok=True)
    include = root / "mlsuite.conf"
    main = root / "nginx.conf"
    main.write_text(_main_conf(root, include))
    command = [binary, "-p", str(root), "-c", str(main), "-e", str(root / "error.log")]
    for _attempt in range(5):
        port = _free_port()
        values = {
            **read_defaults(),
            "PROXY_LISTEN": f"127.0.0.1:{port}",
            "PROXY_TRAINER_UPSTREAM": trainer,
            "PROXY_DOWNLOADER_UPSTREAM": downloader,
            **(overrides or {}),
        }
        include.write_text(render_template(values))
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t rejected the rendered config:\n{checked.stderr}")
        with (root / "access.log").open("ab") as access:
            process = subprocess.Popen(command, stdout=access, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None and not _accepts(port):
            time.sleep(0.05)
        if process.poll() is None and _accepts(port):
            return NginxProxy(process, f"127.0.0.1:{port}", root, values)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if "Address already in use" not in (root / "error.log").read_text(errors="replace"):
            break  # not a lost race for the port: report it
    raise RuntimeError(f"nginx did not start:\n{(root / 'error.log').read_text(errors='replace')}")
