#!/bin/sh
# The main job on the built-in default: builds trkserve, starts it on the CPU device with
# the example model repository (config/examples/models) on free loopback ports, and sends
# it requests from several client threads over HTTP and gRPC with `trk perf`, next to the
# same model run in-process — the direct-vs-service comparison of the "tracking as a
# service" papers. Until the Patatrack model lands the model is `gemm`, a dense layer
# stack standing in for real compute (40 rows per request: 10-15 ms on a 2-core machine).
# Extra arguments go to every `trk perf` run (e.g. -p 1000 for shorter windows).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
build/bin/trk devices

repo=$root/config/examples/models
log=$(mktemp)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -f "$log"
}
trap cleanup EXIT INT TERM

echo "demo: starting trkserve on the CPU device with $repo"
build/bin/trkserve --model-repository "$repo" --http-port 0 --grpc-port 0 --metrics-port 0 \
    >"$log" 2>&1 &
pid=$!
i=0
until grep -q "^trkserve: HTTP on" "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "demo: trkserve did not start" >&2; exit 1; }
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$log"; echo "demo: no start in 30 s" >&2; exit 1; }
    sleep 0.1
done
grep "^trkserve:" "$log"
http=$(sed -n 's/^trkserve: HTTP on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
grpc=$(sed -n 's/^trkserve:.*gRPC on \([0-9.]*:[0-9]*\).*/\1/p' "$log")

for proto in http grpc; do
    url=$http; [ "$proto" = grpc ] && url=$grpc
    echo "demo: gemm over $proto at concurrency 1 to 4, beside the same model in-process"
    build/bin/trk perf -m gemm -u "$url" -i "$proto" -b 40 --concurrency-range 1:4:1 \
        --in-process "$repo" --compare-in-process -f "build/demo-perf-$proto.csv" "$@"
done
echo "demo: server statistics and metrics"
build/bin/trk infer -u "$http" -m sum --input INPUT0:FP32:1000:random >/dev/null
curl -sf "http://$(sed -n 's/^trkserve:.*metrics on \([0-9.]*:[0-9]*\).*/\1/p' "$log")/metrics" |
    grep -E '^nv_inference_(request_success|exec_count|count)\{model="gemm"|^nv_gpu_utilization' || true
echo "demo: CSV in build/demo-perf-http.csv and build/demo-perf-grpc.csv"
