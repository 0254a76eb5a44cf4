#!/usr/bin/env bash
# The CUDA check of the training engine (issue 5), as one short script for a machine with an NVIDIA GPU
# and a python3 that has torch (CUDA), scikit-learn and grpcio: the CUDA tests, then the benchmark's GPU
# part (python -m bench --gpu). Writes gpu-tests.log, gpu-bench.log and bench/results' gpu-<name>.md and
# .png into $OUT when it is set, else into bench/results/. Takes about 3-5 minutes on an H100 or H200.
#
#   scripts/gpu_check.sh                 run the check (from anywhere; the repo is used as a source tree)
#   scripts/gpu_check.sh --fetch-wheels  on a machine with pip access: download into .whl/ the wheels a
#                                        GPU image without a package index lacks (git-ignored locally);
#                                        carry .whl with the repo, the check installs them into /tmp/site
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
# What the servers need beyond torch, scikit-learn, pandas, pyarrow, safetensors and matplotlib, at the
# versions this repo is tested with (the generated gRPC code needs grpcio >= 1.85.1 and protobuf 7).
WHEELS=(grpcio==1.85.1 grpcio-status==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1
        protobuf==7.36.2 googleapis-common-protos==1.76.0 skops==0.16.0 prettytable==3.18.0 wcwidth==0.9.4
        skorch==1.4.0)

if [[ "${1:-}" == "--fetch-wheels" ]]; then
    exclude=$(git -C "$ROOT" rev-parse --git-path info/exclude)
    mkdir -p "$ROOT/.whl" "$(dirname "$exclude")"
    grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$ROOT/.whl" "${WHEELS[@]}"
    ls "$ROOT/.whl"
    exit 0
fi

cd "$ROOT"
RESULTS=${OUT:-$ROOT/bench/results}
mkdir -p "$RESULTS"
SITE=""
if compgen -G "$ROOT/.whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$ROOT"/.whl/*.whl
    SITE=/tmp/site
fi
export PYTHONPATH="${SITE:+$SITE:}$ROOT:$ROOT/protos:$ROOT/clients/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

"$PYTHON" - <<'EOF'
import importlib.util
import sys

import torch

needed = ["grpc", "grpc_status", "grpc_health", "grpc_reflection", "google.rpc", "sklearn", "skops",
          "safetensors", "pandas", "pyarrow", "matplotlib", "pytest", "mlsuite_client", "trainer_service"]
missing = [name for name in needed if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"missing Python packages: {missing}; run scripts/gpu_check.sh --fetch-wheels where pip works "
             "and carry .whl with the repo")
if not torch.cuda.is_available():
    sys.exit("torch sees no CUDA device")
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}", flush=True)
EOF

status=0
# The CUDA tests (the CPU ones in these files run too: the engines against the eager reference).
timeout 300 "$PYTHON" -m pytest -q -p no:cacheprovider -rs \
    tests/unit/trainer/test_fast_training.py tests/unit/trainer/test_neural_network.py \
    2>&1 | tee "$RESULTS/gpu-tests.log" || status=1
# The benchmark's GPU part: NN training through the service on CUDA (a captured CUDA graph) against the
# eager loop, the raw CUDA-graph loop and skorch, at batch 32 and 256.
timeout 420 "$PYTHON" -m bench --gpu --out "$RESULTS" 2>&1 | tee "$RESULTS/gpu-bench.log" || status=1
ls -l "$RESULTS"
exit $status
