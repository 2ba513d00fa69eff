#!/bin/sh
# Interop test: drives a real trkserve with NVIDIA's own Python client (tritonclient[all]
# from PyPI) over HTTP and gRPC, through every endpoint trkserve implements.
# Usage: run.sh PATH/TO/trkserve SOURCE_DIR
# Exit 77 (CTest: skipped) with a message when PyPI cannot be reached.
# The virtual environment is cached in $TRK_INTEROP_VENV (default: <build>/interop-venv).
set -eu
trkserve=$1
src=$2
venv=${TRK_INTEROP_VENV:-$(dirname "$(dirname "$trkserve")")/interop-venv}
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import tritonclient.grpc, tritonclient.http" 2>/dev/null; then
    echo "interop: installing tritonclient[all] into $venv"
    python3 -m venv "$venv" || { echo "interop: SKIPPED: python3 -m venv failed (install python3-venv)"; exit 77; }
    if ! "$venv/bin/pip" install -q --disable-pip-version-check 'tritonclient[all]' >"$tmp/pip.log" 2>&1; then
        if grep -qi "connection\|resolve\|network\|No matching distribution" "$tmp/pip.log"; then
            echo "interop: SKIPPED: PyPI unreachable, cannot install tritonclient:"; tail -3 "$tmp/pip.log"
            exit 77
        fi
        cat "$tmp/pip.log"; echo "interop: FAIL: pip install tritonclient[all] failed"; exit 1
    fi
fi

# A repository: the documented examples plus a slow identity for the queue tests.
cp -r "$src/config/examples/models" "$tmp/models"
mkdir -p "$tmp/models/slow/1"
cat >"$tmp/models/slow/config.cfg" <<'CFG'
algorithm = "identity";
max_batch_size = 0;
input = ( { name = "INPUT0"; data_type = "TYPE_FP32"; dims = [ -1 ]; } );
output = ( { name = "OUTPUT0"; data_type = "TYPE_FP32"; dims = [ -1 ]; } );
instance_group = ( { kind = "KIND_CPU"; count = 1; } );
parameters = { delay_us = 200000; };
queue_capacity = 2;
CFG

"$trkserve" --model-repository "$tmp/models" --http-port 0 --grpc-port 0 --metrics-port 0 \
    >"$tmp/server.log" 2>&1 &
pid=$!
i=0
while ! grep -q "models ready" "$tmp/server.log"; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
        cat "$tmp/server.log"; echo "interop: FAIL: trkserve did not start"; exit 1
    fi
    sleep 0.1
done
line=$(grep "models ready" "$tmp/server.log")
http=$(echo "$line" | sed -n 's/.*HTTP on \([^,]*\),.*/\1/p')
grpc=$(echo "$line" | sed -n 's/.*gRPC on \([^,]*\),.*/\1/p')
metrics=$(echo "$line" | sed -n 's/.*metrics on \([^;]*\);.*/\1/p')
echo "interop: $line"
rc=0
"$venv/bin/python" "$src/tests/interop/tritonclient_test.py" --http "$http" --grpc "$grpc" \
    --metrics "$metrics" || rc=$?
if [ $rc != 0 ]; then
    echo "---- server log"; tail -50 "$tmp/server.log"
fi
kill -TERM "$pid"
wait "$pid" || { echo "interop: FAIL: trkserve exited with $? after SIGTERM"; rc=1; }
pid=""
exit $rc
