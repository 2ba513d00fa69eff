#!/bin/sh
# CLI test of 'trk infer' and 'trk perf' against a real trkserve on free ports (HTTP and,
# when built, gRPC), with the example model repository.
# Usage: serve.sh PATH/TO/trk PATH/TO/trkserve [MODEL_REPOSITORY]
set -eu
trk=$1
trkserve=$2
repo=${3:-$(dirname "$0")/../../config/examples/models}
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/server.log" ] && sed 's/^/  server: /' "$tmp/server.log" | tail -20 >&2
    exit 1
}

# ---- usage and help (no server needed) ----
"$trk" infer --help | grep -q -- "--event-index" || fail "infer --help lacks --event-index"
"$trk" perf --help | grep -q -- "--concurrency-range" ||
    fail "perf --help lacks --concurrency-range"
for bad in "infer" "infer -m x --input INPUT0:FP99:4:zero" "infer -m x --bogus" \
           "perf" "perf -m x --concurrency-range 4:1" "perf -m x -p abc" \
           "perf -m x --compare-in-process"; do
    rc=0
    # shellcheck disable=SC2086
    "$trk" $bad >"$tmp/out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "trk $bad: exit $rc, want 2"
    grep -q "trk \(infer\|perf\)\|usage" "$tmp/out" || fail "trk $bad: no message"
done

# ---- start the server on free ports ----
"$trkserve" --model-repository "$repo" --http-port 0 --grpc-port 0 --metrics-port 0 \
    >"$tmp/server.log" 2>&1 &
pid=$!
i=0
until grep -q "^trkserve: HTTP on" "$tmp/server.log"; do
    kill -0 "$pid" 2>/dev/null || fail "trkserve exited at start"
    i=$((i + 1))
    [ $i -lt 300 ] || fail "trkserve did not start within 30 s"
    sleep 0.1
done
http=$(sed -n 's/^trkserve: HTTP on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/server.log")
grpc=$(sed -n 's/^trkserve:.*gRPC on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/server.log")
[ -n "$http" ] || fail "no HTTP address in the server log"

# ---- trk infer over HTTP ----
"$trk" infer -u "$http" -m identity --input INPUT0:FP32:4:zero >"$tmp/out" 2>&1 ||
    fail "identity: $(cat "$tmp/out")"
grep -q "OUTPUT0 FP32 \[4\] (16 bytes): 0, 0, 0, 0" "$tmp/out" ||
    fail "identity output: $(cat "$tmp/out")"

# sum of 1, 2, 3, 4 from a raw little-endian FP32 file
printf '\000\000\200\077\000\000\000\100\000\000\100\100\000\000\200\100' >"$tmp/x.bin"
"$trk" infer -u "$http" -m sum --input "INPUT0:FP32:4:@$tmp/x.bin" --json -o "$tmp/sum.json" \
    >"$tmp/out" 2>&1 || fail "sum: $(cat "$tmp/out")"
grep -q '"data":\[10\]' "$tmp/out" || fail "sum --json: $(cat "$tmp/out")"
grep -q '"data":\[10\]' "$tmp/sum.json" || fail "sum -o: $(cat "$tmp/sum.json")"
"$trk" infer -u "http://$http" -m sum --input "INPUT0:FP32:4:@$tmp/x.bin" --tensor-format json \
    --compression gzip >"$tmp/out" 2>&1 || fail "sum json+gzip: $(cat "$tmp/out")"
grep -q "OUTPUT0 FP32 \[1\] (4 bytes): 10$" "$tmp/out" || fail "sum json+gzip: $(cat "$tmp/out")"
# a file of the wrong size is refused before sending
rc=0
"$trk" infer -u "$http" -m sum --input "INPUT0:FP32:5:@$tmp/x.bin" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "holds 16 bytes" "$tmp/out" ||
    fail "wrong-size file: rc $rc $(cat "$tmp/out")"

# failover: a dead server first, the live one second; the request is answered once
"$trk" infer -u 127.0.0.1:1 -u "$http" -m identity --shape INPUT0:3 >"$tmp/out" 2>&1 ||
    fail "failover: $(cat "$tmp/out")"
grep -q "answered by http://$http" "$tmp/out" || fail "failover: $(cat "$tmp/out")"

# errors from the server come back with its message and exit 1
rc=0
"$trk" infer -u "$http" -m no_such_model --input INPUT0:FP32:1:zero >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "unknown model: exit $rc"
grep -q "no_such_model" "$tmp/out" || fail "unknown model: $(cat "$tmp/out")"

# ---- trk perf over HTTP (short windows, loose stability: this is a smoke test) ----
rc=0
"$trk" perf -u "$http" -m identity --shape INPUT0:256 --concurrency-range 1:2 -p 200 -s 50 \
    -r 6 -f "$tmp/perf.csv" >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "perf: exit $rc: $(cat "$tmp/err")"
grep -q "host memcpy" "$tmp/out" || fail "perf: no memcpy figure: $(cat "$tmp/out")"
n=$(grep -c "infer/s" "$tmp/out") || true
[ "$n" = 2 ] || fail "perf: want 2 levels: $(cat "$tmp/out" "$tmp/err")"
[ "$(wc -l <"$tmp/perf.csv")" = 3 ] || fail "perf csv: $(cat "$tmp/perf.csv")"
awk -F, 'NR > 1 && !($4 > 0) { exit 1 }' "$tmp/perf.csv" || fail "perf: zero throughput"

# the same model in-process, compared
rc=0
"$trk" perf -u "$http" -m identity --shape INPUT0:256 -p 200 -s 50 -r 6 --async \
    --in-process "$repo" --compare-in-process >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "perf compare: exit $rc: $(cat "$tmp/err")"
grep -q "service/in-process" "$tmp/out" || fail "perf compare: $(cat "$tmp/out" "$tmp/err")"

# ---- gRPC, when this build has it ----
rc=0
"$trk" infer -i grpc -u "$grpc" -m identity --input INPUT0:FP32:4:zero >"$tmp/out" 2>&1 || rc=$?
if grep -q "without gRPC" "$tmp/out"; then
    echo "SKIP: gRPC (trkclient built without it)"
else
    [ "$rc" = 0 ] || fail "grpc identity: $(cat "$tmp/out")"
    grep -q "OUTPUT0 FP32 \[4\] (16 bytes): 0, 0, 0, 0" "$tmp/out" ||
        fail "grpc: $(cat "$tmp/out")"
    "$trk" infer -u "grpc://$grpc" -m sum --input "INPUT0:FP32:4:@$tmp/x.bin" >"$tmp/out" 2>&1 ||
        fail "grpc sum: $(cat "$tmp/out")"
    grep -q "(4 bytes): 10$" "$tmp/out" || fail "grpc sum: $(cat "$tmp/out")"
    rc=0
    "$trk" perf -i grpc -u "$grpc" -m identity --shape INPUT0:256 -p 200 -s 50 -r 6 \
        >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "grpc perf: exit $rc: $(cat "$tmp/err")"
    grep -q "infer/s" "$tmp/out" || fail "grpc perf: $(cat "$tmp/out" "$tmp/err")"
fi

# ---- stop the server ----
kill "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "trkserve exited with $rc on SIGTERM"
echo "serve.sh: OK"
