#!/usr/bin/env bash
# The CUDA check of the training engine (issue 5), as one short script for a machine with an NVIDIA GPU
# and a python3 (3.10-3.13) that has torch (CUDA), scikit-learn, pandas, pyarrow, safetensors,
# matplotlib and pytest: the CUDA tests, then the benchmark's GPU part (python -m bench --gpu). What
# the servers need beyond that (grpcio and friends, prometheus-client, skops, skorch) comes from
# wheels carried in .whl/. Writes gpu-tests.log, gpu-bench.log and bench/results' gpu-<name>.md and
# .png into $OUT when it is set, else into bench/results/. About 3-5 minutes on an H100 or H200;
# each half has its own time limit, and a benchmark cut short still writes the figures it finished.
#
#   scripts/gpu_check.sh                 run the check (from anywhere; the repo is used as a source tree)
#   scripts/gpu_check.sh --fetch-wheels  on a machine with pip access: download into .whl/ the wheels a
#                                        GPU image without a package index lacks (git-ignored locally),
#                                        for CPython 3.10 to 3.13; carry .whl with the repo (the device
#                                        tool's carry), the check installs them into /tmp/site
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
# At the versions this repo is tested with (the generated gRPC code needs grpcio >= 1.85.1 and
# protobuf 7); skorch imports tabulate and tqdm.
WHEELS=(grpcio==1.85.1 grpcio-status==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1
        protobuf==7.36.2 googleapis-common-protos==1.76.0 prometheus-client==0.26.0 skops==0.16.0
        prettytable==3.18.0 wcwidth==0.9.4 skorch==1.4.0 tabulate==0.10.0 tqdm==4.70.1)
TESTS_LIMIT=150
BENCH_LIMIT=330

if [[ "${1:-}" == "--fetch-wheels" ]]; then
    exclude=$(git -C "$ROOT" rev-parse --git-path info/exclude)
    mkdir -p "$ROOT/.whl" "$(dirname "$exclude")"
    grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
    for version in 3.10 3.11 3.12 3.13; do
        "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
            -d "$ROOT/.whl" "${WHEELS[@]}"
    done
    ls "$ROOT/.whl"
    exit 0
fi

cd "$ROOT"
RESULTS=${OUT:-$ROOT/bench/results}
mkdir -p "$RESULTS"
if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))'; then
    echo "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())');" \
         "this check needs 3.10 to 3.13, the versions .whl holds wheels for" >&2
    exit 2
fi
SITE=""
if compgen -G "$ROOT/.whl/*.whl" > /dev/null; then
    SITE=/tmp/site
    if "$PYTHON" -m pip --version > /dev/null 2>&1; then
        # pip picks, among the carried wheels, the ones for this interpreter.
        "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --find-links "$ROOT/.whl" --target "$SITE" "${WHEELS[@]}"
    else
        # No pip on the image: a wheel is a zip of importable files; unpack those for this Python.
        "$PYTHON" - "$ROOT/.whl" "$SITE" <<'UNPACK'
import pathlib
import sys
import zipfile

source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
mine = f"cp{sys.version_info.major}{sys.version_info.minor}"
for wheel in sorted(source.glob("*.whl")):
    python_tag, abi_tag = wheel.name.split("-")[-3:-1]
    if "py3" in python_tag.split(".") or python_tag == mine or abi_tag == "abi3":
        zipfile.ZipFile(wheel).extractall(target)
UNPACK
    fi
fi
export PYTHONPATH="${SITE:+$SITE:}$ROOT:$ROOT/protos:$ROOT/clients/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

"$PYTHON" - <<'PREFLIGHT'
import importlib.util
import sys

import torch

needed = ["grpc", "grpc_status", "grpc_health", "grpc_reflection", "google.rpc", "prometheus_client", "sklearn",
          "skops", "safetensors", "pandas", "pyarrow", "matplotlib", "pytest", "mlsuite_client", "trainer_service"]
missing = [name for name in needed if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"missing Python packages: {missing}; run scripts/gpu_check.sh --fetch-wheels where pip works "
             "and carry .whl with the repo")
if not torch.cuda.is_available():
    sys.exit("torch sees no CUDA device")
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}", flush=True)
PREFLIGHT

status=0
# The CUDA tests, with the CPU ones in these files (the engines against the eager reference, the
# graph engine's bookkeeping with capture stood in for).
timeout -k 10 "$TESTS_LIMIT" "$PYTHON" -m pytest -q -p no:cacheprovider -rs \
    tests/unit/trainer/test_fast_training.py tests/unit/trainer/test_cuda_graph_stand_in.py \
    tests/unit/trainer/test_neural_network.py \
    2>&1 | tee "$RESULTS/gpu-tests.log" || status=1
# The benchmark's GPU part: NN training through the service on CUDA (a captured CUDA graph) against the
# eager loop, the raw CUDA-graph loop and skorch, at batch 32 and 256.
timeout -k 10 "$BENCH_LIMIT" "$PYTHON" -m bench --gpu --out "$RESULTS" 2>&1 | tee "$RESULTS/gpu-bench.log" \
    || status=1
ls -l "$RESULTS"
exit $status
