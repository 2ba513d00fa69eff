#!/bin/sh
# CLI test of Exa.TrkX: 'trk reco exatrkx' on a small generated TrackML event file and
# hits CSV, scored with 'trk score'; then trkserve serving the exatrkx example model,
# answering an HTTP infer, and refusing a wrong shape and a NaN with 400.
# Usage: exatrkx.sh PATH/TO/trk PATH/TO/trkserve SOURCE_DIR
set -eu
trk=$1
trkserve=$2
src=${3:-$(dirname "$0")/../..}
model=$src/config/examples/models/exatrkx
weights=$model/1/exatrkx.safetensors
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
[ -f "$weights" ] || fail "no weights at $weights"

# ---- usage ----
"$trk" reco exatrkx --help | grep -q -- "--edge-cut" || fail "reco exatrkx --help"
"$trk" bench exatrkx --help | grep -q -- "--reference" || fail "bench exatrkx --help"
for bad in "reco exatrkx" "reco exatrkx a b" "reco exatrkx x --radius -1" \
           "reco exatrkx x --bogus 1" "bench exatrkx --sizes 0" "bench exatrkx --events x"; do
    rc=0
    # shellcheck disable=SC2086
    "$trk" $bad >"$tmp/out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "trk $bad: exit $rc, want 2: $(cat "$tmp/out")"
    grep -q "trk \(reco\|bench\) exatrkx" "$tmp/out" || fail "trk $bad: no message"
done

# ---- trk reco exatrkx on an event file, then trk score ----
"$trk" gen -d trackml -p 10 -n 2 -s 77 -o "$tmp/ev.trkev" >"$tmp/out" 2>&1 ||
    fail "gen: $(cat "$tmp/out")"
TRK_NUM_THREADS=2 "$trk" reco exatrkx "$tmp/ev.trkev" -w "$weights" -o "$tmp/reco.trkev" --profile \
    >"$tmp/out" 2>&1 || fail "reco: $(cat "$tmp/out")"
cat "$tmp/out"
[ "$(grep -c "^event [01]: [0-9]* hits, edges graph" "$tmp/out")" = 2 ] ||
    fail "reco: want one line per event"
grep -q "^time per event by stage (ms): upload" "$tmp/out" || fail "reco: no stage times"
grep -q "^score: TrackML 0\.[0-9]*" "$tmp/out" || fail "reco: no score"
"$trk" score "$tmp/ev.trkev" "$tmp/reco.trkev" >"$tmp/score" 2>&1 ||
    fail "score: $(cat "$tmp/score")"
grep -q "^TrackML score  *0\.[0-9]*" "$tmp/score" || fail "score: $(cat "$tmp/score")"
grep -q "double" "$tmp/score" || fail "score: no double-majority row: $(cat "$tmp/score")"
# parameter overrides reach the tracker: a cut of 0.999999 keeps (almost) nothing
"$trk" reco exatrkx "$tmp/ev.trkev" -w "$weights" -n 1 --edge-cut 0.999999 --min-hits 3 >"$tmp/out" 2>&1 ||
    fail "reco --edge-cut: $(cat "$tmp/out")"
grep -q "edge_cut 0.999999, min_hits 3" "$tmp/out" || fail "reco overrides: $(cat "$tmp/out")"

# wrong input files: clear messages, exit 1, no crash
rc=0
"$trk" reco exatrkx "$tmp/ev.trkev" -w "$tmp/none.safetensors" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "cannot load the weights $tmp/none.safetensors" "$tmp/out" ||
    fail "missing weights: rc $rc $(cat "$tmp/out")"
head -c 100 "$weights" >"$tmp/trunc.safetensors"
rc=0
"$trk" reco exatrkx "$tmp/ev.trkev" -w "$tmp/trunc.safetensors" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "cannot load the weights" "$tmp/out" ||
    fail "truncated weights: rc $rc $(cat "$tmp/out")"
rc=0
"$trk" reco exatrkx "$tmp/nothing.trkev" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "cannot open" "$tmp/out" || fail "missing input: rc $rc"
"$trk" gen -d cms -p 1 -n 1 -o "$tmp/cms.trkev" >/dev/null 2>&1 || fail "gen cms"
rc=0
"$trk" reco exatrkx "$tmp/cms.trkev" -w "$weights" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no TrackML events" "$tmp/out" || fail "cms input: rc $rc"

# ---- a TrackML hits CSV: submission + score ----
mkdir "$tmp/csv"
"$trk" gen -d trackml -p 10 -n 1 -s 78 -f csv -o "$tmp/csv" >"$tmp/out" 2>&1 ||
    fail "gen csv: $(cat "$tmp/out")"
"$trk" reco exatrkx "$tmp/csv/event000000000-hits.csv" -w "$weights" -o "$tmp/sub.csv" >"$tmp/out" 2>&1 ||
    fail "reco csv: $(cat "$tmp/out")"
cat "$tmp/out"
grep -q "^score: TrackML" "$tmp/out" || fail "reco csv: no score with truth beside"
head -1 "$tmp/sub.csv" | grep -q "hit_id,track_id" || fail "submission header"
nh=$(($(wc -l <"$tmp/csv/event000000000-hits.csv") - 1))
[ "$(($(wc -l <"$tmp/sub.csv") - 1))" = "$nh" ] || fail "submission: want $nh rows"
awk -F, 'NR > 1 && $3 < 1 { exit 1 }' "$tmp/sub.csv" || fail "submission: track_id < 1"
"$trk" score "$tmp/csv/event000000000" "$tmp/sub.csv" >"$tmp/score" 2>&1 ||
    fail "score submission: $(cat "$tmp/score")"
grep -q "^TrackML score  *0\.[0-9]*" "$tmp/score" || fail "score csv: $(cat "$tmp/score")"

# ---- trkserve with the exatrkx model ----
mkdir -p "$tmp/repo/exatrkx"
cp "$model/config.cfg" "$tmp/repo/exatrkx/"
ln -s "$(cd "$model/1" && pwd)" "$tmp/repo/exatrkx/1"
"$trkserve" --model-repository "$tmp/repo" --http-port 0 --grpc-port 0 --metrics-port 0 \
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
[ -n "$http" ] || fail "no HTTP address in the server log"

"$trk" infer -u "$http" -m exatrkx --input FEATURES:FP32:500,3:random >"$tmp/out" 2>&1 ||
    fail "infer: $(cat "$tmp/out")"
grep -q "LABELS INT64 \[500\]" "$tmp/out" || fail "infer output: $(cat "$tmp/out")"
"$trk" infer -u "$http" -m exatrkx --input FEATURES:FP32:0,3:zero >"$tmp/out" 2>&1 ||
    fail "infer empty: $(cat "$tmp/out")"
grep -q "LABELS INT64 \[0\]" "$tmp/out" || fail "infer empty: $(cat "$tmp/out")"

# wrong shape (JSON) -> 400
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"inputs":[{"name":"FEATURES","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}' \
    "http://$http/v2/models/exatrkx/infer")
[ "$code" = 400 ] || fail "wrong shape: HTTP $code $(cat "$tmp/body")"
grep -q "FEATURES" "$tmp/body" || fail "wrong shape: $(cat "$tmp/body")"

# a NaN (binary tensor extension) -> 400 naming the input
hdr='{"inputs":[{"name":"FEATURES","shape":[2,3],"datatype":"FP32","parameters":{"binary_data_size":24}}]}'
printf '%s' "$hdr" >"$tmp/nan.bin"
printf '\000\000\200\077\000\000\000\000\000\000\000\000' >>"$tmp/nan.bin"
printf '\000\000\200\077\000\000\300\177\000\000\000\000' >>"$tmp/nan.bin"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
    -H "Inference-Header-Content-Length: ${#hdr}" --data-binary @"$tmp/nan.bin" \
    "http://$http/v2/models/exatrkx/infer")
[ "$code" = 400 ] || fail "NaN: HTTP $code $(cat "$tmp/body")"
grep -q "FEATURES" "$tmp/body" || fail "NaN: $(cat "$tmp/body")"
cat "$tmp/body"
echo

# the server still serves
"$trk" infer -u "$http" -m exatrkx --input FEATURES:FP32:10,3:random >"$tmp/out" 2>&1 ||
    fail "infer after errors: $(cat "$tmp/out")"
echo "PASS"
