#!/bin/sh
# Full Exa.TrkX training: data, three stages, export, cut scan, golden outputs.
#   train_all.sh [TOTAL_MINUTES (default 65)] [WORKDIR (default /tmp/exatrkx-work)]
# Stage budgets are fractions of TOTAL_MINUTES (embedding 35%, filter 25%, gnn 30%; the
# rest is data generation, evaluation and export). Every stage is resumable: re-run a
# single one with  train.py STAGE --workdir WORKDIR --minutes M [--resume].
# Environment: PYTHON (default /opt/torchenv/bin/python), TRK (trk binary), SEED.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOTAL=${1:-65}
WORK=${2:-/tmp/exatrkx-work}
PY=${PYTHON:-/opt/torchenv/bin/python}
SEED=${SEED:-12345}
N="nice -n 10"
frac() { awk "BEGIN { printf \"%.1f\", $TOTAL * $1 }"; }
start=$(date +%s)
say() { echo "[train_all $(( $(date +%s) - start ))s] $*"; }

say "data -> $WORK"
$N "$PY" "$HERE/data.py" --workdir "$WORK"
say "embedding ($(frac 0.35) min)"
$N "$PY" "$HERE/train.py" embedding --workdir "$WORK" --seed "$SEED" --minutes "$(frac 0.35)"
say "filter ($(frac 0.25) min)"
$N "$PY" "$HERE/train.py" filter --workdir "$WORK" --seed "$SEED" --minutes "$(frac 0.25)"
say "gnn ($(frac 0.30) min)"
$N "$PY" "$HERE/train.py" gnn --workdir "$WORK" --seed "$SEED" --minutes "$(frac 0.30)"
say "export"
$N "$PY" "$HERE/export.py" --workdir "$WORK"
say "evaluate + cut scan (writes edge_cut, junction_removal, min_hits)"
$N "$PY" "$HERE/evaluate.py" --workdir "$WORK" --scan --write \
    --trackml "$HERE/../../../../shared/data/trackml/event000000001/event000000001"
say "golden"
$N "$PY" "$HERE/golden.py" --workdir "$WORK"
say "done"
