"""Exit 0 when a gRPC server reports SERVING on grpc.health.v1, 1 otherwise: a container HEALTHCHECK.

    python /opt/mlsuite/healthcheck.py 127.0.0.1:50051 --service mlsuite.trainer.v1.TrainerService

Kubernetes probes the health service natively (`grpc:` probes); docker compose has no such probe, so the image
ships this script and compose runs it. It uses only grpcio-health-checking, a dependency of the servers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["check", "main"]


def check(address: str, service: str, timeout: float) -> str:
    """The status name the server reports for `service` ("" = the whole server), or why there is none."""
    try:
        with grpc.insecure_channel(address) as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
    except grpc.RpcError as exc:
        return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def main(argv: Sequence[str] | None = None) -> int:
    """Check once; print the status and exit 0 only for SERVING."""
    parser = argparse.ArgumentParser(description="gRPC health check (grpc.health.v1.Health/Check)")
    parser.add_argument("address", help="HOST:PORT of the server")
    parser.add_argument("--service", default="", help="service name to check; empty = the whole server")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    status = check(args.address, args.service, args.timeout)
    sys.stdout.write(f"{args.address} {args.service or '(server)'}: {status}\n")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
