#!/bin/sh
# Full Exa.TrkX training: data, three stages, export, cut scan, golden outputs — the
# recipe of the committed weights (MODEL_CARD.md), about 2 hours on 2 CPU cores.
#   train_all.sh [WORKDIR (default /tmp/exatrkx-work)]
# Every stage is resumable: re-run one with  train.py STAGE --workdir WORKDIR ... --resume.
# Environment: PYTHON (default /opt/torchenv/bin/python), SEED (default 12345),
# TRK_DATA_DIR (real TrackML events for the evaluation; default ../shared/data).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/exatrkx-work}
PY=${PYTHON:-/opt/torchenv/bin/python}
SEED=${SEED:-12345}
DATA=${TRK_DATA_DIR:-$HERE/../../../../shared/data}
start=$(date +%s)
say() { echo "[train_all $(( $(date +%s) - start ))s] $*"; }
SUBSET="--train-events 24 --warmup-events 10 --calib-events 1"

say "data -> $WORK"
"$PY" "$HERE/data.py" --workdir "$WORK"
say "embedding (8000 steps, ~21 min)"
"$PY" "$HERE/train.py" embedding --workdir "$WORK" --seed "$SEED" --steps 8000 --minutes 29 \
    --radius 1.6 --knn 40 --calib-events 1
say "filter (~22 min)"
"$PY" "$HERE/train.py" filter --workdir "$WORK" --seed "$SEED" --minutes 22 $SUBSET
say "gnn (~50 min)"
"$PY" "$HERE/train.py" gnn --workdir "$WORK" --seed "$SEED" --steps 6500 --minutes 55 --lr 2e-3 --sector 0.125 \
    $SUBSET
say "export"
"$PY" "$HERE/export.py" --workdir "$WORK"
say "evaluate + cut scan (writes edge_cut, junction_removal, min_hits)"
"$PY" "$HERE/evaluate.py" --workdir "$WORK" --scan --write \
    --trackml "$DATA/trackml/event000000001/event000000001"
say "golden"
"$PY" "$HERE/golden.py" --workdir "$WORK"
say "done"
