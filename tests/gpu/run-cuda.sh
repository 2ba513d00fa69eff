#!/bin/sh
# Runs trkserve on an NVIDIA GPU: configures with the CUDA module on, builds with
# warnings as errors, checks that cuda:0 is there, runs the whole ctest suite (the
# device-parametrised suites then run on cuda:0 as well as on the CPU) and
# `trk bench primitives` on cuda:0 and on the CPU. Prints everything; every phase runs
# even after a failure, and the exit status is non-zero if any failed.
#
# Usage: tests/gpu/run-cuda.sh [build-dir]      (default: <repo>/build-gpu)
# Needs: nvcc on PATH (or in /usr/local/cuda/bin), the NVIDIA driver, cmake, ninja,
# pkg-config, libcmocka-dev, libopenblas-dev; as root it apt-get installs what is
# missing. CUDA_ARCHS=... overrides CMAKE_CUDA_ARCHITECTURES (e.g. "native").
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-gpu}
failed=""

phase() {  # phase NAME COMMAND... : runs it, prints its duration, remembers a failure
    name=$1; shift
    echo "=== $name"
    t0=$(date +%s)
    if "$@"; then
        echo "=== $name: ok in $(( $(date +%s) - t0 )) s"
    else
        echo "=== $name: FAILED (status $?) after $(( $(date +%s) - t0 )) s"
        failed="$failed
  $name"
    fi
}

# ---- prerequisites --------------------------------------------------------------------
command -v nvcc >/dev/null 2>&1 || PATH=$PATH:/usr/local/cuda/bin
if ! command -v nvcc >/dev/null 2>&1; then
    echo "run-cuda: nvcc not found: put the CUDA toolkit's bin folder on PATH" >&2
    exit 2
fi
missing=""
for p in cmake ninja-build pkg-config libcmocka-dev libopenblas-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "=== installing:$missing"
        # shellcheck disable=SC2086
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 2
    else
        echo "run-cuda: missing Debian packages:$missing (install them as root)" >&2
        exit 2
    fi
fi

echo "=== machine"
nvcc --version | tail -n 2
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv
else
    echo "nvidia-smi not found (driver missing?): the cuda module will report why below"
fi

# ---- build ------------------------------------------------------------------------------
archs=""
[ -n "${CUDA_ARCHS:-}" ] && archs="-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS"
# shellcheck disable=SC2086
phase "configure (TRK_WITH_CUDA=ON)" cmake -S "$root" -B "$build" -G Ninja -DTRK_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRK_WITH_CUDA=ON $archs
phase "build" ninja -C "$build"
if [ ! -x "$build/bin/trk" ]; then
    echo "run-cuda: the build produced no trk tool; stopping" >&2
    exit 1
fi
echo "=== ldd libtrk-device-cuda.so (cudart is static: expect no libcudart/libcublas)"
ldd "$build/lib/trk/libtrk-device-cuda.so"

# ---- run ---------------------------------------------------------------------------------
phase "trk devices" "$build/bin/trk" devices
has_cuda() { "$build/bin/trk" devices | grep -q '^  \[[0-9]*\] cuda:0 '; }
phase "cuda:0 is present" has_cuda
phase "test_gpu_modules (device properties, round trip)" "$build/bin/test_gpu_modules"
phase "ctest (every suite, on every device)" \
    ctest --test-dir "$build" --output-on-failure
phase "trk bench primitives --device cuda:0" "$build/bin/trk" bench primitives --device cuda:0
phase "trk bench primitives --device cpu" "$build/bin/trk" bench primitives --device cpu

if [ -n "$failed" ]; then
    echo "run-cuda: FAILED phases:$failed"
    exit 1
fi
echo "run-cuda: all phases passed"
