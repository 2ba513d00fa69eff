#!/bin/sh
# Builds trkserve with warnings as errors and runs the whole test suite, then the
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# threading tests under ThreadSanitizer. Prints each phase with its duration.
# Usage: tools/scripts/test.sh [--no-sanitizers]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
sanitizers=1
[ "${1:-}" = "--no-sanitizers" ] && sanitizers=0

phase() {  # phase NAME COMMAND...
    name=$1; shift
    echo "=== $name"
    t0=$(date +%s)
    "$@"
    echo "=== $name: done in $(( $(date +%s) - t0 )) s"
}

build() {  # build DIR [cmake args]
    dir=$1; shift
    cmake -S . -B "$dir" -G Ninja -DTRK_WERROR=ON "$@" >/dev/null
    ninja -C "$dir"
}

phase "build (Release, -Werror)" build build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
phase "kernel portability (OpenCL C 1.2 + CUDA compile)" tools/scripts/check-kernels.sh build-test
phase "tests" ctest --test-dir build-test --output-on-failure -j "$jobs"
phase "trk devices" build-test/bin/trk devices
phase "trk bench primitives --quick" build-test/bin/trk bench primitives --quick
if [ $sanitizers = 1 ]; then
    phase "build (ASan+UBSan)" build build-asan -DCMAKE_BUILD_TYPE=Debug \
        -DTRK_SANITIZE=address,undefined
    # PoCL/LLVM keep compiler state they never free: suppress leaks in those libraries only.
    phase "tests (ASan+UBSan)" env ASAN_OPTIONS=detect_leaks=1 \
        LSAN_OPTIONS=suppressions="$root/devices/opencl/lsan.supp" \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        TRK_INTEROP_VENV="$root/build-test/interop-venv" \
        ctest --test-dir build-asan --output-on-failure -j "$jobs"
    phase "build (TSan)" build build-tsan -DCMAKE_BUILD_TYPE=Debug -DTRK_SANITIZE=thread
    # The CPU device only: vendor runtimes (PoCL, CUDA) are not built with TSan; gRPC's
    # C core is not either (tests/tsan.supp names its libraries).
    phase "threading tests (TSan, CPU device)" env \
        TSAN_OPTIONS="halt_on_error=1 suppressions=$root/tests/tsan.supp" TRK_TEST_DEVICES=cpu \
        ctest --test-dir build-tsan --output-on-failure -j "$jobs" \
        -R '^(test_(runtime|device|basic|scan|histogram|compact|reduce|sort|components|registry|server|builtin_models|http|grpc|client|exatrkx)|cli_(gen|serve))$'
    # Every parser of outside input (event files, TrackML CSV, CMS raw data) under
    # libFuzzer for a bounded time.
    phase "fuzz (libFuzzer + ASan/UBSan, ${TRK_FUZZ_SECONDS:-20} s per parser)" \
        tools/scripts/fuzz.sh "${TRK_FUZZ_SECONDS:-20}"
fi
# The generator's speed on one core (issue: PU 50 CMS < 0.2 s, PU 200 TrackML < 1 s).
phase "trk gen benchmark (one core)" sh -c \
    'build-test/bin/trk gen -d cms -n 10 -j 1 -q -o build-test/bench-cms.trkev &&
     build-test/bin/trk gen -d trackml -n 3 -j 1 -q -o build-test/bench-trackml.trkev'
echo "all phases passed"
