#!/usr/bin/env python3
"""Physics evaluation of an exported weights file with the reference inference.

On the validation events (data.py's val set) and optional real TrackML events
(--trackml PREFIX, e.g. ../shared/data/trackml/event000000001/event000000001) it prints:
  - edge efficiency / purity / edges per hit after each stage (radius graph, filter,
    GNN cut): efficiency = found truth edges (consecutive hits of a particle) / all,
    also for particles with pT > --min-pt; purity = same-particle fraction;
  - TrackML score (trackml-library rules: majority particle per track, good when
    > 50% of the track's hits and > 50% of the particle's hits, weights from the truth;
    labels -1 are in no track), mean over events;
  - double-majority efficiency for particles with pT > --min-pt GeV and >= --dm-hits
    hits (same two > 50% conditions), fake rate (tracks with no particle > 50%).
--scan tries every edge_cut x junction_removal x min_hits (the GNN runs once per event)
and picks the best mean score; --write stores the chosen values in the weights file's
metadata (plus informational val_* metrics).
"""
import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as D  # noqa: E402
import reference_infer as R  # noqa: E402
from export import DEFAULT_OUT, fmt  # noqa: E402

T0 = time.time()


def log(msg):
    print("[%7.1fs] %s" % (time.time() - T0, msg), flush=True)


def track_metrics(ev, labels, min_pt, dm_hits):
    """dict: score (fraction of the event weight), dm_num/dm_den, ntracks, nfake."""
    pid, w = ev["particle_id"], ev["weight"].astype(np.float64)
    up, inv, pcnt = np.unique(pid, return_inverse=True, return_counts=True)
    m = labels >= 0
    t, p, ww = labels[m], inv[m], w[m]
    ntr = int(np.unique(t).size)
    out = dict(score=0.0, dm_num=0, dm_den=0, ntracks=ntr, nfake=0)
    sel = (up != 0)
    ptp = np.zeros(up.size)
    ptp[inv] = ev["pt"]
    sel &= (ptp > min_pt) & (pcnt >= dm_hits)
    out["dm_den"] = int(sel.sum())
    if ntr == 0:
        return out
    key = t.astype(np.int64) * up.size + p
    uk, kinv, kcnt = np.unique(key, return_inverse=True, return_counts=True)
    kw = np.bincount(kinv, weights=ww)
    kt, kp = uk // up.size, uk % up.size
    o = np.lexsort((kp, -kcnt, kt))  # per track: most hits first, ties lowest particle
    first = np.ones(o.size, bool)
    first[1:] = kt[o][1:] != kt[o][:-1]
    maj = o[first]
    tsize = np.bincount(t)[kt[maj]]
    c = kcnt[maj]
    real = up[kp[maj]] != 0
    good = real & (2 * c > tsize) & (2 * c > pcnt[kp[maj]])
    out["score"] = float(kw[maj][good].sum() / max(w.sum(), 1e-300))
    out["nfake"] = int((~(real & (2 * c > tsize))).sum())
    out["dm_num"] = int(sel[kp[maj][good]].sum())
    return out


def edge_metrics(ev, src, dst, min_pt):
    """(eff all, eff pT>min_pt, purity, edges/hit)."""
    n = ev["features"].shape[0]
    te = ev["edges"]
    gk = np.minimum(src, dst).astype(np.int64) * n + np.maximum(src, dst)
    tk = np.minimum(te[0], te[1]) * n + np.maximum(te[0], te[1])
    found = np.isin(tk, gk)
    hp = ev["pt"][te[0]] > min_pt
    pid = ev["particle_id"]
    same = (pid[src] == pid[dst]) & (pid[src] != 0)
    return np.array([found.sum(), tk.size, found[hp].sum(), hp.sum(), same.sum(), src.size, n],
                    np.float64)


def fmt_edges(s):
    return ("eff %.4f  eff(pT) %.4f  purity %.4f  edges/hit %.2f" %
            (s[0] / max(s[1], 1), s[2] / max(s[3], 1), s[4] / max(s[5], 1), s[5] / max(s[6], 1)))


def stage_outputs(model, p, ev):
    return R.run(model, ev["features"], p, keep=True)


def labels_for(n, r, edge_cut, junction, min_hits):
    m = r["gnn_logit"] > R.logit_threshold(edge_cut)
    s, d, lg = r["kept_src"][m], r["kept_dst"][m], r["gnn_logit"][m]
    if junction:
        j = R.junction_removal(s, d, lg)
        s, d = s[j], d[j]
    return R.track_labels(n, s, d, min_hits), s, d


def summarize(evs, outs, cfg, a):
    ec, jr, mh = cfg
    sc, num, den, ntr, nf = [], 0, 0, 0, 0
    for ev, r in zip(evs, outs):
        lab, _, _ = labels_for(ev["features"].shape[0], r, ec, jr, mh)
        t = track_metrics(ev, lab, a.min_pt, a.dm_hits)
        sc.append(t["score"])
        num += t["dm_num"]
        den += t["dm_den"]
        ntr += t["ntracks"]
        nf += t["nfake"]
    return float(np.mean(sc)), num / max(den, 1), nf / max(ntr, 1), ntr / len(evs)


def report_events(name, evs, model, p, a, scan):
    """Runs the networks once per event, prints edge metrics and the cut scan;
    returns the best (score, cfg, dm, fake)."""
    outs, st = [], np.zeros((3, 7))
    for i, ev in enumerate(evs):
        t = time.time()
        r = stage_outputs(model, p, ev)
        outs.append(r)
        st[0] += edge_metrics(ev, r["graph_src"], r["graph_dst"], a.min_pt)
        st[1] += edge_metrics(ev, r["kept_src"], r["kept_dst"], a.min_pt)
        _, s, d = labels_for(ev["features"].shape[0], r, p.edge_cut, p.junction_removal,
                             p.min_hits)
        st[2] += edge_metrics(ev, s, d, a.min_pt)
        log("%s event %d: %d hits, %.1f s" % (name, i, ev["features"].shape[0], time.time() - t))
    for k, s in zip(("graph", "filter", "gnn"), st):
        print("%s edges %-6s %s" % (name, k, fmt_edges(s)))
    cfgs = [(p.edge_cut, p.junction_removal, p.min_hits)]
    if scan:
        cfgs += [(c, j, m) for c in a.edge_cuts for j in (False, True) for m in a.min_hits_scan]
    best = None
    for cfg in cfgs:
        sc, dm, fk, nt = summarize(evs, outs, cfg, a)
        print("%s edge_cut %.2f junction %-5s min_hits %d: score %.4f  dm_eff %.4f  "
              "fake %.4f  tracks/event %.0f" % (name, cfg[0], fmt(cfg[1]), cfg[2], sc, dm, fk, nt))
        if best is None or (sc, dm) > (best[0], best[2]):
            best = (sc, cfg, dm, fk)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=DEFAULT_OUT)
    ap.add_argument("--workdir", default="/tmp/exatrkx-work")
    ap.add_argument("--events", type=int, default=5, help="validation events")
    ap.add_argument("--trackml", action="append", default=[],
                    help="TrackML event prefix (DIR/event000000001) to score as well")
    ap.add_argument("--min-pt", type=float, default=1.0)
    ap.add_argument("--dm-hits", type=int, default=5)
    ap.add_argument("--scan", action="store_true")
    ap.add_argument("--edge-cuts", type=lambda s: [float(x) for x in s.split(",")],
                    default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    ap.add_argument("--min-hits-scan", type=lambda s: [int(x) for x in s.split(",")],
                    default=[3, 4, 5])
    ap.add_argument("--write", action="store_true", help="store the best in --weights")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, p, meta = R.load_weights(a.weights)
    log("weights %s: %s" % (a.weights, p))
    evs = [D.load(f) for f in D.set_files(a.workdir, "val")[:a.events]]
    best = None
    if evs:
        best = report_events("val", evs, model, p, a, a.scan)
        print("best: edge_cut %.2f junction_removal %s min_hits %d -> score %.4f dm_eff %.4f "
              "fake %.4f" % (best[1][0], fmt(best[1][1]), best[1][2], best[0], best[2], best[3]))
    else:
        log("no validation events under %s (data.py --sets val)" % a.workdir)
    if best and a.write:
        from safetensors.torch import load_file
        from export import write  # noqa: F401  (same format)
        from safetensors.torch import save_file
        sd = load_file(a.weights)
        meta.update(edge_cut=fmt(best[1][0]), junction_removal=fmt(best[1][1]),
                    min_hits=fmt(best[1][2]), val_trackml_score="%.4f" % best[0],
                    val_dm_eff="%.4f" % best[2], val_fake_rate="%.4f" % best[3])
        tmp = a.weights + ".tmp"
        save_file(sd, tmp, metadata=meta)
        os.chmod(tmp, 0o644)
        os.replace(tmp, a.weights)
        p.edge_cut, p.junction_removal, p.min_hits = best[1]
        log("wrote the chosen values into %s" % a.weights)
    for prefix in a.trackml:
        with tempfile.TemporaryDirectory() as td:
            out = os.path.join(td, "ev.npz")
            D.convert(prefix, out)
            ev = D.load(out)
        report_events(os.path.basename(prefix), [ev], model, p, a, False)


if __name__ == "__main__":
    main()
