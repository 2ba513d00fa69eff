#!/usr/bin/env python3
"""Simulated TrackML-geometry events for Exa.TrkX training, cached as .npz.

Runs `trk gen -d trackml -f csv` per set, converts every event to
WORKDIR/data/SET/eventNNNNNNNNN.npz and (unless --keep-csv) deletes the CSVs. Each npz:
  hit_id    int64 [N]   TrackML hit id (1-based)
  features  float32 [N,3] (r/1000, phi/pi, z/1000), mm
  particle_id int64 [N] 0 = noise
  pt        float32 [N] transverse momentum of the hit's particle (GeV; 0 for noise)
  nhits     int32 [N]   hits of the hit's particle in the event (0 for noise)
  weight    float32 [N] TrackML hit weight (truth.csv)
  vz        float32 [N] production z of the hit's particle (mm)
  eta       float32 [N] pseudorapidity of the hit's particle
  edges     int64 [2,E] truth edges: consecutive hits of each non-noise particle ordered
                        by f0^2 + f2^2, directed as exatrkx_models.orient
Sets (mu, events, seed; seeds fixed and distinct): train (200, 40, 1001), warmup (50, 20,
2001), val (200, 5, 3001), golden (10, 1, 4001).
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_infer import features_from_xyz, orient_np  # noqa: E402

SETS = {"train": (200, 40, 1001), "warmup": (50, 20, 2001), "val": (200, 5, 3001),
        "golden": (10, 1, 4001)}
T0 = time.time()


def log(msg):
    print("[%7.1fs] %s" % (time.time() - T0, msg), flush=True)


def default_trk():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("TRK", os.path.join(here, "..", "..", "..", "build", "bin", "trk"))


def truth_edges(features, pid):
    """Consecutive hits of each non-noise particle by rho = f0^2 + f2^2, oriented."""
    f = features.astype(np.float32)
    rho = f[:, 0] * f[:, 0] + f[:, 2] * f[:, 2]
    idx = np.lexsort((np.arange(pid.size), rho, pid))
    p = pid[idx]
    m = (p[:-1] == p[1:]) & (p[:-1] != 0)
    a, b = orient_np(idx[:-1][m], idx[1:][m], f)
    return np.stack([a, b]).astype(np.int64)


def convert(prefix, out):
    """One TrackML event (prefix-hits.csv etc.) -> npz at out."""
    import pandas as pd
    def rd(kind):
        p = prefix + "-%s.csv" % kind
        return pd.read_csv(p if os.path.exists(p) else p + ".gz")
    h = rd("hits").sort_values("hit_id")
    t = rd("truth").set_index("hit_id").loc[h.hit_id]
    pa = rd("particles").set_index("particle_id")
    pid = t.particle_id.to_numpy(np.int64)
    f = features_from_xyz(h.x.to_numpy(np.float32), h.y.to_numpy(np.float32),
                          h.z.to_numpy(np.float32))
    nz = pid != 0
    pt = np.zeros(pid.size, np.float32)
    vz = np.zeros(pid.size, np.float32)
    eta = np.zeros(pid.size, np.float32)
    pp = pa.reindex(pid[nz]).fillna(0.0)  # real TrackML: a few ids may be missing
    px, py, pz = (pp[c].to_numpy(np.float64) for c in ("px", "py", "pz"))
    ptv = np.hypot(px, py)
    pt[nz] = ptv
    vz[nz] = pp.vz.to_numpy(np.float32)
    eta[nz] = np.arcsinh(pz / np.maximum(ptv, 1e-12))
    u, inv, cnt = np.unique(pid, return_inverse=True, return_counts=True)
    nh = cnt[inv].astype(np.int32)
    nh[~nz] = 0
    np.savez(out, hit_id=h.hit_id.to_numpy(np.int64), features=f, particle_id=pid,
             pt=pt, nhits=nh, weight=t.weight.to_numpy(np.float32), vz=vz, eta=eta,
             edges=truth_edges(f, pid))
    return pid.size


def make_set(name, mu, n, seed, workdir, trk, keep_csv=False, threads=1):
    """Generates and converts set `name` unless its npz files already exist."""
    d = os.path.join(workdir, "data", name)
    have = sorted(glob.glob(os.path.join(d, "*.npz")))
    if len(have) >= n:
        log("%s: %d events cached in %s" % (name, len(have), d))
        return have[:n]
    csv = os.path.join(workdir, "csv", name)
    os.makedirs(csv, exist_ok=True)
    os.makedirs(d, exist_ok=True)
    cmd = [trk, "gen", "-d", "trackml", "-p", str(mu), "-n", str(n), "-s", str(seed),
           "-f", "csv", "-o", csv, "-q", "-j", str(threads)]
    log("%s: %s" % (name, " ".join(cmd)))
    subprocess.run(cmd, check=True)
    out = []
    for hits in sorted(glob.glob(os.path.join(csv, "event*-hits.csv*"))):
        prefix = hits.split("-hits.csv")[0]
        o = os.path.join(d, os.path.basename(prefix) + ".npz")
        nh = convert(prefix, o)
        out.append(o)
        log("%s: %s %d hits" % (name, os.path.basename(o), nh))
    if not keep_csv:
        shutil.rmtree(csv)
    return out[:n]


def load(path):
    """dict of numpy arrays of one cached event."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def set_files(workdir, name):
    return sorted(glob.glob(os.path.join(workdir, "data", name, "*.npz")))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/exatrkx-work")
    ap.add_argument("--trk", default=default_trk(), help="trk binary (or $TRK)")
    ap.add_argument("--sets", default="warmup,train,val,golden")
    for s, (mu, n, seed) in SETS.items():
        ap.add_argument("--%s-events" % s, type=int, default=n)
    ap.add_argument("--keep-csv", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="trk gen threads")
    a = ap.parse_args()
    for s in a.sets.split(","):
        mu, _, seed = SETS[s]
        make_set(s, mu, getattr(a, "%s_events" % s), seed, a.workdir, a.trk, a.keep_csv,
                 a.threads)
    log("done")


if __name__ == "__main__":
    main()
