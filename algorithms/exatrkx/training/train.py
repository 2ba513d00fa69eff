#!/usr/bin/env python3
"""Trains the Exa.TrkX networks stage by stage on data.py's cached events.

    train.py embedding|filter|gnn [--workdir W] [--minutes M] [--steps N] [--resume]

Each stage writes WORKDIR/STAGE.pt ('model' state dict, 'sizes', 'params' it chose,
optimizer and RNG state, 'step'/'total', 'minutes', 'stamp') and can be re-run alone:
filter needs embedding.pt, gnn needs embedding.pt and filter.pt.

  embedding  metric learning on phi-sector slices (a fraction --sector of phi, with
             wrap-around) of the warm-up (mu=50) then the mu=200 events. Hinge loss on
             the squared distance d2: similar pairs d2, others relu(margin^2 - d2), over
             true edges (weight --pos-weight), hard negatives (the --hnm-k nearest of
             --hnm-queries hits, torch.cdist + topk, within margin) and random pairs;
             a pair is similar when both hits belong to the same (non-noise) particle.
             Then picks the radius: the smallest on a grid whose radius graph (with
             --knn) finds >= --target-eff of the true edges of particles with
             pT > --calib-pt on the calibration (val) events.
  filter     BCE-with-logits (pos_weight) on edges of the radius graph built with the
             trained embedding (reference_infer.radius_graph, cached under
             WORKDIR/graphs); target: same non-noise particle. Then picks filter_cut:
             the largest on a grid keeping >= --target-eff of the true edges
             (pT > --calib-pt) the graph found.
  gnn        BCE-with-logits on the edges passing the trained filter, phi-sector slices
             (--sector); target: same non-noise particle.

Steps: --steps N fixes the schedule (cosine learning rate over N steps; reproducible
with the same seed); --steps 0 (default) measures the first 20 steps and sets N to fill
--minutes (the stage's wall-time budget, setup included); the chosen N is printed so
a run can be repeated exactly. A stage always stops at --minutes.
"""
import argparse
import glob
import hashlib
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as D  # noqa: E402
import exatrkx_models as M  # noqa: E402
import reference_infer as R  # noqa: E402

T0 = time.time()


def log(msg):
    print("[%7.1fs] %s" % (time.time() - T0, msg), flush=True)


# ---------------------------------------------------------------- helpers

def same_particle(pid, s, d):
    return (pid[s] == pid[d]) & (pid[s] != 0)


def phi_sector(f, rng, frac):
    """Mask of hits in a random phi sector covering `frac` of the circle (wraps)."""
    c = rng.uniform(-1.0, 1.0)
    return np.abs((f[:, 1] - c + 1.0) % 2.0 - 1.0) < frac


def sub_edges(mask, s, d):
    """Edges with both ends in mask, renumbered to the masked hits."""
    remap = np.cumsum(mask) - 1
    m = mask[s] & mask[d]
    return remap[s[m]], remap[d[m]], m


def state_stamp(sd):
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def load_events(workdir, name, limit):
    files = D.set_files(workdir, name)[:limit] if limit else []
    if limit and not files:
        sys.exit("no '%s' events under %s/data: run data.py first" % (name, workdir))
    return [(os.path.basename(f)[:-4], D.load(f)) for f in files]


def edge_truth(ev, src, dst, min_pt):
    """(is true edge found-in-graph mask over ev['edges'] with pT > min_pt, count)."""
    n = ev["features"].shape[0]
    te = ev["edges"]
    sel = ev["pt"][te[0]] > min_pt
    gk = np.minimum(src, dst).astype(np.int64) * n + np.maximum(src, dst)
    tk = np.minimum(te[0], te[1]) * n + np.maximum(te[0], te[1])
    return np.isin(tk, gk), sel


def load_ckpt(workdir, stage):
    p = os.path.join(workdir, stage + ".pt")
    if not os.path.exists(p):
        sys.exit("%s missing: run train.py %s first" % (p, stage))
    return torch.load(p, weights_only=False)


def embedding_model(ck):
    s = ck["sizes"]
    m = M.Embedding(s["hidden"], s["nlayers"], s["dim"])
    m.load_state_dict(ck["model"])
    return m.eval()


def filter_model(ck):
    s = ck["sizes"]
    m = M.Filter(4 + s["dim"], s["filter_hidden"], s["filter_layers"])
    m.load_state_dict(ck["model"])
    return m.eval()


# ---------------------------------------------------------------- training loop

class Loop:
    """Step schedule, cosine learning rate, time budget, checkpoints, resume."""

    def __init__(self, a, stage, model, extra):
        self.a, self.stage, self.model, self.extra = a, stage, model, extra
        self.path = os.path.join(a.workdir, stage + ".pt")
        self.opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        self.step, self.total = 0, a.steps
        self.minutes_before = 0.0
        self.rng = np.random.default_rng(a.seed)
        if a.resume and os.path.exists(self.path):
            ck = torch.load(self.path, weights_only=False)
            if not ck.get("complete"):
                model.load_state_dict(ck["model"])
                self.opt.load_state_dict(ck["opt"])
                self.step, self.total = ck["step"], ck["total"]
                self.minutes_before = ck["minutes"]
                self.rng.bit_generator.state = ck["np_rng"]
                torch.set_rng_state(ck["torch_rng"])
                log("%s: resuming at step %d of %d" % (stage, self.step, self.total))
        self.t_start = time.time()
        self.t_save = time.time()
        self.losses = []

    def lr(self):
        prog = min(1.0, self.step / self.total) if self.total else 0.0
        w = min(1.0, (self.step + 1) / 50.0)
        return self.a.lr * w * (0.05 + 0.475 * (1 + math.cos(math.pi * prog)))

    def budget_left(self):
        return self.a.minutes * 60.0 - (time.time() - T0)

    def run(self, step_fn):
        """Calls step_fn(step, total, rng) -> loss tensor until done or out of time."""
        t_first = None
        auto = self.total == 0
        while self.total == 0 or self.step < self.total:
            if self.budget_left() <= 0:
                log("%s: time budget (%.1f min) reached at step %d" %
                    (self.stage, self.a.minutes, self.step))
                break
            for g in self.opt.param_groups:
                g["lr"] = self.lr()
            self.model.train()
            loss = step_fn(self.step, max(self.total, 1), self.rng)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.losses.append(float(loss.detach()))
            self.step += 1
            if self.step in (5, 25, 100, 400) and auto:
                if t_first is not None:  # re-estimate the steps that fill the budget
                    per = (time.time() - t_first[1]) / (self.step - t_first[0])
                    self.total = max(self.step + 25,
                                     int(self.step + self.budget_left() * 0.97 / per))
                    log("%s: %.3f s/step -> %d steps (pass --steps %d to repeat this run)" %
                        (self.stage, per, self.total, self.total))
                t_first = (self.step, time.time())
            if self.step % self.a.log_every == 0:
                log("%s step %d/%d loss %.5f lr %.2e" %
                    (self.stage, self.step, self.total, np.mean(self.losses[-self.a.log_every:]),
                     self.lr()))
            if time.time() - self.t_save > 120:
                self.save(False)
        self.save(self.total > 0 and self.step >= self.total)

    def save(self, complete):
        sd = self.model.state_dict()
        ck = dict(self.extra, model=sd, opt=self.opt.state_dict(), step=self.step,
                  total=self.total, complete=complete, seed=self.a.seed,
                  minutes=self.minutes_before + (time.time() - self.t_start) / 60.0,
                  np_rng=self.rng.bit_generator.state, torch_rng=torch.get_rng_state(),
                  stamp=state_stamp(sd))
        tmp = self.path + ".tmp"
        torch.save(ck, tmp)
        os.replace(tmp, self.path)
        self.t_save = time.time()
        self.ckpt = ck


def pick_event(step, total, rng, warm, train, warm_frac):
    pool = warm if (warm and step < warm_frac * total) or not train else train
    return pool[rng.integers(len(pool))][1]


# ---------------------------------------------------------------- embedding

def embedding_stage(a, warm, train, calib):
    torch.manual_seed(a.seed)
    model = M.Embedding(a.emb_hidden, a.emb_layers, a.emb_dim)
    sizes = dict(hidden=a.emb_hidden, nlayers=a.emb_layers, dim=a.emb_dim)
    loop = Loop(a, "embedding", model, dict(sizes=sizes, events=len(warm) + len(train)))
    m2 = a.margin * a.margin

    def step(i, total, rng):
        ev = pick_event(i, total, rng, warm, train, a.warm_frac)
        f, pid = ev["features"], ev["particle_id"]
        mask = phi_sector(f, rng, a.sector)
        n = int(mask.sum())
        ts, td, _ = sub_edges(mask, ev["edges"][0], ev["edges"][1])
        p = pid[mask]
        y = model(M.node_inputs(torch.from_numpy(f[mask])))
        with torch.no_grad():
            q = rng.choice(n, min(n, a.hnm_queries), replace=False)
            dist = torch.cdist(y[q], y)
            dist[torch.arange(q.size), torch.from_numpy(q)] = float("inf")
            dk, jk = dist.topk(min(a.hnm_k, n - 1), dim=1, largest=False)
            keep = (dk < a.margin).numpy()
            hi = np.repeat(q, keep.shape[1]).reshape(keep.shape)[keep]
            hj = jk.numpy()[keep]
        nr = a.random_pairs * n
        ri, rj = rng.integers(n, size=nr), rng.integers(n, size=nr)
        I = np.concatenate([ts, hi, ri])
        J = np.concatenate([td, hj, rj])
        sim = same_particle(p, I, J)
        w = np.ones(I.size, np.float32)
        w[:ts.size] = a.pos_weight
        w[I == J] = 0.0
        d2 = (y[torch.from_numpy(I)] - y[torch.from_numpy(J)]).square().sum(1)
        simt = torch.from_numpy(sim)
        lo = torch.where(simt, d2, F.relu(m2 - d2))
        wt = torch.from_numpy(w)
        return (lo * wt).sum() / wt.sum()

    loop.run(step)
    model.eval()
    # radius calibration: ascending radii until the target efficiency is reached
    grid = a.margin * np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2,
                                1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0])
    ys = [(ev, R.embed(model, ev["features"])) for _, ev in calib]
    kbest = None
    for r in grid if not a.radius else []:
        st = np.zeros(4)
        for ev, y in ys:
            f = ev["features"]
            s, t = R.radius_graph(y, f, r, a.knn, "kdtree")
            found, sel = edge_truth(ev, s, t, a.calib_pt)
            st += (found[sel].sum(), sel.sum(), s.size, f.shape[0])
        eff = st[0] / max(st[1], 1)
        log("radius %.4f: true-edge eff (pT > %.2f) %.4f, edges/hit %.2f" %
            (r, a.calib_pt, eff, st[2] / max(st[3], 1)))
        kbest = r
        if eff >= a.target_eff:
            break
    radius = float(a.radius) if a.radius else float(kbest)
    loop.extra["params"] = {"radius": radius, "knn": a.knn}
    loop.save(loop.ckpt["complete"])
    log("embedding: radius %.4f knn %d" % (radius, a.knn))


# ---------------------------------------------------------------- graphs for later stages

def event_graph(a, ecf, name, ev, fmodel=None, fstamp=None):
    """Radius graph (+ node features g, labels) of ev with the embedding checkpoint,
    cached in WORKDIR/graphs; with a filter model also its logits."""
    radius, knn = ecf["params"]["radius"], ecf["params"]["knn"]
    stamp = "%s-%.6f-%d" % (ecf["stamp"], radius, knn)
    path = os.path.join(a.workdir, "graphs", name + ".npz")
    g = None
    if os.path.exists(path):
        z = np.load(path)
        if str(z["stamp"]) == stamp:
            g = {k: z[k] for k in z.files}
    if g is None:
        emb = embedding_model(ecf)
        f = ev["features"]
        y = R.embed(emb, f)
        s, d = R.radius_graph(y, f, radius, knn, "kdtree")
        g = dict(stamp=stamp, y=y, src=s.astype(np.int32), dst=d.astype(np.int32))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.savez(path, **g)
    g["g"] = R.node_features(ev["features"], g["y"])
    g["f"] = torch.from_numpy(np.ascontiguousarray(ev["features"], np.float32))
    g["label"] = same_particle(ev["particle_id"], g["src"], g["dst"])
    if fmodel is not None:
        key = "flogit_" + fstamp
        if key not in g:
            g[key] = R.filter_logits(fmodel, g["g"], ev["features"], g["src"].astype(np.int64),
                                     g["dst"].astype(np.int64), 262144)
        g["flogit"] = g[key]
    return g


def build_graphs(a, ecf, events, fmodel=None, fstamp=None):
    out = []
    for name, ev in events:
        g = event_graph(a, ecf, name, ev, fmodel, fstamp)
        out.append((name, ev, g))
        log("graph %s: %d hits, %d edges (%.2f/hit), same-particle %.3f" %
            (name, ev["features"].shape[0], g["src"].size,
             g["src"].size / max(1, ev["features"].shape[0]), g["label"].mean()))
    return out


def named(prefix, events):
    return [(prefix + "-" + n, e) for n, e in events]


# ---------------------------------------------------------------- filter

def filter_stage(a, warm, train, calib):
    ecf = load_ckpt(a.workdir, "embedding")
    if a.radius:
        ecf["params"]["radius"] = a.radius
    sizes = dict(ecf["sizes"], filter_hidden=a.filter_hidden, filter_layers=a.filter_layers)
    gw = build_graphs(a, ecf, named("warmup", warm))
    gt = build_graphs(a, ecf, named("train", train))
    torch.manual_seed(a.seed)
    model = M.Filter(4 + sizes["dim"], a.filter_hidden, a.filter_layers)
    loop = Loop(a, "filter", model, dict(sizes=sizes, events=len(warm) + len(train)))
    pw = torch.tensor(a.bce_pos_weight)

    def step(i, total, rng):
        _, _, g = pick_event(i, total, rng, [(0, x) for x in gw], [(0, x) for x in gt],
                             a.warm_frac)
        e = rng.integers(g["src"].size, size=min(a.batch_edges, g["src"].size))
        s = torch.from_numpy(g["src"][e].astype(np.int64))
        d = torch.from_numpy(g["dst"][e].astype(np.int64))
        lab = torch.from_numpy(g["label"][e].astype(np.float32))
        lg = model(g["g"], g["f"], s, d)
        return F.binary_cross_entropy_with_logits(lg, lab, pos_weight=pw)

    loop.run(step)
    model.eval()
    cuts = np.array([0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5])
    st = np.zeros((cuts.size, 5))
    for name, ev, g in build_graphs(a, ecf, named("val", calib)):
        lg = R.filter_logits(model, g["g"], ev["features"], g["src"].astype(np.int64),
                             g["dst"].astype(np.int64), 262144)
        fg, _ = edge_truth(ev, g["src"], g["dst"], a.calib_pt)
        for k, c in enumerate(cuts):
            m = lg > R.logit_threshold(c)
            found, sel = edge_truth(ev, g["src"][m], g["dst"][m], a.calib_pt)
            st[k] += (found[sel].sum(), fg[sel].sum(), m.sum(), g["label"][m].sum(),
                      ev["features"].shape[0])
    kbest = 0
    for k, c in enumerate(cuts):
        if st[k, 0] >= a.target_eff * st[k, 1]:
            kbest = k
    for k, c in enumerate(cuts):
        log("filter_cut %.2f: true-edge eff vs graph %.4f, edges/hit %.2f, purity %.3f%s" %
            (c, st[k, 0] / max(st[k, 1], 1), st[k, 2] / max(st[k, 4], 1),
             st[k, 3] / max(st[k, 2], 1), " <-" if k == kbest else ""))
    cut = float(a.filter_cut) if a.filter_cut else float(cuts[kbest])
    loop.extra["params"] = {"filter_cut": cut}
    loop.save(loop.ckpt["complete"])
    log("filter: filter_cut %.3f" % cut)


# ---------------------------------------------------------------- gnn

def gnn_stage(a, warm, train, calib):
    ecf = load_ckpt(a.workdir, "embedding")
    if a.radius:
        ecf["params"]["radius"] = a.radius
    fcf = load_ckpt(a.workdir, "filter")
    fmodel = filter_model(fcf)
    cut = R.logit_threshold(a.filter_cut or fcf["params"]["filter_cut"])
    sizes = dict(fcf["sizes"], gnn_hidden=a.gnn_hidden, gnn_iters=a.gnn_iters)

    def kept(graphs):
        out = []
        for name, ev, g in graphs:
            m = g["flogit"] > cut
            out.append((0, dict(g=g["g"], src=g["src"][m].astype(np.int64),
                                dst=g["dst"][m].astype(np.int64), label=g["label"][m],
                                f=ev["features"], ft=g["f"])))
            log("filtered %s: %d edges (%.2f/hit), same-particle %.3f" %
                (name, m.sum(), m.sum() / ev["features"].shape[0], g["label"][m].mean()))
        return out

    kw = kept(build_graphs(a, ecf, named("warmup", warm), fmodel, fcf["stamp"]))
    kt = kept(build_graphs(a, ecf, named("train", train), fmodel, fcf["stamp"]))
    torch.manual_seed(a.seed)
    model = M.InteractionGNN(4 + sizes["dim"], a.gnn_hidden, a.gnn_iters)
    loop = Loop(a, "gnn", model, dict(sizes=sizes, events=len(warm) + len(train)))
    pw = torch.tensor(a.bce_pos_weight)

    def step(i, total, rng):
        g = pick_event(i, total, rng, kw, kt, a.warm_frac)
        mask = phi_sector(g["f"], rng, a.sector)
        s, d, m = sub_edges(mask, g["src"], g["dst"])
        lab = torch.from_numpy(g["label"][m].astype(np.float32))
        tm = torch.from_numpy(mask)
        lg = model(g["g"][tm], g["ft"][tm], torch.from_numpy(s), torch.from_numpy(d))
        return F.binary_cross_entropy_with_logits(lg, lab, pos_weight=pw)

    loop.run(step)
    model.eval()
    for _, g in kept(build_graphs(a, ecf, named("val", calib), fmodel, fcf["stamp"])):
        with torch.no_grad():
            lg = model(g["g"], g["ft"], torch.from_numpy(g["src"]),
                       torch.from_numpy(g["dst"])).numpy()
        lab = g["label"]
        for c in (0.3, 0.5, 0.7):
            m = lg > R.logit_threshold(c)
            log("gnn edge_cut %.1f: same-particle eff %.4f purity %.4f" %
                (c, (m & lab).sum() / max(lab.sum(), 1), (m & lab).sum() / max(m.sum(), 1)))
    loop.extra["params"] = {}
    loop.save(loop.ckpt["complete"])


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("embedding", "filter", "gnn"))
    ap.add_argument("--workdir", default="/tmp/exatrkx-work")
    ap.add_argument("--minutes", type=float, default=20.0, help="wall-time budget of the stage")
    ap.add_argument("--steps", type=int, default=0, help="0: fill --minutes")
    ap.add_argument("--resume", action="store_true", help="continue an unfinished stage")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=None, help="default 2e-3 embedding, 1e-3 else")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--train-events", type=int, default=40)
    ap.add_argument("--warmup-events", type=int, default=20)
    ap.add_argument("--calib-events", type=int, default=2, help="val events for calibration")
    ap.add_argument("--warm-frac", type=float, default=0.25,
                    help="fraction of steps on the warm-up (mu=50) events")
    ap.add_argument("--sector", type=float, default=None,
                    help="phi fraction per step (default 1/16 embedding, 1/4 gnn)")
    ap.add_argument("--emb-hidden", type=int, default=96)
    ap.add_argument("--emb-layers", type=int, default=3)
    ap.add_argument("--emb-dim", type=int, default=8)
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--pos-weight", type=float, default=2.0, help="embedding true-edge weight")
    ap.add_argument("--hnm-queries", type=int, default=3072)
    ap.add_argument("--hnm-k", type=int, default=48)
    ap.add_argument("--random-pairs", type=int, default=2, help="x hits in the slice")
    ap.add_argument("--knn", type=int, default=40)
    ap.add_argument("--radius", type=float, default=None, help="fix instead of calibrating")
    ap.add_argument("--target-eff", type=float, default=None,
                    help="calibration target (default 0.92 radius, 0.99 filter_cut)")
    ap.add_argument("--calib-pt", type=float, default=0.5, help="GeV")
    ap.add_argument("--filter-hidden", type=int, default=64)
    ap.add_argument("--filter-layers", type=int, default=3)
    ap.add_argument("--filter-cut", type=float, default=None, help="fix instead of calibrating")
    ap.add_argument("--batch-edges", type=int, default=65536)
    ap.add_argument("--bce-pos-weight", type=float, default=2.0)
    ap.add_argument("--gnn-hidden", type=int, default=32)
    ap.add_argument("--gnn-iters", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.lr is None:
        a.lr = 2e-3 if a.stage == "embedding" else 1e-3
    if a.sector is None:
        a.sector = 0.0625 if a.stage == "embedding" else 0.25
    if a.target_eff is None:
        a.target_eff = 0.92 if a.stage == "embedding" else 0.99
    os.makedirs(a.workdir, exist_ok=True)
    warm = load_events(a.workdir, "warmup", a.warmup_events)
    train = load_events(a.workdir, "train", a.train_events)
    calib = load_events(a.workdir, "val", a.calib_events)
    log("%s: %d warm-up, %d train, %d calibration events" %
        (a.stage, len(warm), len(train), len(calib)))
    {"embedding": embedding_stage, "filter": filter_stage, "gnn": gnn_stage}[a.stage](
        a, warm, train, calib)
    log("%s done" % a.stage)


if __name__ == "__main__":
    main()
