#!/usr/bin/env python3
"""Writes the golden PyTorch outputs the C tests compare against (no torch in CI).

From one low-mu event (data.py's golden set) and a weights file, runs reference_infer
and writes tests/data/exatrkx_golden.safetensors:
  features            F32 [N,3]  the event
  embedding           F32 [M,D]  embeddings of the first M (300) hits
  graph_count         I32 [1]    radius-graph edge count
  graph_src/graph_dst I32 [S]    the first S (<= 3000) radius-graph edges, canonical order
  graph_filter_logit  F32 [S]    their filter logits
  kept_src/kept_dst   I32 [E]    all edges passing the filter cut, canonical order
  gnn_logit           F32 [E]    their GNN logits
  labels              I64 [N]    track labels (-1: none)
metadata: the weights' metadata (inference params) plus source_event and weights_sha256.
"""
import argparse
import hashlib
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_infer as R  # noqa: E402
from export import DEFAULT_OUT  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_GOLDEN = os.path.join(HERE, "..", "..", "..", "tests", "data",
                              "exatrkx_golden.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=DEFAULT_OUT)
    ap.add_argument("--workdir", default="/tmp/exatrkx-work")
    ap.add_argument("--event", help="event npz (default WORKDIR/data/golden/first)")
    ap.add_argument("--out", default=DEFAULT_GOLDEN)
    ap.add_argument("--max-embedding", type=int, default=300)
    ap.add_argument("--max-graph", type=int, default=3000)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    ev = a.event
    if ev is None:
        import data
        files = data.set_files(a.workdir, "golden")
        if not files:
            sys.exit("no golden event in %s: run data.py --sets golden first" % a.workdir)
        ev = files[0]
    model, p, meta = R.load_weights(a.weights)
    f = np.load(ev)["features"].astype(np.float32)
    r = R.run(model, f, p, keep=True)
    S = min(a.max_graph, r["graph_src"].size)
    i32 = lambda x: torch.from_numpy(np.ascontiguousarray(x, np.int32))  # noqa: E731
    f32 = lambda x: torch.from_numpy(np.ascontiguousarray(x, np.float32))  # noqa: E731
    t = {"features": f32(f), "embedding": f32(r["embedding"][:a.max_embedding]),
         "graph_count": i32([r["graph_src"].size]),
         "graph_src": i32(r["graph_src"][:S]), "graph_dst": i32(r["graph_dst"][:S]),
         "graph_filter_logit": f32(r["filter_logit"][:S]),
         "kept_src": i32(r["kept_src"]), "kept_dst": i32(r["kept_dst"]),
         "gnn_logit": f32(r["gnn_logit"]),
         "labels": torch.from_numpy(np.ascontiguousarray(r["labels"], np.int64))}
    md = dict(meta)
    md["source_event"] = os.path.basename(ev)
    with open(a.weights, "rb") as fh:
        md["weights_sha256"] = hashlib.sha256(fh.read()).hexdigest()
    from safetensors.torch import save_file
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    save_file(t, a.out, metadata=md)
    os.chmod(a.out, 0o644)
    print("wrote %s: %d hits, graph %d edges, filter %d, track edges %d, %d tracks, "
          "%d bytes" % (a.out, f.shape[0], r["nedges_graph"], r["nedges_filter"],
                        r["nedges_track"], r["ntracks"], os.path.getsize(a.out)))


if __name__ == "__main__":
    main()
