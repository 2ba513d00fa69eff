#!/usr/bin/env python3
"""PyTorch/numpy reference of the whole Exa.TrkX inference, exactly as
algorithms/exatrkx/include/trk/exatrkx.h defines it (the C code must give the same
graph, the same cuts and the same labels; logits within float tolerance).

Steps: node inputs u -> embedding y -> radius graph (grid over y[:, :3] with cell =
radius, full-dim squared distance < radius^2 summed over dims in order in float32,
at most knn nearest per hit with ties to the lower index, union of both ends' lists,
oriented by exatrkx_models.orient, sorted by (src, dst)) -> filter in chunks, kept when
logit > float32(log(cut / (1 - cut))) -> GNN on the kept edges -> the same cut with
edge_cut -> optional junction removal -> connected components -> components with fewer
than min_hits hits get -1, the others are numbered 0.. by their lowest hit index.

Importable (load_weights, Params, run, radius_graph, ...) and a command line tool:
    reference_infer.py --weights W (--event NPZ | --csv HITS.csv) [--out labels.csv]
                       [--time] [--repeat N]
With --time it prints one machine-readable line per stage: `stage NAME SECONDS`
(median over --repeat runs), then `total SECONDS`, counts, and `peak_rss_mb X`.
"""
import argparse
import dataclasses
import math
import os
import resource
import sys
import time

import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore", message="index_reduce")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exatrkx_models as M  # noqa: E402

STAGES = ("embed", "graph", "filter", "gnn", "tracks")


class ExaTrkX(torch.nn.Module):
    """The three networks under the weight-file prefixes embedding./filter./gnn."""

    def __init__(self, hidden=96, nlayers=3, dim=8, filter_hidden=64, filter_layers=3,
                 gnn_hidden=32, gnn_iters=4):
        super().__init__()
        self.embedding = M.Embedding(hidden, nlayers, dim)
        self.filter = M.Filter(4 + dim, filter_hidden, filter_layers)
        self.gnn = M.InteractionGNN(4 + dim, gnn_hidden, gnn_iters)


@dataclasses.dataclass
class Params:
    """Inference parameters (weights metadata names)."""
    radius: float = 0.2
    knn: int = 12
    filter_cut: float = 0.05
    edge_cut: float = 0.5
    min_hits: int = 3
    junction_removal: bool = False
    filter_chunk: int = 262144

    @classmethod
    def from_metadata(cls, meta):
        p = cls()
        if not meta:
            return p
        for f in dataclasses.fields(cls):
            if f.name not in meta:
                continue
            v = meta[f.name]
            if f.type in (bool, "bool"):
                setattr(p, f.name, v == "true")
            elif f.type in (int, "int"):
                setattr(p, f.name, int(v))
            else:
                setattr(p, f.name, float(v))
        return p


def model_from_state(sd, gnn_iters):
    """Builds ExaTrkX with the sizes the tensors imply and loads them (strict)."""
    ne = len([k for k in sd if k.startswith("embedding.layers.") and k.endswith(".weight")])
    nf = len([k for k in sd if k.startswith("filter.layers.") and k.endswith(".weight")])
    m = ExaTrkX(hidden=sd["embedding.layers.0.weight"].shape[0], nlayers=ne - 1,
                dim=sd["embedding.layers.%d.weight" % (ne - 1)].shape[0],
                filter_hidden=sd["filter.layers.0.weight"].shape[0], filter_layers=nf,
                gnn_hidden=sd["gnn.node_enc.layers.0.weight"].shape[0], gnn_iters=gnn_iters)
    m.load_state_dict(sd, strict=True)
    return m.eval()


def load_weights(path):
    """(model, Params, metadata dict) from a trkserve-exatrkx-2 safetensors file."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != M.FORMAT:
        raise ValueError("%s: metadata format is %r, expected %r"
                         % (path, meta.get("format"), M.FORMAT))
    sd = load_file(path)
    return model_from_state(sd, int(meta["gnn_iters"])), Params.from_metadata(meta), meta


def logit_threshold(cut):
    """float32(log(cut / (1 - cut))) computed in double, as the C code does."""
    if not 0.0 < cut < 1.0:
        raise ValueError("cut %r must lie in (0, 1)" % cut)
    return np.float32(math.log(cut / (1.0 - cut)))


def features_from_xyz(x, y, z):
    """(r/1000, atan2(y,x)/pi, z/1000) float32 [N,3] from mm coordinates."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    z = np.asarray(z, np.float64)
    return np.stack([np.hypot(x, y) / 1000.0, np.arctan2(y, x) / math.pi, z / 1000.0],
                    axis=1).astype(np.float32)


@torch.no_grad()
def embed(model, features):
    """[N,3] float32 numpy -> embeddings [N,D] float32 numpy (model: ExaTrkX or an
    exatrkx_models.Embedding)."""
    f = torch.from_numpy(np.ascontiguousarray(features, np.float32))
    emb = model.embedding if isinstance(model, ExaTrkX) else model
    return emb(M.node_inputs(f)).numpy()


def _sq_dist(y, i, j):
    """|y_i - y_j|^2 summed over the dims in order, in float32 (no pairwise sums)."""
    d = np.square(y[i, 0] - y[j, 0])
    for k in range(1, y.shape[1]):
        d += np.square(y[i, k] - y[j, k])
    return d


def orient_np(src, dst, features):
    """numpy twin of exatrkx_models.orient (rho = f0^2 + f2^2 in float32)."""
    f = np.asarray(features, np.float32)
    rho = f[:, 0] * f[:, 0] + f[:, 2] * f[:, 2]
    a, b = rho[src], rho[dst]
    swap = (a > b) | ((a == b) & (src > dst))
    return np.where(swap, dst, src), np.where(swap, src, dst)


def canonical(src, dst, n):
    """Sorts (src, dst) pairs by src then dst."""
    order = np.argsort(src.astype(np.int64) * n + dst, kind="stable")
    return src[order], dst[order]


def knn_lists(y, radius, knn, max_candidates=24_000_000):
    """Each hit's list of at most knn nearest hits with |y_i - y_j|^2 < radius^2
    (ties: lower index): (i, j, d2) arrays sorted by (i, d2, j). Uniform grid over
    y[:, :3] with cell = radius; at most max_candidates candidate pairs at a time."""
    y = np.ascontiguousarray(y, np.float32)
    n = y.shape[0]
    if n == 0 or knn == 0:
        e = np.zeros(0, np.int64)
        return e, e.copy(), np.zeros(0, np.float32)
    r2 = np.float32(radius) * np.float32(radius)
    cell = np.floor(y[:, :3].astype(np.float64) / float(radius)).astype(np.int64)
    lo = cell.min(0) - 1
    ext = cell.max(0) - lo + 2
    c = cell - lo

    def key_of(cc):
        return (cc[..., 0] * ext[1] + cc[..., 1]) * ext[2] + cc[..., 2]

    key = key_of(c)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    offs = np.array([(a, b, d) for a in (-1, 0, 1) for b in (-1, 0, 1) for d in (-1, 0, 1)])
    # candidate count per query, to cut the queries into bounded batches
    cnt = np.zeros(n, np.int64)
    step = 65536
    for s in range(0, n, step):
        nk = key_of(c[s:s + step, None, :] + offs[None])
        cnt[s:s + step] = (np.searchsorted(skey, nk, "right") -
                           np.searchsorted(skey, nk, "left")).sum(1)
    out_i, out_j, out_d = [], [], []
    s = 0
    csum = np.cumsum(cnt)
    while s < n:
        base = csum[s - 1] if s else 0
        e = int(np.searchsorted(csum, base + max_candidates, "right"))
        e = min(max(e, s + 1), n)
        q = np.arange(s, e)
        nk = key_of(c[q, None, :] + offs[None]).ravel()
        a = np.searchsorted(skey, nk, "left")
        k = np.searchsorted(skey, nk, "right") - a
        tot = int(k.sum())
        qi = np.repeat(np.repeat(q, 27), k)
        pos = np.arange(tot, dtype=np.int64) + np.repeat(a - (np.cumsum(k) - k), k)
        j = order[pos]
        m = j != qi
        qi, j = qi[m], j[m]
        d = _sq_dist(y, qi, j)
        m = d < r2
        qi, j, d = qi[m], j[m], d[m]
        srt = np.lexsort((j, d, qi))
        qi, j, d = qi[srt], j[srt], d[srt]
        first = np.searchsorted(qi, qi, "left")
        m = (np.arange(qi.size) - first) < knn
        out_i.append(qi[m])
        out_j.append(j[m])
        out_d.append(d[m])
        s = e
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)


def knn_lists_kdtree(y, radius, knn, slack=8):
    """Same result as knn_lists, found with a k-d tree (scipy): the knn + slack nearest
    in float64, then the float32 distances, the < radius^2 test and the (d2, j) order
    decide. Fast whatever the density (used by training and calibration)."""
    from scipy.spatial import cKDTree
    y = np.ascontiguousarray(y, np.float32)
    n = y.shape[0]
    if n < 2 or knn == 0:
        e = np.zeros(0, np.int64)
        return e, e.copy(), np.zeros(0, np.float32)
    k = min(knn + slack + 1, n)
    _, jj = cKDTree(y.astype(np.float64)).query(y.astype(np.float64), k=k,
                                                distance_upper_bound=radius * (1 + 1e-5))
    qi = np.repeat(np.arange(n), k)
    j = jj.ravel()
    m = (j < n) & (j != qi)
    qi, j = qi[m], j[m]
    d = _sq_dist(y, qi, j)
    m = d < np.float32(radius) * np.float32(radius)
    qi, j, d = qi[m], j[m], d[m]
    srt = np.lexsort((j, d, qi))
    qi, j, d = qi[srt], j[srt], d[srt]
    first = np.searchsorted(qi, qi, "left")
    m = (np.arange(qi.size) - first) < knn
    return qi[m], j[m], d[m]


def graph_from_lists(i, j, features, n):
    """Union of the directed lists as pairs, oriented, canonical order."""
    pk = np.unique(np.minimum(i, j) * n + np.maximum(i, j))
    src, dst = orient_np(pk // n, pk % n, features)
    return canonical(src, dst, n)


def radius_graph(y, features, radius, knn, method="grid"):
    """The radius graph of exatrkx.h step 3: (src, dst) int64 arrays, canonical order.
    method: "grid" (the C algorithm) or "kdtree" (same edges, robust to dense
    embeddings)."""
    i, j, _ = (knn_lists if method == "grid" else knn_lists_kdtree)(y, radius, knn)
    return graph_from_lists(i, j, features, y.shape[0])


def node_features(features, y):
    """g = cat(u, y) as a torch tensor [N, 4+D]."""
    f = torch.from_numpy(np.ascontiguousarray(features, np.float32))
    return torch.cat([M.node_inputs(f), torch.from_numpy(y)], dim=1)


@torch.no_grad()
def filter_logits(model, g, features, src, dst, chunk):
    """Filter logits [E] float32 over edge chunks of `chunk` (model: ExaTrkX or Filter);
    features: the raw [N,3] features (numpy) the edge features come from."""
    net = model.filter if isinstance(model, ExaTrkX) else model
    f = torch.from_numpy(np.ascontiguousarray(features, np.float32))
    out = np.empty(src.size, np.float32)
    s = torch.from_numpy(src)
    d = torch.from_numpy(dst)
    for a in range(0, src.size, chunk):
        out[a:a + chunk] = net(g, f, s[a:a + chunk], d[a:a + chunk]).numpy()
    return out


@torch.no_grad()
def gnn_logits(model, g, features, src, dst):
    if src.size == 0:
        return np.zeros(0, np.float32)
    net = model.gnn if isinstance(model, ExaTrkX) else model
    f = torch.from_numpy(np.ascontiguousarray(features, np.float32))
    return net(g, f, torch.from_numpy(src), torch.from_numpy(dst)).numpy()


def junction_removal(src, dst, logit):
    """Mask: edge is the best out-edge of its src and the best in-edge of its dst
    (highest logit, ties: lower edge index)."""
    idx = np.arange(src.size)
    ok = np.ones(src.size, bool)
    for node in (src, dst):
        o = np.lexsort((idx, -logit, node))
        first = np.ones(o.size, bool)
        first[1:] = node[o][1:] != node[o][:-1]
        best = np.zeros(src.size, bool)
        best[o[first]] = True
        ok &= best
    return ok


def track_labels(n, src, dst, min_hits):
    """Connected components -> int64 labels (−1 for components below min_hits),
    numbered by lowest hit index."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    if n == 0:
        return np.zeros(0, np.int64)
    a = coo_matrix((np.ones(src.size, np.int8), (src, dst)), shape=(n, n))
    _, comp = connected_components(a, directed=False)
    size = np.bincount(comp)
    _, first = np.unique(comp, return_index=True)  # first hit of component c (c sorted)
    good = size >= min_hits
    rank = np.full(size.size, -1, np.int64)
    gc = np.nonzero(good)[0]
    gc = gc[np.argsort(first[gc], kind="stable")]
    rank[gc] = np.arange(gc.size)
    return rank[comp]


def run(model, features, p, timer=None, keep=False):
    """Runs the pipeline on features [N,3]; returns a dict with labels and, when keep,
    every intermediate (embedding, graph_src/dst, filter_logit, kept_src/dst, gnn_logit,
    track_src/dst). timer: dict stage -> seconds (added to)."""
    features = np.ascontiguousarray(features, np.float32)
    if features.ndim != 2 or features.shape[1] != 3:
        raise ValueError("features must be [N,3], got %s" % (features.shape,))
    if not np.all(np.isfinite(features)):
        bad = int(np.nonzero(~np.isfinite(features).all(1))[0][0])
        raise ValueError("feature row %d is not finite" % bad)
    n = features.shape[0]
    t = time.perf_counter()
    res = {}

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        if timer is not None:
            timer[name] = timer.get(name, 0.0) + now - t
        t = now

    y = embed(model, features)
    lap("embed")
    src, dst = radius_graph(y, features, p.radius, p.knn)
    lap("graph")
    g = node_features(features, y)
    fl = filter_logits(model, g, features, src, dst, p.filter_chunk)
    m = fl > logit_threshold(p.filter_cut)
    ks, kd = src[m], dst[m]
    lap("filter")
    gl = gnn_logits(model, g, features, ks, kd)
    lap("gnn")
    m2 = gl > logit_threshold(p.edge_cut)
    ts, td, tl = ks[m2], kd[m2], gl[m2]
    if p.junction_removal:
        jm = junction_removal(ts, td, tl)
        ts, td = ts[jm], td[jm]
    labels = track_labels(n, ts, td, p.min_hits)
    lap("tracks")
    res.update(labels=labels, nedges_graph=src.size, nedges_filter=ks.size,
               nedges_track=ts.size, ntracks=int(labels.max() + 1) if n else 0)
    if keep:
        res.update(embedding=y, graph_src=src, graph_dst=dst, filter_logit=fl,
                   kept_src=ks, kept_dst=kd, gnn_logit=gl, track_src=ts, track_dst=td)
    return res


def read_hits_csv(path):
    """(hit_id int64, features) from a TrackML hits CSV (.csv or .csv.gz)."""
    import pandas as pd
    h = pd.read_csv(path, usecols=["hit_id", "x", "y", "z"],
                    dtype={"hit_id": np.int64, "x": np.float32, "y": np.float32,
                           "z": np.float32})
    return h.hit_id.to_numpy(), features_from_xyz(h.x, h.y, h.z)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="exatrkx.safetensors")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--event", help="event .npz from data.py (features, hit_id)")
    src.add_argument("--csv", help="TrackML hits CSV (hit_id,x,y,z,...)")
    ap.add_argument("--out", help="write hit_id,track_id (track_id -1: in no track)")
    ap.add_argument("--time", action="store_true", help="print per-stage times")
    ap.add_argument("--repeat", type=int, default=1, help="runs to time (median)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (with --time)")
    ap.add_argument("--threads", type=int, default=2)
    for name, typ in (("radius", float), ("knn", int), ("filter_cut", float),
                      ("edge_cut", float), ("min_hits", int), ("filter_chunk", int)):
        ap.add_argument("--" + name.replace("_", "-"), type=typ, dest=name,
                        help="override the weights' %s" % name)
    ap.add_argument("--junction-removal", choices=("true", "false"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, p, _ = load_weights(a.weights)
    for f in dataclasses.fields(Params):
        v = getattr(a, f.name, None)
        if v is not None:
            setattr(p, f.name, (v == "true") if f.name == "junction_removal" else v)
    if a.event:
        ev = np.load(a.event)
        feats, hit_id = ev["features"], ev["hit_id"]
    else:
        hit_id, feats = read_hits_csv(a.csv)
    times = []
    for _ in range(a.warmup if a.time else 0):
        run(model, feats, p)
    for _ in range(max(1, a.repeat)):
        tm = {}
        res = run(model, feats, p, timer=tm)
        times.append(tm)
    if a.out:
        with open(a.out, "w") as fo:
            fo.write("hit_id,track_id\n")
            np.savetxt(fo, np.stack([hit_id, res["labels"]], 1), fmt="%d", delimiter=",")
    print("nhits %d edges_graph %d edges_filter %d edges_track %d tracks %d"
          % (feats.shape[0], res["nedges_graph"], res["nedges_filter"],
             res["nedges_track"], res["ntracks"]))
    if a.time:
        tot = 0.0
        for s in STAGES:
            v = float(np.median([t[s] for t in times]))
            tot += v
            print("stage %s %.6f" % (s, v))
        print("total %.6f" % tot)
        print("peak_rss_mb %.1f" % peak_rss_mb())


if __name__ == "__main__":
    main()
