#!/bin/sh
# Compiles every kernel body as OpenCL C 1.2 (clang), CUDA (nvcc) and HIP (hipcc), the way the
# device modules will, so a kernel that is not portable fails here on any machine.
# Usage: tools/scripts/check-kernels.sh [build-dir]   (needs clang; nvcc optional)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# OpenCL C has no variadic macros, so (as devices/opencl/embed_kernels.cmake does) each
# line-initial kernel head "TRK_KERNEL(name," becomes "__kernel void name(".
{ cat "$root/runtime/include/trk/dialect.h"; for k in "$root"/algorithms/*/kernels/*.kc; do cat "$k"; done; } |
    sed 's/^TRK_KERNEL(\([ \t]*\)\([A-Za-z_][A-Za-z_0-9]*\)\([ \t]*\),/__kernel void\1 \2\3(/' > "$tmp/all.cl"
if command -v clang >/dev/null 2>&1; then
    clang -x cl -cl-std=CL1.2 -Xclang -finclude-default-header -fsyntax-only -Werror -Wall \
        -Wno-unused-function "$tmp/all.cl"
    echo "OpenCL C 1.2: ok"
else
    echo "OpenCL C 1.2: clang not found, skipped"
fi
if command -v nvcc >/dev/null 2>&1; then
    printf '#include "trk/dialect.h"\n#include "trk_kernel_sources.h"\n' > "$tmp/all.cu"
    nvcc -std=c++17 -I"$root/runtime/include" -I"$build/generated" -arch=sm_80 \
        -Werror all-warnings -c "$tmp/all.cu" -o "$tmp/all.o"
    echo "CUDA (nvcc): ok"
else
    echo "CUDA: nvcc not found, skipped"
fi
if command -v hipcc >/dev/null 2>&1; then
    printf '#include "trk/dialect.h"\n#include "trk_kernel_sources.h"\n' > "$tmp/hip.cu"
    HIP_PLATFORM=amd hipcc -x hip -std=c++17 -DTRK_DIALECT_HIP --offload-arch=gfx90a \
        -I"$root/runtime/include" -I"$build/generated" -Wall -Werror -c "$tmp/hip.cu" -o "$tmp/hip.o"
    echo "HIP (hipcc): ok"
else
    echo "HIP: hipcc not found, skipped"
fi
