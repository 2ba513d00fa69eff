#!/bin/sh
# The main job on the built-in default: builds trkserve and runs it on the CPU
# device. Until the trackers and the server land this is 'trk devices' plus
# 'trk bench primitives' (add --quick for a one-minute smoke run).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
build/bin/trk devices
build/bin/trk bench primitives --device cpu --csv build/bench-primitives.csv "$@"
