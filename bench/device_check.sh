#!/usr/bin/env bash
# The device check: packed training on one CUDA GPU, from a checkout alone.
#
#   bash bench/device_check.sh --prepare   # on a login node (network): the wheels it needs
#   bash bench/device_check.sh             # on the GPU node: about 5 minutes
#   bash bench/device_check.sh --cpu       # the same checks on a CPU, briefly (slow tests)
#
# A compute node's Python often has torch and transformers but none of this project's
# other dependencies, and no network. The checks import only the training code
# (bloodbank.mlm) and its settings (pydantic): nothing of DVC, MLflow or Ray. --prepare
# downloads pydantic's wheels (about 2 MB; at most 32 MB is allowed) into
# bench/.device-wheels/ for this Python; on the node they are installed into a
# temporary folder, never into its Python. Set DEVICE_CHECK_PLATFORM (a pip --platform
# tag, e.g. manylinux2014_aarch64) and DEVICE_CHECK_PYTHON (e.g. 3.11) to prepare for a
# node unlike the login node.
#
# Prints every figure: the equivalence of packed and lone training on the device
# (member by member bitwise, batched within tests/test_packed.py's tolerance), two runs'
# identical bytes, and bench/bench_packed.py's table with its projections.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wheels="$here/.device-wheels"
python="${PYTHON:-python3}"
limit_mb=32

case "${1:-}" in
--prepare)
    rm -rf "$wheels" && mkdir -p "$wheels"
    extra=()
    if [[ -n "${DEVICE_CHECK_PLATFORM:-}" ]]; then extra+=(--platform "$DEVICE_CHECK_PLATFORM"); fi
    if [[ -n "${DEVICE_CHECK_PYTHON:-}" ]]; then extra+=(--python-version "$DEVICE_CHECK_PYTHON"); fi
    "$python" -m pip download --quiet --only-binary=:all: --dest "$wheels" "${extra[@]}" \
        "pydantic>=2" "typing-extensions>=4.12"
    size_mb=$(du -sm "$wheels" | cut -f1)
    if ((size_mb > limit_mb)); then
        echo "the wheels take ${size_mb} MB, more than the ${limit_mb} MB allowed" >&2
        exit 1
    fi
    ls "$wheels"
    echo "prepared ${size_mb} MB in $wheels: copy the checkout to the node and run $0"
    exit 0
    ;;
--cpu) device=cpu bench=(--shape default --ks 1,4 --quick) ;;
"") device=cuda bench=(--shape study --ks 1,4,16,64 --steps 30 --warm 8 --repeat 1) ;;
*)
    echo "usage: $0 [--prepare | --cpu]" >&2
    exit 2
    ;;
esac

for module in torch transformers; do
    "$python" -c "import $module" 2>/dev/null || {
        echo "this Python has no $module: the node's Python must bring torch and transformers" >&2
        exit 1
    }
done
if [[ $device == cuda ]] && ! "$python" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "no CUDA device here: run $0 --cpu for the CPU checks" >&2
    exit 1
fi

site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
if ! "$python" -c "import pydantic" 2>/dev/null; then
    if [[ ! -d $wheels ]]; then
        echo "this Python has no pydantic and $wheels is missing: run $0 --prepare on a login node" >&2
        exit 1
    fi
    "$python" -m pip install --quiet --no-index --find-links "$wheels" --target "$site" pydantic
fi
export PYTHONPATH="$here/../src:$site${PYTHONPATH:+:$PYTHONPATH}"
export CUBLAS_WORKSPACE_CONFIG=":4096:8" # deterministic cuBLAS, before CUDA starts
exec "$python" "$here/device_check.py" --device "$device" --bench "${bench[@]}"
