"""The raw grpcio baseline server: a bytes echo (unary) and a byte-stream sink, no protobuf, no work.

`python -m bench.raw_server --port 0` prints `listening on 127.0.0.1:PORT` like the MLSuite servers,
with the same default thread pool size, so their figures differ only by what the services do.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent import futures

import grpc

__all__ = ["ECHO", "SINK", "main"]

ECHO = "/bench.Raw/Echo"
SINK = "/bench.Raw/Sink"
_MAX_MESSAGE = 8 * 1024 * 1024


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


def _sink(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    """Count the streamed bytes and answer with the count (8 bytes, little endian)."""
    total = 0
    for chunk in requests:
        total += len(chunk)
    return total.to_bytes(8, "little")


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.raw_server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-workers", type=int, default=64)
    args = parser.parse_args(argv)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.max_workers),
        options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                 ("grpc.max_send_message_length", _MAX_MESSAGE)],
    )
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Sink": grpc.stream_unary_rpc_method_handler(_sink),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bench.Raw", handlers)])
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    sys.stdout.write(f"listening on 127.0.0.1:{port}\n")
    sys.stdout.flush()
    stopped.wait()
    server.stop(1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
