#!/bin/sh
# Load test: trkserve's resident memory stays flat over 100,000 requests (HTTP and gRPC,
# 8 client threads, identity model with 4 KiB tensors). Warms up with 10,000 requests,
# reads VmRSS, sends 100,000 more, reads it again; fails when it grew by more than
# TRK_RSS_MAX_GROWTH_KB (default 8192 KiB).
# Usage: rss.sh PATH/TO/trk PATH/TO/trkserve MODEL_REPOSITORY
set -eu
trk=$1
trkserve=$2
repo=$3
max_growth=${TRK_RSS_MAX_GROWTH_KB:-8192}
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; tail -20 "$tmp/server.log" >&2; exit 1; }

"$trkserve" --model-repository "$repo" --http-port 0 --grpc-port 0 --metrics-port 0 \
    >"$tmp/server.log" 2>&1 &
pid=$!
i=0
until grep -q "^trkserve: HTTP on" "$tmp/server.log"; do
    kill -0 "$pid" 2>/dev/null || fail "trkserve exited at start"
    i=$((i + 1)); [ $i -lt 300 ] || fail "trkserve did not start within 30 s"
    sleep 0.1
done
http=$(sed -n 's/^trkserve: HTTP on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/server.log")
grpc=$(sed -n 's/^trkserve:.*gRPC on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/server.log")
metrics=$(sed -n 's/^trkserve:.*metrics on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/server.log")

served() {  # requests identity has answered so far
    curl -sf "http://$metrics/metrics" |
        sed -n 's/^nv_inference_request_success{model="identity",version="1"} \([0-9]*\).*/\1/p'
}
rss() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$pid/status"; }
load() {  # load N: keeps 8 threads busy (HTTP, then gRPC, alternating) until N more served
    target=$(( $(served) + $1 ))
    proto=http
    while [ "$(served)" -lt "$target" ]; do
        url=$http; [ "$proto" = grpc ] && url=$grpc
        [ -n "$url" ] || { proto=http; continue; }
        "$trk" perf -m identity -u "$url" -i "$proto" --shape INPUT0:1024 \
            --concurrency-range 8 -p 1000 -r 3 -s 100 >/dev/null 2>"$tmp/perf.err" ||
            fail "trk perf over $proto: $(tail -3 "$tmp/perf.err")"
        [ "$proto" = http ] && proto=grpc || proto=http
    done
}

load 10000
before=$(rss)
n0=$(served)
load 100000
after=$(rss)
n1=$(served)
growth=$((after - before))
echo "rss.sh: $((n1 - n0)) requests after warm-up: VmRSS $before KiB -> $after KiB" \
     "(growth $growth KiB, limit $max_growth KiB)"
[ "$growth" -le "$max_growth" ] || fail "RSS grew by $growth KiB over $((n1 - n0)) requests"
kill -0 "$pid" 2>/dev/null || fail "trkserve died under load"
echo "rss.sh: OK"
