"""trkserve Exa.TrkX networks: the exact inference math the C code reproduces.

Every function here is the reference for algorithms/exatrkx (C). Tensor names in the
weights file are this module's state_dict names (see MODEL_CARD.md); the C loader checks
every name and shape it needs.

Features (the model's FEATURES input, one row per spacepoint): f = (r/1000, phi/pi, z/1000)
with r, z in mm. Inside the networks a node is u = (f0, cos(pi f1), sin(pi f1), f2), so
nothing is discontinuous at phi = +-pi.
"""
import math

import torch
import torch.nn as nn

FORMAT = "trkserve-exatrkx-2"
EDGE_DIM = 6  # geometric edge features (edge_features)


def node_inputs(features: torch.Tensor) -> torch.Tensor:
    """[N,3] features -> [N,4] network inputs u."""
    p = features[:, 1] * math.pi
    return torch.stack([features[:, 0], torch.cos(p), torch.sin(p), features[:, 2]], dim=1)


def edge_features(f: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """[E, EDGE_DIM] geometric features of the directed edges src -> dst (src is the hit
    nearer the origin, see orient) from the raw features f = (r/1000, phi/pi, z/1000):
        dr = r_d - r_s,  dphi = phi_d - phi_s wrapped into [-1, 1) (units of pi),
        dz = z_d - z_s,  l = sqrt(dr^2 + dz^2),
        z0s = (z_s dr - dz r_s) / l (0 when l = 0): the r-z line's distance from the
              origin, ~ z0 sin(theta) for a track from the beam line,
        ps = clamp(dphi / dr, -10, 10) (0 when dr = 0): the phi slope,
        e = (10 dr, 50 dphi, 2 dz, 30 z0s, 2 ps, 7.5 (r_s + r_d) ps).
    The scales bring true edges to O(1). Every step is one float32 operation in this
    order (the C kernel exn_edge_geom repeats it)."""
    fs, fd = f[src], f[dst]
    dr = fd[:, 0] - fs[:, 0]
    dphi = fd[:, 1] - fs[:, 1]
    dphi = torch.where(dphi >= 1.0, dphi - 2.0, torch.where(dphi < -1.0, dphi + 2.0, dphi))
    dz = fd[:, 2] - fs[:, 2]
    ln = torch.sqrt(dr * dr + dz * dz)
    num = fs[:, 2] * dr - dz * fs[:, 0]
    z0s = torch.where(ln > 0.0, num / torch.where(ln > 0.0, ln, torch.ones_like(ln)),
                      torch.zeros_like(ln))
    ps = torch.where(dr != 0.0,
                     torch.clamp(dphi / torch.where(dr != 0.0, dr, torch.ones_like(dr)),
                                 -10.0, 10.0),
                     torch.zeros_like(dr))
    return torch.stack([10.0 * dr, 50.0 * dphi, 2.0 * dz, 30.0 * z0s, 2.0 * ps,
                        7.5 * (fs[:, 0] + fd[:, 0]) * ps], dim=1)


class Embedding(nn.Module):
    """u -> Linear+Tanh (hidden) x nlayers -> Linear -> dim (no activation, no norm)."""

    def __init__(self, hidden=96, nlayers=3, dim=8):
        super().__init__()
        sizes = [4] + [hidden] * nlayers + [dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, u):
        for layer in self.layers[:-1]:
            u = torch.tanh(layer(u))
        return self.layers[-1](u)


class Filter(nn.Module):
    """Edge MLP on cat(g_src, g_dst, edge_features), g = cat(u, embedding) per node.
    Hidden layers: Linear -> LayerNorm -> Tanh; the last Linear gives one logit.
    The C code splits layers.0 by columns ([0,G) src, [G,2G) dst, [2G,2G+EDGE_DIM) edge
    features), computes the node parts once per node and gathers them per edge."""

    def __init__(self, node_dim=12, hidden=64, nlayers=3):
        super().__init__()
        sizes = [2 * node_dim + EDGE_DIM] + [hidden] * nlayers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(nlayers))
        self.out = nn.Linear(hidden, 1)

    def forward(self, g, f, src, dst):
        x = torch.cat([g[src], g[dst], edge_features(f, src, dst)], dim=1)
        for layer, norm in zip(self.layers, self.norms):
            x = torch.tanh(norm(layer(x)))
        return self.out(x).squeeze(-1)


class MLP(nn.Module):
    """Linear -> LayerNorm -> ReLU for every layer (the GNN's building block)."""

    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(b) for b in sizes[1:])

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = torch.relu(norm(layer(x)))
        return x


def scatter_sum(values, index, n):
    out = torch.zeros(n, values.shape[1], dtype=values.dtype, device=values.device)
    return out.index_add_(0, index, values)


def scatter_max(values, index, n):
    """Max over the rows sent to each node; 0 for a node that receives none."""
    out = torch.zeros(n, values.shape[1], dtype=values.dtype, device=values.device)
    return out.index_reduce_(0, index, values, "amax", include_self=False)


class InteractionGNN(nn.Module):
    """Interaction network on directed edges src -> dst (src is the hit nearer the
    origin). Node input g = cat(u, embedding); f the raw features (edge_features).
        x = node_enc(g);  e = edge_enc(cat(x_src, x_dst, edge_features(f, src, dst)))
        repeat iters times (shared weights):
            x = x + node_net(cat(x, sum_in(e), max_in(e), sum_out(e), max_out(e)))
            e = e + edge_net(cat(x_src, x_dst, e))
        logit = out_head(cat(x_src, x_dst, e))
    *_in aggregate over the edges whose dst is the node, *_out over those whose src is.
    out_head: Linear -> LayerNorm -> ReLU, then out_final Linear -> 1."""

    def __init__(self, node_dim=12, hidden=32, iters=4):
        super().__init__()
        h = hidden
        self.iters = iters
        self.node_enc = MLP([node_dim, h, h])
        self.edge_enc = MLP([2 * h + EDGE_DIM, h, h])
        self.node_net = MLP([5 * h, h, h])
        self.edge_net = MLP([3 * h, h, h])
        self.out_head = MLP([3 * h, h])
        self.out_final = nn.Linear(h, 1)

    def forward(self, g, f, src, dst):
        n = g.shape[0]
        x = self.node_enc(g)
        e = self.edge_enc(torch.cat([x[src], x[dst], edge_features(f, src, dst)], dim=1))
        for _ in range(self.iters):
            agg = torch.cat([x, scatter_sum(e, dst, n), scatter_max(e, dst, n),
                             scatter_sum(e, src, n), scatter_max(e, src, n)], dim=1)
            x = x + self.node_net(agg)
            e = e + self.edge_net(torch.cat([x[src], x[dst], e], dim=1))
        return self.out_final(self.out_head(torch.cat([x[src], x[dst], e], dim=1))).squeeze(-1)


def orient(src, dst, features):
    """Directs every edge from the hit nearer the origin (r^2 + z^2 of the features,
    ties: the lower index) to the farther one."""
    rho = features[:, 0] ** 2 + features[:, 2] ** 2
    a, b = rho[src], rho[dst]
    swap = (a > b) | ((a == b) & (src > dst))
    return torch.where(swap, dst, src), torch.where(swap, src, dst)
