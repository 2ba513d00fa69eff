#!/bin/sh
# The main job on the built-in default: builds trkserve, simulates CMS PU 50 events
# (raw pixel data with truth), reconstructs them with Patatrack in-process on the CPU
# device and scores the tracks against the truth, then starts trkserve on the CPU device
# with the example model repository (config/examples/models) on free loopback ports and
# sends it the same events from several client threads over HTTP and gRPC with
# `trk perf`, next to the same model run in-process — the direct-vs-service comparison of
# the "tracking as a service" papers. Extra arguments go to every `trk perf` run (e.g.
# -p 1000 for shorter windows). Takes a few minutes on a 2-core machine.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
build/bin/trk devices

events=build/demo-pu50.trkev
echo "demo: simulating 20 CMS events at pile-up 50 (seed 1, the example model's conditions)"
build/bin/trk gen -d cms -p 50 -n 20 -s 1 -q -o "$events"
echo "demo: Patatrack in-process on the CPU device, then the score against the truth"
build/bin/trk reco patatrack "$events" -o build/demo-pu50-reco.trkev --profile
build/bin/trk score "$events" build/demo-pu50-reco.trkev --min-pt 0.9 --max-eta 2.5 \
    --max-prod-r 1 --vertex-rule cms75

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
    i=$((i + 1)); [ $i -lt 600 ] || { cat "$log"; echo "demo: no start in 60 s" >&2; exit 1; }
    sleep 0.1
done
grep "^trkserve:" "$log"
http=$(sed -n 's/^trkserve: HTTP on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
grpc=$(sed -n 's/^trkserve:.*gRPC on \([0-9.]*:[0-9]*\).*/\1/p' "$log")

for proto in http grpc; do
    url=$http; [ "$proto" = grpc ] && url=$grpc
    echo "demo: patatrack over $proto (one PU 50 event per request) at concurrency 1 and 2,"
    echo "      beside the same model in-process"
    build/bin/trk perf -m patatrack -u "$url" -i "$proto" --event "$events" \
        --concurrency-range 1:2:1 --in-process "$repo" --compare-in-process \
        -f "build/demo-perf-$proto.csv" "$@"
done
echo "demo: server metrics"
curl -sf "http://$(sed -n 's/^trkserve:.*metrics on \([0-9.]*:[0-9]*\).*/\1/p' "$log")/metrics" |
    grep -E '^nv_inference_(request_success|exec_count|count)\{model="patatrack"|^nv_gpu_utilization' || true
echo "demo: CSV in build/demo-perf-http.csv and build/demo-perf-grpc.csv"
