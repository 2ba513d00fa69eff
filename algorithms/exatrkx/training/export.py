#!/usr/bin/env python3
"""Exports the trained networks as one safetensors file for the C inference.

Reads WORKDIR/embedding.pt, filter.pt, gnn.pt (train.py checkpoints: 'model' state dicts
and the chosen inference params) and writes the tensors under the prefixes embedding.,
filter., gnn. (exatrkx_models state_dict names, F32) with __metadata__: format,
radius, knn, filter_cut, edge_cut, min_hits, junction_removal, gnn_iters and
informational seed, events, train_minutes, date. Command-line values override the
checkpoints' params. --random writes seeded, untrained networks (for tests of the format).
"""
import argparse
import datetime
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exatrkx_models as M  # noqa: E402
from reference_infer import ExaTrkX  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "..", "config", "examples", "models", "exatrkx",
                           "1", "exatrkx.safetensors")
PARAMS = ("radius", "knn", "filter_cut", "edge_cut", "min_hits", "junction_removal")


def fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(float(v))
    return str(v)


def write(path, model, params, info):
    """Writes model (ExaTrkX) with metadata params (dict) + info (dict) to path."""
    from safetensors.torch import save_file
    sd = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    meta = {"format": M.FORMAT, "gnn_iters": str(model.gnn.iters)}
    for k in PARAMS:
        meta[k] = fmt(params[k])
    for k, v in info.items():
        meta[k] = fmt(v)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    save_file(sd, tmp, metadata=meta)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/exatrkx-work")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--random", action="store_true", help="untrained networks")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--radius", type=float)
    ap.add_argument("--knn", type=int)
    ap.add_argument("--filter-cut", type=float)
    ap.add_argument("--edge-cut", type=float)
    ap.add_argument("--min-hits", type=int)
    ap.add_argument("--junction-removal", choices=("true", "false"))
    a = ap.parse_args()
    params = {"radius": 0.2, "knn": 12, "filter_cut": 0.05, "edge_cut": 0.5, "min_hits": 3,
              "junction_removal": False}
    info = {"seed": a.seed, "date": datetime.date.today().isoformat()}
    if a.random:
        torch.manual_seed(a.seed)
        model = ExaTrkX()
        info.update(events=0, train_minutes=0.0, note="untrained (export.py --random)")
    else:
        ck = {s: torch.load(os.path.join(a.workdir, s + ".pt"), weights_only=False)
              for s in ("embedding", "filter", "gnn")}
        c = ck["gnn"]
        model = ExaTrkX(**c["sizes"])
        sd = {}
        for s in ("embedding", "filter", "gnn"):
            sd.update({s + "." + k: v for k, v in ck[s]["model"].items()})
        model.load_state_dict(sd, strict=True)
        for s in ("embedding", "filter", "gnn"):
            params.update(ck[s].get("params", {}))
        info.update(seed=c["seed"], events=c["events"],
                    train_minutes=round(sum(ck[s]["minutes"] for s in ck), 1))
    for k in PARAMS:
        v = getattr(a, k)
        if v is not None:
            params[k] = (v == "true") if k == "junction_removal" else v
    write(a.out, model, params, info)
    print("wrote %s (%s)" % (a.out, ", ".join("%s=%s" % (k, fmt(params[k])) for k in PARAMS)))


if __name__ == "__main__":
    main()
