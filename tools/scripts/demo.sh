#!/bin/sh
# The main job on the built-in default: builds trkserve and runs it on the CPU
# device. Until the trackers and the server land this is 'trk devices',
# 'trk bench primitives' (add --quick for a one-minute smoke run) and the event
# generator making PU 50 CMS raw events (its rate is printed).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
build/bin/trk devices
build/bin/trk bench primitives --device cpu --csv build/bench-primitives.csv "$@"
build/bin/trk gen -d cms -n 20 -o build/demo-cms.trkev
