/* trkserve — scoring: TrackML score, track efficiency/fake/duplicate rates under two
 * matching rules, CMS cluster → particle truth, vertex efficiency/merge/split.
 *
 * TrackML score, as defined by the challenge (S. Amrouche et al., "The Tracking
 * Machine Learning challenge: Accuracy phase", arXiv:1904.06778, the score section) and
 * implemented by the reference trackml-library (github.com/LAL/trackml-library,
 * trackml/score.py: _analyze_tracks + score_event), which this code follows:
 *   - truth and submission are joined on hit; rows sorted by (track_id, particle_id);
 *     for each track the majority particle is the particle with most hits in it,
 *     ties going to the first one in that order (the update is `maj_nhits <
 *     cur_nhits`, strict), i.e. the lowest particle_id; noise (particle_id 0) is an
 *     ordinary group there and sorts first;
 *   - the particle's hit count is counted from the truth hits of the event
 *     (truth['particle_id'].value_counts()), not from particles.csv nhits;
 *   - a track is good when 0.5 < major_nhits / nhits and 0.5 < major_nhits /
 *     major_particle_nhits (both strict); the score sums the weights of the majority
 *     particle's hits in good tracks, divided by the total truth weight.
 * Here particles are indices (noise -1 sorts first, like particle_id 0), the score is
 * returned unnormalised with the total weight beside it, a noise-majority track
 * contributes 0 (the reference adds the noise hits' weights, which TrackML sets to 0),
 * and label -1 means "in no track" (the reference requires every hit labelled). Tie
 * breaking cannot change the score: a tied majority holds at most half the hits.
 *
 * The CMS rule (≥ 75% of the track's hits from one particle) is the reco → sim
 * association of the CMS MultiTrackValidator: cmssw SimTracker/TrackAssociatorProducers/
 * python/quickTrackAssociatorByHits_cfi.py, Cut_RecoToSim = 0.75 on shared hits / track
 * hits, compared with >= (ThreeHitTracksAreSpecial, 3 of 3 hits, follows from it). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trk/log.h"
#include "trk/score.h"

const char *trk_score_rule_name(enum trk_score_rule r)
{
    switch (r) {
    case TRK_SCORE_DOUBLE_MAJORITY:
        return "double_majority";
    case TRK_SCORE_CMS75:
        return "cms75";
    default:
        return "?";
    }
}

void trk_score_config_default(struct trk_score_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->min_pt = 0.5;
    cfg->max_eta = 4.0;
    cfg->min_hits = 3;
    cfg->vertex_z_window = 1.0;
    cfg->vertex_min_particles = 2;
    cfg->vertex_rule = TRK_SCORE_DOUBLE_MAJORITY;
}

void trk_score_result_init(struct trk_score_result *acc, const struct trk_score_config *cfg)
{
    if (!acc)
        return;
    memset(acc, 0, sizeof *acc);
    if (cfg)
        acc->cfg = *cfg;
    else
        trk_score_config_default(&acc->cfg);
}

static void add_track_counts(struct trk_score_track_counts *a,
                             const struct trk_score_track_counts *b)
{
    a->particles += b->particles;
    a->matched += b->matched;
    a->duplicated += b->duplicated;
    a->tracks += b->tracks;
    a->fake += b->fake;
    for (int i = 0; i < TRK_SCORE_PT_BINS; i++) {
        a->pt_total[i] += b->pt_total[i];
        a->pt_matched[i] += b->pt_matched[i];
        a->pt_duplicated[i] += b->pt_duplicated[i];
    }
    for (int i = 0; i < TRK_SCORE_ETA_BINS; i++) {
        a->eta_total[i] += b->eta_total[i];
        a->eta_matched[i] += b->eta_matched[i];
        a->eta_duplicated[i] += b->eta_duplicated[i];
    }
}

void trk_score_result_add(struct trk_score_result *acc, const struct trk_score_result *more)
{
    if (!acc || !more)
        return;
    acc->events += more->events;
    acc->trackml_events += more->trackml_events;
    acc->trackml_skipped += more->trackml_skipped;
    acc->trackml_sum += more->trackml_sum;
    acc->trackml_weight += more->trackml_weight;
    acc->trackml_norm_sum += more->trackml_norm_sum;
    acc->trackml_unit_weights = acc->trackml_unit_weights || more->trackml_unit_weights;
    acc->track_events += more->track_events;
    acc->reco_hits += more->reco_hits;
    for (int r = 0; r < TRK_SCORE_NRULES; r++)
        add_track_counts(&acc->rule[r], &more->rule[r]);
    acc->vertex_events += more->vertex_events;
    struct trk_score_vertex_counts *a = &acc->vtx;
    const struct trk_score_vertex_counts *b = &more->vtx;
    a->truth += b->truth;
    a->truth_reconstructable += b->truth_reconstructable;
    a->truth_matched += b->truth_matched;
    a->truth_split += b->truth_split;
    a->reco += b->reco;
    a->reco_fake += b->reco_fake;
    a->reco_merged += b->reco_merged;
    a->events_by_tracks += b->events_by_tracks;
    a->events_by_z += b->events_by_z;
}

double trk_score_ratio(uint64_t k, uint64_t n, double *err)
{
    if (n == 0) {
        if (err)
            *err = 0.0;
        return 0.0;
    }
    double e = (double)k / (double)n;
    if (err)
        *err = sqrt(e * (1.0 - e) / (double)n);
    return e;
}

double trk_score_pt_edge(int i)
{
    return TRK_SCORE_PT_LO * pow(10.0, (double)i * 3.0 / TRK_SCORE_PT_BINS);
}

double trk_score_eta_edge(int i)
{
    return TRK_SCORE_ETA_LO + (TRK_SCORE_ETA_HI - TRK_SCORE_ETA_LO) * i / TRK_SCORE_ETA_BINS;
}

static int pt_bin(double pt)
{
    if (!(pt >= TRK_SCORE_PT_LO) || !(pt < TRK_SCORE_PT_HI))
        return -1;
    int i = (int)floor(log10(pt / TRK_SCORE_PT_LO) * TRK_SCORE_PT_BINS / 3.0);
    return i < 0 ? 0 : i >= TRK_SCORE_PT_BINS ? TRK_SCORE_PT_BINS - 1 : i;
}

static int eta_bin(double eta)
{
    if (!(eta >= TRK_SCORE_ETA_LO) || !(eta < TRK_SCORE_ETA_HI))
        return -1;
    int i = (int)floor((eta - TRK_SCORE_ETA_LO) / (TRK_SCORE_ETA_HI - TRK_SCORE_ETA_LO) *
                       TRK_SCORE_ETA_BINS);
    return i < 0 ? 0 : i >= TRK_SCORE_ETA_BINS ? TRK_SCORE_ETA_BINS - 1 : i;
}

static void kinematics(const float *p, double *pt, double *eta)
{
    double px = p[0], py = p[1], pz = p[2];
    *pt = sqrt(px * px + py * py);
    *eta = *pt > 0 ? asinh(pz / *pt) : (pz > 0 ? INFINITY : pz < 0 ? -INFINITY : NAN);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* ---- TrackML score ---------------------------------------------------------- */

struct tml_row {
    int32_t track, particle;
    double weight;
};

static int cmp_tml_row(const void *a, const void *b)
{
    const struct tml_row *x = a, *y = b;
    if (x->track != y->track)
        return (x->track > y->track) - (x->track < y->track);
    return (x->particle > y->particle) - (x->particle < y->particle);
}

enum trk_status trk_score_trackml(size_t nhits, const int32_t *hit_particle,
                                  const float *hit_weight, const int32_t *hit_track,
                                  double *score, double *total_weight)
{
    if ((nhits && (!hit_particle || !hit_track)) || !score) {
        TRK_LOGE("hit_particle, hit_track and score are required");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    uint32_t *pcount = NULL;
    struct tml_row *rows = NULL;
    int32_t maxp = -1;
    size_t nrows = 0;
    double total = 0.0, sum = 0.0;

    for (size_t i = 0; i < nhits; i++) {
        if (hit_particle[i] < -1) {
            TRK_LOGE("hit_particle[%zu] = %" PRId32 ": must be -1 (noise) or a particle index",
                     i, hit_particle[i]);
            return TRK_ERR_INVALID_ARG;
        }
        if (hit_track[i] < -1) {
            TRK_LOGE("hit_track[%zu] = %" PRId32 ": track labels are >= 0, or -1 for a hit "
                     "in no track", i, hit_track[i]);
            return TRK_ERR_INVALID_ARG;
        }
        if (hit_particle[i] > maxp)
            maxp = hit_particle[i];
        if (hit_track[i] >= 0)
            nrows++;
    }
    pcount = calloc((size_t)maxp + 2, sizeof *pcount);
    rows = malloc((nrows ? nrows : 1) * sizeof *rows);
    if (!pcount || !rows) {
        st = TRK_ERR_NO_MEMORY;
        goto done;
    }
    nrows = 0;
    for (size_t i = 0; i < nhits; i++) {
        int32_t p = hit_particle[i];
        double w = hit_weight ? (double)hit_weight[i] : (p >= 0 ? 1.0 : 0.0);
        total += w;
        if (p >= 0)
            pcount[p]++;
        if (hit_track[i] >= 0)
            rows[nrows++] = (struct tml_row){hit_track[i], p, w};
    }
    qsort(rows, nrows, sizeof *rows, cmp_tml_row);

    for (size_t i = 0; i < nrows;) {
        size_t end = i;
        while (end < nrows && rows[end].track == rows[i].track)
            end++;
        /* Runs of equal particle in ascending order; the first longest wins. */
        int32_t maj = -1;
        size_t maj_n = 0;
        double maj_w = 0.0;
        for (size_t j = i; j < end;) {
            size_t k = j;
            double w = 0.0;
            while (k < end && rows[k].particle == rows[j].particle)
                w += rows[k++].weight;
            if (k - j > maj_n) {
                maj = rows[j].particle;
                maj_n = k - j;
                maj_w = w;
            }
            j = k;
        }
        size_t n = end - i;
        if (maj >= 0 && 2 * maj_n > n && 2 * (size_t)maj_n > (size_t)pcount[maj])
            sum += maj_w;
        i = end;
    }
    *score = sum;
    if (total_weight)
        *total_weight = total;
done:
    free(pcount);
    free(rows);
    return st;
}

/* ---- CMS clusters -------------------------------------------------------------- */

enum trk_status trk_score_cluster_particles(size_t ndigis, const int32_t *digi_particle,
                                            size_t nclusters, const uint32_t *offsets,
                                            const uint32_t *digis, int32_t *cluster_particle)
{
    if (nclusters && (!offsets || !cluster_particle || (ndigis && !digi_particle))) {
        TRK_LOGE("offsets, digi_particle and cluster_particle are required");
        return TRK_ERR_INVALID_ARG;
    }
    size_t maxlen = 0;
    for (size_t c = 0; c < nclusters; c++) {
        if (offsets[c + 1] < offsets[c]) {
            TRK_LOGE("cluster offsets decrease at cluster %zu (%" PRIu32 " > %" PRIu32
                     "): offsets must be non-decreasing, one more than clusters",
                     c, offsets[c], offsets[c + 1]);
            return TRK_ERR_INVALID_ARG;
        }
        if (offsets[c + 1] - offsets[c] > maxlen)
            maxlen = offsets[c + 1] - offsets[c];
    }
    int32_t *buf = malloc((maxlen ? maxlen : 1) * sizeof *buf);
    if (!buf)
        return TRK_ERR_NO_MEMORY;
    for (size_t c = 0; c < nclusters; c++) {
        size_t n = 0;
        for (uint32_t j = offsets[c]; j < offsets[c + 1]; j++) {
            uint32_t d = digis[j];
            if (d >= ndigis) {
                TRK_LOGE("cluster %zu lists digi %" PRIu32 " but there are %zu digis", c, d,
                         ndigis);
                free(buf);
                return TRK_ERR_INVALID_ARG;
            }
            if (digi_particle[d] < -1) {
                TRK_LOGE("digi_particle[%" PRIu32 "] = %" PRId32 ": must be -1 or a particle",
                         d, digi_particle[d]);
                free(buf);
                return TRK_ERR_INVALID_ARG;
            }
            buf[n++] = digi_particle[d];
        }
        qsort(buf, n, sizeof *buf, cmp_i32);
        size_t noise = 0, best_n = 0;
        int32_t best = -1;
        for (size_t j = 0; j < n;) {
            size_t k = j;
            while (k < n && buf[k] == buf[j])
                k++;
            if (buf[j] < 0)
                noise = k - j;
            else if (k - j > best_n) { /* ascending: ties keep the lowest index */
                best = buf[j];
                best_n = k - j;
            }
            j = k;
        }
        cluster_particle[c] = (best >= 0 && noise <= best_n) ? best : -1;
    }
    free(buf);
    return TRK_OK;
}

/* ---- track representations ------------------------------------------------------ */

struct label_hit {
    int32_t label;
    uint32_t hit;
};

static int cmp_label_hit(const void *a, const void *b)
{
    const struct label_hit *x = a, *y = b;
    if (x->label != y->label)
        return (x->label > y->label) - (x->label < y->label);
    return (x->hit > y->hit) - (x->hit < y->hit);
}

enum trk_status trk_score_tracks_from_labels(size_t nhits, const int32_t *hit_track,
                                             size_t *ntracks, uint32_t **offsets,
                                             uint32_t **hits, int32_t **labels)
{
    if (!ntracks || !offsets || !hits || (nhits && !hit_track)) {
        TRK_LOGE("hit_track, ntracks, offsets and hits are required");
        return TRK_ERR_INVALID_ARG;
    }
    if (nhits > UINT32_MAX) {
        TRK_LOGE("%zu hits: at most 2^32-1 supported", nhits);
        return TRK_ERR_INVALID_ARG;
    }
    *ntracks = 0;
    *offsets = NULL;
    *hits = NULL;
    if (labels)
        *labels = NULL;
    size_t n = 0;
    for (size_t i = 0; i < nhits; i++) {
        if (hit_track[i] < -1) {
            TRK_LOGE("hit_track[%zu] = %" PRId32 ": track labels are >= 0, or -1 for a hit "
                     "in no track", i, hit_track[i]);
            return TRK_ERR_INVALID_ARG;
        }
        n += hit_track[i] >= 0;
    }
    struct label_hit *lh = malloc((n ? n : 1) * sizeof *lh);
    uint32_t *h = malloc((n ? n : 1) * sizeof *h);
    uint32_t *off = NULL;
    int32_t *lab = NULL;
    if (!lh || !h)
        goto nomem;
    n = 0;
    for (size_t i = 0; i < nhits; i++)
        if (hit_track[i] >= 0)
            lh[n++] = (struct label_hit){hit_track[i], (uint32_t)i};
    qsort(lh, n, sizeof *lh, cmp_label_hit);
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        nt += i == 0 || lh[i].label != lh[i - 1].label;
    off = malloc((nt + 1) * sizeof *off);
    lab = malloc((nt ? nt : 1) * sizeof *lab);
    if (!off || !lab)
        goto nomem;
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || lh[i].label != lh[i - 1].label) {
            off[t] = (uint32_t)i;
            lab[t++] = lh[i].label;
        }
        h[i] = lh[i].hit;
    }
    off[nt] = (uint32_t)n;
    free(lh);
    *ntracks = nt;
    *offsets = off;
    *hits = h;
    if (labels)
        *labels = lab;
    else
        free(lab);
    return TRK_OK;
nomem:
    free(lh);
    free(h);
    free(off);
    free(lab);
    return TRK_ERR_NO_MEMORY;
}

/* Logs and fails unless offsets[0..ntracks] is non-decreasing and every hit < nhits. */
static enum trk_status check_tracks(size_t nhits, size_t ntracks, const uint32_t *offsets,
                                    const uint32_t *hits)
{
    if (ntracks && !offsets) {
        TRK_LOGE("%zu tracks but no offsets", ntracks);
        return TRK_ERR_INVALID_ARG;
    }
    for (size_t t = 0; t < ntracks; t++) {
        if (offsets[t + 1] < offsets[t]) {
            TRK_LOGE("track offsets decrease at track %zu (%" PRIu32 " > %" PRIu32
                     "): offsets must be non-decreasing, one more than tracks",
                     t, offsets[t], offsets[t + 1]);
            return TRK_ERR_INVALID_ARG;
        }
        for (uint32_t j = offsets[t]; j < offsets[t + 1]; j++)
            if (hits[j] >= nhits) {
                TRK_LOGE("track %zu lists hit %" PRIu32 " but the event has %zu hits", t,
                         hits[j], nhits);
                return TRK_ERR_INVALID_ARG;
            }
    }
    return TRK_OK;
}

enum trk_status trk_score_labels_from_tracks(size_t nhits, size_t ntracks,
                                             const uint32_t *offsets, const uint32_t *hits,
                                             int32_t *hit_track)
{
    if (nhits && !hit_track)
        return TRK_ERR_INVALID_ARG;
    if (ntracks > INT32_MAX) {
        TRK_LOGE("%zu tracks: at most 2^31-1 supported", ntracks);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = check_tracks(nhits, ntracks, offsets, hits);
    if (st != TRK_OK)
        return st;
    for (size_t i = 0; i < nhits; i++)
        hit_track[i] = -1;
    for (size_t t = 0; t < ntracks; t++)
        for (uint32_t j = offsets[t]; j < offsets[t + 1]; j++) {
            int32_t *ht = &hit_track[hits[j]];
            if (*ht >= 0 && *ht != (int32_t)t)
                return TRK_ERR_INVALID_ARG; /* shared hit: documented, not logged */
            *ht = (int32_t)t;
        }
    return TRK_OK;
}

/* ---- matching ----------------------------------------------------------------- */

/* Hits per particle (counts[nparticles]) from hit_particle; fails on values outside
 * [-1, nparticles). */
static enum trk_status count_particle_hits(size_t nhits, const int32_t *hit_particle,
                                           size_t nparticles, uint32_t *counts)
{
    memset(counts, 0, nparticles * sizeof *counts);
    for (size_t i = 0; i < nhits; i++) {
        int32_t p = hit_particle[i];
        if (p < -1 || (p >= 0 && (size_t)p >= nparticles)) {
            TRK_LOGE("hit_particle[%zu] = %" PRId32 ": not -1 (noise) or a particle index "
                     "< %zu (the event's particle count)", i, p, nparticles);
            return TRK_ERR_INVALID_ARG;
        }
        if (p >= 0)
            counts[p]++;
    }
    return TRK_OK;
}

enum trk_status trk_score_match_tracks(size_t nhits, const int32_t *hit_particle,
                                       size_t nparticles, size_t ntracks,
                                       const uint32_t *offsets, const uint32_t *hits,
                                       struct trk_score_track_match *out)
{
    if ((nhits && !hit_particle) || (ntracks && !out)) {
        TRK_LOGE("hit_particle and out are required");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = check_tracks(nhits, ntracks, offsets, hits);
    if (st != TRK_OK)
        return st;
    size_t maxlen = 0;
    for (size_t t = 0; t < ntracks; t++)
        if (offsets[t + 1] - offsets[t] > maxlen)
            maxlen = offsets[t + 1] - offsets[t];
    uint32_t *pcount = malloc((nparticles ? nparticles : 1) * sizeof *pcount);
    int32_t *buf = malloc((maxlen ? maxlen : 1) * sizeof *buf);
    if (!pcount || !buf) {
        st = TRK_ERR_NO_MEMORY;
        goto done;
    }
    st = count_particle_hits(nhits, hit_particle, nparticles, pcount);
    if (st != TRK_OK)
        goto done;
    for (size_t t = 0; t < ntracks; t++) {
        size_t n = 0;
        for (uint32_t j = offsets[t]; j < offsets[t + 1]; j++)
            buf[n++] = hit_particle[hits[j]];
        qsort(buf, n, sizeof *buf, cmp_i32);
        int32_t maj = -1;
        size_t maj_n = 0;
        for (size_t j = 0; j < n;) { /* first longest run: noise, then lowest index */
            size_t k = j;
            while (k < n && buf[k] == buf[j])
                k++;
            if (k - j > maj_n) {
                maj = buf[j];
                maj_n = k - j;
            }
            j = k;
        }
        struct trk_score_track_match *m = &out[t];
        m->particle = maj;
        m->nhits = (uint32_t)n;
        m->nmajor = (uint32_t)maj_n;
        bool dm = maj >= 0 && 2 * maj_n > n && 2 * maj_n > (size_t)pcount[maj];
        bool cms = maj >= 0 && 4 * maj_n >= 3 * n;
        m->matched[TRK_SCORE_DOUBLE_MAJORITY] = dm ? maj : -1;
        m->matched[TRK_SCORE_CMS75] = cms ? maj : -1;
    }
done:
    free(pcount);
    free(buf);
    return st;
}

enum trk_status trk_score_select_particles(const struct trk_score_config *cfg, size_t nhits,
                                           const int32_t *hit_particle,
                                           const struct trk_score_particles *parts,
                                           uint8_t *flags)
{
    if (!cfg || !parts || (parts->n && !flags)) {
        TRK_LOGE("cfg, parts and flags are required");
        return TRK_ERR_INVALID_ARG;
    }
    size_t np = parts->n;
    uint32_t *counts = NULL;
    if (!parts->nhits && hit_particle) {
        counts = malloc((np ? np : 1) * sizeof *counts);
        if (!counts)
            return TRK_ERR_NO_MEMORY;
        enum trk_status st = count_particle_hits(nhits, hit_particle, np, counts);
        if (st != TRK_OK) {
            free(counts);
            return st;
        }
    }
    for (size_t i = 0; i < np; i++) {
        bool charged = !parts->q || parts->q[i] != 0;
        int64_t nh = parts->nhits ? parts->nhits[i] : counts ? (int64_t)counts[i] : INT64_MAX;
        bool base = charged && nh >= cfg->min_hits;
        if (cfg->max_prod_r > 0 && parts->v)
            base = base && hypot(parts->v[3 * i], parts->v[3 * i + 1]) <= cfg->max_prod_r;
        bool pt_ok = true, eta_ok = true;
        if (parts->p) {
            double pt, eta;
            kinematics(&parts->p[3 * i], &pt, &eta);
            pt_ok = pt >= cfg->min_pt;
            eta_ok = fabs(eta) <= cfg->max_eta;
        }
        flags[i] = (uint8_t)((base && pt_ok && eta_ok ? TRK_SCORE_SEL : 0) |
                             (base && eta_ok ? TRK_SCORE_SEL_NOPT : 0) |
                             (base && pt_ok ? TRK_SCORE_SEL_NOETA : 0));
    }
    free(counts);
    return TRK_OK;
}

enum trk_status trk_score_tracks(struct trk_score_result *acc, size_t nhits,
                                 const int32_t *hit_particle,
                                 const struct trk_score_particles *parts, size_t ntracks,
                                 const uint32_t *offsets, const uint32_t *hits,
                                 struct trk_score_track_match *matches)
{
    if (!acc || !parts || (nhits && !hit_particle)) {
        TRK_LOGE("acc, parts and hit_particle are required");
        return TRK_ERR_INVALID_ARG;
    }
    size_t np = parts->n;
    enum trk_status st = TRK_OK;
    struct trk_score_track_match *m = matches;
    uint8_t *flags = malloc(np ? np : 1);
    uint32_t *nmatch = calloc((np ? np : 1) * TRK_SCORE_NRULES, sizeof *nmatch);
    if (!m)
        m = malloc((ntracks ? ntracks : 1) * sizeof *m);
    if (!flags || !nmatch || !m) {
        st = TRK_ERR_NO_MEMORY;
        goto done;
    }
    st = trk_score_select_particles(&acc->cfg, nhits, hit_particle, parts, flags);
    if (st != TRK_OK)
        goto done;
    st = trk_score_match_tracks(nhits, hit_particle, np, ntracks, offsets, hits, m);
    if (st != TRK_OK)
        goto done;
    for (int r = 0; r < TRK_SCORE_NRULES; r++) {
        struct trk_score_track_counts *c = &acc->rule[r];
        uint32_t *nm = nmatch + (size_t)r * np;
        c->tracks += ntracks;
        for (size_t t = 0; t < ntracks; t++) {
            if (m[t].matched[r] < 0)
                c->fake++;
            else
                nm[m[t].matched[r]]++;
        }
        for (size_t i = 0; i < np; i++) {
            bool found = nm[i] >= 1, dup = nm[i] >= 2;
            if (flags[i] & TRK_SCORE_SEL) {
                c->particles++;
                c->matched += found;
                c->duplicated += dup;
            }
            if (!parts->p)
                continue;
            double pt, eta;
            kinematics(&parts->p[3 * i], &pt, &eta);
            int b;
            if ((flags[i] & TRK_SCORE_SEL_NOPT) && (b = pt_bin(pt)) >= 0) {
                c->pt_total[b]++;
                c->pt_matched[b] += found;
                c->pt_duplicated[b] += dup;
            }
            if ((flags[i] & TRK_SCORE_SEL_NOETA) && (b = eta_bin(eta)) >= 0) {
                c->eta_total[b]++;
                c->eta_matched[b] += found;
                c->eta_duplicated[b] += dup;
            }
        }
    }
done:
    if (m != matches)
        free(m);
    free(flags);
    free(nmatch);
    return st;
}

/* ---- vertices ----------------------------------------------------------------- */

struct vpair {
    int32_t reco, truth;
};

static int cmp_vpair(const void *a, const void *b)
{
    const struct vpair *x = a, *y = b;
    if (x->reco != y->reco)
        return (x->reco > y->reco) - (x->reco < y->reco);
    return (x->truth > y->truth) - (x->truth < y->truth);
}

enum trk_status trk_score_vertices(struct trk_score_result *acc,
                                   const struct trk_score_vertex_input *in)
{
    if (!acc || !in || (in->ntruth && !in->truth_pos) || (in->nreco && !in->reco_z)) {
        TRK_LOGE("acc, in, truth_pos and reco_z are required");
        return TRK_ERR_INVALID_ARG;
    }
    size_t nt = in->ntruth, nr = in->nreco;
    bool by_tracks = in->track_vertex && in->track_truth_vertex;
    if (nt > INT32_MAX || nr > INT32_MAX) {
        TRK_LOGE("%zu truth / %zu reco vertices: at most 2^31-1 supported", nt, nr);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    int32_t *truth_of_reco = malloc((nr ? nr : 1) * sizeof *truth_of_reco);
    int32_t *reco_of_truth = malloc((nt ? nt : 1) * sizeof *reco_of_truth);
    uint32_t *nassigned = calloc(nt ? nt : 1, sizeof *nassigned);
    uint32_t *nbest = calloc(nr ? nr : 1, sizeof *nbest);
    struct vpair *pairs = NULL;
    uint32_t *best_n = NULL;
    if (!truth_of_reco || !reco_of_truth || !nassigned || !nbest) {
        st = TRK_ERR_NO_MEMORY;
        goto done;
    }
    for (size_t r = 0; r < nr; r++)
        truth_of_reco[r] = -1;
    for (size_t v = 0; v < nt; v++)
        reco_of_truth[v] = -1;
#define TRUTH_OK(v) (!in->truth_ok || in->truth_ok[v])

    if (by_tracks) {
        pairs = malloc((in->ntracks ? in->ntracks : 1) * sizeof *pairs);
        best_n = calloc(nt ? nt : 1, sizeof *best_n);
        if (!pairs || !best_n) {
            st = TRK_ERR_NO_MEMORY;
            goto done;
        }
        size_t np = 0;
        for (size_t t = 0; t < in->ntracks; t++) {
            int32_t r = in->track_vertex[t], v = in->track_truth_vertex[t];
            if (r < -1 || (r >= 0 && (size_t)r >= nr)) {
                TRK_LOGE("track %zu: reco vertex %" PRId32 " is not -1 or < %zu (the reco "
                         "vertices)", t, r, nr);
                st = TRK_ERR_INVALID_ARG;
                goto done;
            }
            if (v < -1 || (v >= 0 && (size_t)v >= nt)) {
                TRK_LOGE("track %zu: truth vertex %" PRId32 " is not -1 or < %zu (the truth "
                         "vertices)", t, v, nt);
                st = TRK_ERR_INVALID_ARG;
                goto done;
            }
            if (r >= 0 && v >= 0)
                pairs[np++] = (struct vpair){r, v};
        }
        qsort(pairs, np, sizeof *pairs, cmp_vpair);
        /* Runs of (reco, truth) in ascending order: strict > keeps the lowest index. */
        uint32_t cur_best = 0;
        for (size_t i = 0; i < np;) {
            size_t k = i;
            while (k < np && pairs[k].reco == pairs[i].reco && pairs[k].truth == pairs[i].truth)
                k++;
            int32_t r = pairs[i].reco, v = pairs[i].truth;
            uint32_t n = (uint32_t)(k - i);
            if (i == 0 || pairs[i - 1].reco != r)
                cur_best = 0;
            if (n > cur_best) {
                cur_best = n;
                truth_of_reco[r] = v;
            }
            if (n > best_n[v]) {
                best_n[v] = n;
                reco_of_truth[v] = r;
            }
            i = k;
        }
    } else {
        double w = acc->cfg.vertex_z_window;
        for (size_t r = 0; r < nr; r++) {
            double best = INFINITY;
            for (size_t v = 0; v < nt; v++) {
                double dz = fabs((double)in->reco_z[r] - (double)in->truth_pos[3 * v + 2]);
                if (dz <= w && dz < best) {
                    best = dz;
                    truth_of_reco[r] = (int32_t)v;
                }
            }
        }
        for (size_t v = 0; v < nt; v++) {
            if (!TRUTH_OK(v))
                continue;
            double best = INFINITY;
            for (size_t r = 0; r < nr; r++) {
                double dz = fabs((double)in->reco_z[r] - (double)in->truth_pos[3 * v + 2]);
                if (dz <= w && dz < best) {
                    best = dz;
                    reco_of_truth[v] = (int32_t)r;
                }
            }
        }
    }

    struct trk_score_vertex_counts *c = &acc->vtx;
    c->truth += nt;
    c->reco += nr;
    for (size_t r = 0; r < nr; r++) {
        if (truth_of_reco[r] < 0)
            c->reco_fake++;
        else
            nassigned[truth_of_reco[r]]++;
    }
    for (size_t v = 0; v < nt; v++) {
        if (!TRUTH_OK(v))
            continue;
        c->truth_reconstructable++;
        c->truth_matched += nassigned[v] >= 1;
        c->truth_split += nassigned[v] >= 2;
        if (reco_of_truth[v] >= 0)
            nbest[reco_of_truth[v]]++;
    }
    for (size_t r = 0; r < nr; r++)
        c->reco_merged += nbest[r] >= 2;
    if (by_tracks)
        c->events_by_tracks++;
    else
        c->events_by_z++;
#undef TRUTH_OK
done:
    free(truth_of_reco);
    free(reco_of_truth);
    free(nassigned);
    free(nbest);
    free(pairs);
    free(best_n);
    return st;
}

/* ---- event layer --------------------------------------------------------------- */

/* An optional column: *data NULL when absent; fails (logged by trk_event_column, and
 * here with which input) when present with the wrong dtype or shape. */
static enum trk_status opt_col(const struct trk_event *ev, const char *input, const char *name,
                               enum trk_dtype dt, uint32_t width, const void **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    if (!ev || !trk_event_find(ev, name))
        return TRK_OK;
    *data = trk_event_column(ev, name, dt, width, n);
    if (!*data) {
        TRK_LOGE("%s: column '%s' must be %s%s (see trk/event.h)", input, name,
                 trk_dtype_name(dt), width == 3 ? " [n,3]" : " [n]");
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

#define OPT(ev, input, name, dt, width, ptr, n)                                            \
    do {                                                                                   \
        const void *p_;                                                                    \
        st = opt_col(ev, input, name, dt, width, &p_, n);                                  \
        if (st != TRK_OK)                                                                  \
            goto done;                                                                     \
        ptr = p_;                                                                          \
    } while (0)

/* Particle count from whichever particle_* columns exist (they must agree); 0 and
 * *found false when none does. */
static enum trk_status particle_count(const struct trk_event *truth, size_t *np, bool *found)
{
    static const char *names[] = {"particle_id", "particle_q", "particle_p",
                                  "particle_vertex", "particle_nhits", "particle_pdg",
                                  "particle_v"};
    *np = 0;
    *found = false;
    const char *first = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct trk_tensor *t = trk_event_find(truth, names[i]);
        if (!t || t->ndim < 1)
            continue;
        size_t n = (size_t)t->shape[0];
        if (first && n != *np) {
            TRK_LOGE("TRUTH: column '%s' has %zu rows but '%s' has %zu: particle_* columns "
                     "must have one row per particle", names[i], n, first, *np);
            return TRK_ERR_INVALID_ARG;
        }
        first = names[i];
        *np = n;
        *found = true;
    }
    return TRK_OK;
}

enum trk_status trk_score_event(const struct trk_event *truth, const struct trk_event *reco,
                                const struct trk_score_config *cfg,
                                struct trk_score_result *acc)
{
    if (!truth || !reco || !acc) {
        TRK_LOGE("truth, reco and acc are required");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_score_result r = *acc;
    if (cfg)
        r.cfg = *cfg;
    enum trk_status st = TRK_OK;
    int32_t *cluster_particle = NULL, *labels = NULL, *track_truth_vertex = NULL;
    uint32_t *own_off = NULL, *own_hits = NULL;
    uint8_t *pflags = NULL, *vok = NULL;
    uint32_t *vcount = NULL;
    struct trk_score_track_match *matches = NULL;

    /* Truth columns. */
    const int32_t *hit_particle, *digi_particle, *pq, *pvertex, *pnhits, *vntracks;
    const float *hit_weight, *pp, *pv, *vpos;
    size_t nhit_particle, ndigi, nweight, n_, nvpos, nvnt;
    OPT(truth, "TRUTH", "hit_particle", TRK_DTYPE_INT32, 0, hit_particle, &nhit_particle);
    OPT(truth, "TRUTH", "digi_particle", TRK_DTYPE_INT32, 0, digi_particle, &ndigi);
    OPT(truth, "TRUTH", "hit_weight", TRK_DTYPE_FP32, 0, hit_weight, &nweight);
    OPT(truth, "TRUTH", "particle_q", TRK_DTYPE_INT32, 0, pq, &n_);
    OPT(truth, "TRUTH", "particle_p", TRK_DTYPE_FP32, 3, pp, &n_);
    OPT(truth, "TRUTH", "particle_v", TRK_DTYPE_FP32, 3, pv, &n_);
    OPT(truth, "TRUTH", "particle_vertex", TRK_DTYPE_INT32, 0, pvertex, &n_);
    OPT(truth, "TRUTH", "particle_nhits", TRK_DTYPE_INT32, 0, pnhits, &n_);
    OPT(truth, "TRUTH", "vertex_pos", TRK_DTYPE_FP32, 3, vpos, &nvpos);
    OPT(truth, "TRUTH", "vertex_ntracks", TRK_DTYPE_INT32, 0, vntracks, &nvnt);
    if (hit_particle && hit_weight && nweight != nhit_particle) {
        TRK_LOGE("TRUTH: hit_weight has %zu rows but hit_particle has %zu", nweight,
                 nhit_particle);
        st = TRK_ERR_INVALID_ARG;
        goto done;
    }
    if (vpos && vntracks && nvnt != nvpos) {
        TRK_LOGE("TRUTH: vertex_ntracks has %zu rows but vertex_pos has %zu", nvnt, nvpos);
        st = TRK_ERR_INVALID_ARG;
        goto done;
    }

    /* Reco columns; clusters may sit in either event. */
    const int32_t *hit_track, *track_vertex;
    const uint32_t *toff, *thits, *coff, *cdigis;
    const float *reco_z;
    size_t nhit_track, ntoff, nthits, ntv, nrz, ncoff, ncdigis;
    OPT(reco, "RESULT", "reco_hit_track", TRK_DTYPE_INT32, 0, hit_track, &nhit_track);
    OPT(reco, "RESULT", "reco_track_offsets", TRK_DTYPE_UINT32, 0, toff, &ntoff);
    OPT(reco, "RESULT", "reco_track_hits", TRK_DTYPE_UINT32, 0, thits, &nthits);
    OPT(reco, "RESULT", "reco_track_vertex", TRK_DTYPE_INT32, 0, track_vertex, &ntv);
    OPT(reco, "RESULT", "reco_vertex_z", TRK_DTYPE_FP32, 0, reco_z, &nrz);
    OPT(reco, "RESULT", "reco_cluster_offsets", TRK_DTYPE_UINT32, 0, coff, &ncoff);
    OPT(reco, "RESULT", "reco_cluster_digis", TRK_DTYPE_UINT32, 0, cdigis, &ncdigis);
    if (!coff && !cdigis && truth != reco) {
        OPT(truth, "TRUTH", "reco_cluster_offsets", TRK_DTYPE_UINT32, 0, coff, &ncoff);
        OPT(truth, "TRUTH", "reco_cluster_digis", TRK_DTYPE_UINT32, 0, cdigis, &ncdigis);
    }
    if (!toff != !thits) {
        TRK_LOGE("RESULT has %s but not %s: tracks as hit lists need both columns",
                 toff ? "reco_track_offsets" : "reco_track_hits",
                 toff ? "reco_track_hits" : "reco_track_offsets");
        st = TRK_ERR_INVALID_ARG;
        goto done;
    }
    if (!coff != !cdigis) {
        TRK_LOGE("%s but not %s: clusters need both columns",
                 coff ? "reco_cluster_offsets" : "reco_cluster_digis",
                 coff ? "reco_cluster_digis" : "reco_cluster_offsets");
        st = TRK_ERR_INVALID_ARG;
        goto done;
    }
    bool has_tracks = hit_track || toff;
    if (!has_tracks && !reco_z) {
        TRK_LOGE("RESULT has no reco_hit_track or reco_track_* columns and no reco_vertex_z: "
                 "nothing to score (a tracker's output has reco_hit_track [H] or "
                 "reco_track_offsets [T+1] + reco_track_hits [N], see trk/event.h)");
        st = TRK_ERR_NOT_FOUND;
        goto done;
    }

    /* Particles. */
    size_t np;
    bool have_particles;
    st = particle_count(truth, &np, &have_particles);
    if (st != TRK_OK)
        goto done;

    /* The particle of each hit the tracks index: TrackML hits, or CMS clusters. */
    bool cms = digi_particle && coff; /* clusters given: the tracks' hits are clusters */
    const int32_t *hp = NULL;
    size_t nh = 0;
    if (cms) {
        if (ncoff < 1 || coff[ncoff - 1] != ncdigis) {
            TRK_LOGE("reco_cluster_offsets: %zu rows ending at %" PRIu32 ", expected K+1 rows "
                     "ending at %zu (the rows of reco_cluster_digis)", ncoff,
                     ncoff ? coff[ncoff - 1] : 0u, ncdigis);
            st = TRK_ERR_INVALID_ARG;
            goto done;
        }
        nh = ncoff - 1;
        cluster_particle = malloc((nh ? nh : 1) * sizeof *cluster_particle);
        if (!cluster_particle) {
            st = TRK_ERR_NO_MEMORY;
            goto done;
        }
        st = trk_score_cluster_particles(ndigi, digi_particle, nh, coff, cdigis,
                                         cluster_particle);
        if (st != TRK_OK)
            goto done;
        hp = cluster_particle;
    } else if (hit_particle) {
        hp = hit_particle;
        nh = nhit_particle;
    } else if (has_tracks) {
        if (digi_particle)
            TRK_LOGE("TRUTH is a CMS event (digi_particle) but neither input has "
                     "reco_cluster_offsets + reco_cluster_digis: the tracks' hits are "
                     "clusters, and their truth comes from their digis");
        else
            TRK_LOGE("TRUTH has no hit_particle (TrackML) or digi_particle (CMS) column: "
                     "cannot tell which particle made each hit");
        st = TRK_ERR_NOT_FOUND;
        goto done;
    }
    if (hp && !have_particles) {
        /* Particles only known through the hits: no cuts but the hit count. */
        for (size_t i = 0; i < nh; i++)
            if (hp[i] >= 0 && (size_t)hp[i] + 1 > np)
                np = (size_t)hp[i] + 1;
    }
    for (size_t i = 0; hp && i < nh; i++)
        if (hp[i] < -1 || (hp[i] >= 0 && (size_t)hp[i] >= np)) {
            TRK_LOGE("TRUTH: %s[%zu] = %" PRId32 " is not -1 (noise) or a particle index < %zu",
                     cms ? "digi_particle (via cluster)" : "hit_particle", i, hp[i], np);
            st = TRK_ERR_INVALID_ARG;
            goto done;
        }
    struct trk_score_particles parts = {np, pq, pp, pvertex, cms ? pnhits : NULL, pv};

    /* Tracks. */
    size_t ntracks = 0;
    const uint32_t *off = NULL, *th = NULL;
    if (toff) {
        if (ntoff < 1 || toff[ntoff - 1] != nthits) {
            TRK_LOGE("RESULT: reco_track_offsets has %zu rows ending at %" PRIu32 ", expected "
                     "T+1 rows ending at %zu (the rows of reco_track_hits)", ntoff,
                     ntoff ? toff[ntoff - 1] : 0u, nthits);
            st = TRK_ERR_INVALID_ARG;
            goto done;
        }
        ntracks = ntoff - 1;
        off = toff;
        th = thits;
        st = check_tracks(nh, ntracks, off, th);
        if (st != TRK_OK) {
            TRK_LOGE("RESULT: reco_track_offsets/reco_track_hits do not fit the %zu %s of "
                     "TRUTH", nh, cms ? "clusters" : "hits");
            goto done;
        }
    }
    if (hit_track && nhit_track != nh) {
        TRK_LOGE("RESULT: reco_hit_track has %zu rows but TRUTH has %zu %s: one label per "
                 "hit", nhit_track, nh, cms ? "clusters" : "hits");
        st = TRK_ERR_INVALID_ARG;
        goto done;
    }
    if (hit_track && !toff) {
        st = trk_score_tracks_from_labels(nh, hit_track, &ntracks, &own_off, &own_hits, NULL);
        if (st != TRK_OK)
            goto done;
        off = own_off;
        th = own_hits;
    }

    if (has_tracks) {
        /* TrackML score needs one track per hit. */
        const int32_t *lab = hit_track;
        if (!lab) {
            labels = malloc((nh ? nh : 1) * sizeof *labels);
            if (!labels) {
                st = TRK_ERR_NO_MEMORY;
                goto done;
            }
            if (trk_score_labels_from_tracks(nh, ntracks, off, th, labels) == TRK_OK)
                lab = labels;
        }
        if (lab) {
            double s = 0, w = 0;
            const float *wt = cms ? NULL : hit_weight;
            st = trk_score_trackml(nh, hp, wt, lab, &s, &w);
            if (st != TRK_OK)
                goto done;
            r.trackml_events++;
            r.trackml_sum += s;
            r.trackml_weight += w;
            r.trackml_norm_sum += w > 0 ? s / w : 0.0;
            if (!wt)
                r.trackml_unit_weights = true;
        } else {
            r.trackml_skipped++;
        }
        matches = malloc((ntracks ? ntracks : 1) * sizeof *matches);
        if (!matches) {
            st = TRK_ERR_NO_MEMORY;
            goto done;
        }
        st = trk_score_tracks(&r, nh, hp, &parts, ntracks, off, th, matches);
        if (st != TRK_OK)
            goto done;
        r.track_events++;
        r.reco_hits += nh;
    }

    if (reco_z) {
        if (!vpos) {
            TRK_LOGE("RESULT has reco_vertex_z but TRUTH has no vertex_pos [V,3] to match "
                     "it with");
            st = TRK_ERR_NOT_FOUND;
            goto done;
        }
        size_t nv = nvpos;
        vok = malloc(nv ? nv : 1);
        if (!vok) {
            st = TRK_ERR_NO_MEMORY;
            goto done;
        }
        if (pvertex) {
            /* Reconstructable particles per vertex. Without hit truth (vertex-only
             * scoring) the hit cut uses particle_nhits, or is skipped. */
            struct trk_score_particles vp = parts;
            if (!hp)
                vp.nhits = pnhits;
            pflags = malloc(np ? np : 1);
            vcount = calloc(nv ? nv : 1, sizeof *vcount);
            if (!pflags || !vcount) {
                st = TRK_ERR_NO_MEMORY;
                goto done;
            }
            st = trk_score_select_particles(&r.cfg, nh, hp, &vp, pflags);
            if (st != TRK_OK)
                goto done;
            for (size_t i = 0; i < np; i++) {
                int32_t v = pvertex[i];
                if (v < -1 || (v >= 0 && (size_t)v >= nv)) {
                    TRK_LOGE("TRUTH: particle_vertex[%zu] = %" PRId32 " but vertex_pos has "
                             "%zu rows", i, v, nv);
                    st = TRK_ERR_INVALID_ARG;
                    goto done;
                }
                if (v >= 0 && (pflags[i] & TRK_SCORE_SEL))
                    vcount[v]++;
            }
            for (size_t v = 0; v < nv; v++)
                vok[v] = vcount[v] >= (uint32_t)(r.cfg.vertex_min_particles > 0
                                                     ? r.cfg.vertex_min_particles
                                                     : 0);
        } else {
            for (size_t v = 0; v < nv; v++)
                vok[v] = !vntracks || vntracks[v] >= r.cfg.vertex_min_particles;
        }
        struct trk_score_vertex_input vin = {
            .ntruth = nv, .truth_pos = vpos, .truth_ok = vok, .nreco = nrz, .reco_z = reco_z};
        if (track_vertex && has_tracks && pvertex) {
            if (ntv != ntracks) {
                TRK_LOGE("RESULT: reco_track_vertex has %zu rows but there are %zu tracks",
                         ntv, ntracks);
                st = TRK_ERR_INVALID_ARG;
                goto done;
            }
            track_truth_vertex = malloc((ntracks ? ntracks : 1) * sizeof *track_truth_vertex);
            if (!track_truth_vertex) {
                st = TRK_ERR_NO_MEMORY;
                goto done;
            }
            int rule = r.cfg.vertex_rule == TRK_SCORE_CMS75 ? TRK_SCORE_CMS75
                                                             : TRK_SCORE_DOUBLE_MAJORITY;
            for (size_t t = 0; t < ntracks; t++) {
                int32_t p = matches[t].matched[rule];
                track_truth_vertex[t] = p >= 0 ? pvertex[p] : -1;
            }
            vin.ntracks = ntracks;
            vin.track_vertex = track_vertex;
            vin.track_truth_vertex = track_truth_vertex;
        }
        st = trk_score_vertices(&r, &vin);
        if (st != TRK_OK)
            goto done;
        r.vertex_events++;
    }

    r.events++;
    *acc = r;
done:
    free(cluster_particle);
    free(labels);
    free(track_truth_vertex);
    free(own_off);
    free(own_hits);
    free(pflags);
    free(vok);
    free(vcount);
    free(matches);
    return st;
}

/* ---- writers ------------------------------------------------------------------ */

static const char *rule_title(int r)
{
    return r == TRK_SCORE_DOUBLE_MAJORITY ? "double majority (>50%/>50%)"
                                          : "CMS (>=75% of track hits)";
}

static void text_bins(FILE *out, const char *what, int nb, double (*edge)(int),
                      const uint64_t *const tot[TRK_SCORE_NRULES],
                      const uint64_t *const mat[TRK_SCORE_NRULES])
{
    fprintf(out, "\nEfficiency vs %s\n  %-17s %8s  %-20s %-20s\n", what, "bin", "particles",
            "double majority", "CMS 75%");
    for (int b = 0; b < nb; b++) {
        if (!tot[0][b])
            continue;
        char range[40];
        snprintf(range, sizeof range, "[%.3g, %.3g)", edge(b), edge(b + 1));
        fprintf(out, "  %-17s %8" PRIu64, range, tot[0][b]);
        for (int r = 0; r < TRK_SCORE_NRULES; r++) {
            double err, e = trk_score_ratio(mat[r][b], tot[r][b], &err);
            char cell[32];
            snprintf(cell, sizeof cell, "%.4f +- %.4f", e, err);
            fprintf(out, "  %-20s", cell);
        }
        fputc('\n', out);
    }
}

enum trk_status trk_score_write_text(const struct trk_score_result *acc, FILE *out, bool bins)
{
    if (!acc || !out)
        return TRK_ERR_INVALID_ARG;
    const struct trk_score_config *c = &acc->cfg;
    fprintf(out, "Scored %" PRIu64 " event%s.\n", acc->events, acc->events == 1 ? "" : "s");
    if (acc->trackml_events) {
        fprintf(out,
                "TrackML score          %.6f  (mean over %" PRIu64 " event%s of score / event "
                "weight%s)\n"
                "  raw                  %.6g of total weight %.6g\n",
                acc->trackml_norm_sum / (double)acc->trackml_events, acc->trackml_events,
                acc->trackml_events == 1 ? "" : "s",
                acc->trackml_unit_weights ? "; unit weights where no hit_weight" : "",
                acc->trackml_sum, acc->trackml_weight);
    }
    if (acc->trackml_skipped)
        fprintf(out, "TrackML score          n/a in %" PRIu64 " event%s (tracks share hits; "
                "the score needs one track per hit)\n", acc->trackml_skipped,
                acc->trackml_skipped == 1 ? "" : "s");
    if (acc->track_events) {
        fprintf(out,
                "\nTracks: %" PRIu64 " in %" PRIu64 " event%s. Reconstructable particles: "
                "charged, >= %" PRId32 " hits, pT >= %.3g GeV, |eta| <= %.3g",
                acc->rule[0].tracks, acc->track_events, acc->track_events == 1 ? "" : "s",
                c->min_hits, c->min_pt, c->max_eta);
        if (c->max_prod_r > 0)
            fprintf(out, ", produced within %.3g mm of the beam line", c->max_prod_r);
        fputc('\n', out);
        fprintf(out, "  %-28s %10s %10s  %-19s %-19s %-19s\n", "rule", "particles", "matched",
                "efficiency", "fake rate", "duplicate rate");
        for (int r = 0; r < TRK_SCORE_NRULES; r++) {
            const struct trk_score_track_counts *t = &acc->rule[r];
            double ee, fe, de;
            double e = trk_score_ratio(t->matched, t->particles, &ee);
            double f = trk_score_ratio(t->fake, t->tracks, &fe);
            double d = trk_score_ratio(t->duplicated, t->matched, &de);
            char a[32], b[32], cc[32];
            snprintf(a, sizeof a, "%.4f +- %.4f", e, ee);
            snprintf(b, sizeof b, "%.4f +- %.4f", f, fe);
            snprintf(cc, sizeof cc, "%.4f +- %.4f", d, de);
            fprintf(out, "  %-28s %10" PRIu64 " %10" PRIu64 "  %-19s %-19s %-19s\n",
                    rule_title(r), t->particles, t->matched, a, b, cc);
        }
    }
    if (acc->vertex_events) {
        const struct trk_score_vertex_counts *v = &acc->vtx;
        double ee, se, fe, me;
        double e = trk_score_ratio(v->truth_matched, v->truth_reconstructable, &ee);
        double s = trk_score_ratio(v->truth_split, v->truth_matched, &se);
        double f = trk_score_ratio(v->reco_fake, v->reco, &fe);
        double m = trk_score_ratio(v->reco_merged, v->reco, &me);
        fprintf(out,
                "\nVertices: matched by track content in %" PRIu64 " event%s, by nearest z "
                "(|dz| <= %.3g mm) in %" PRIu64 "\n"
                "  truth %" PRIu64 ", reconstructable (>= %" PRId32 " reconstructable "
                "particles) %" PRIu64 ", matched %" PRIu64 "\n"
                "  efficiency             %.4f +- %.4f\n"
                "  split rate             %.4f +- %.4f  (%" PRIu64 " truth with >= 2 reco / "
                "matched)\n"
                "  reco %" PRIu64 ", fake %" PRIu64 ", merged %" PRIu64 "\n"
                "  fake rate              %.4f +- %.4f\n"
                "  merge rate             %.4f +- %.4f  (%" PRIu64 " reco best for >= 2 truth / "
                "reco)\n",
                v->events_by_tracks, v->events_by_tracks == 1 ? "" : "s",
                c->vertex_z_window, v->events_by_z, v->truth, c->vertex_min_particles,
                v->truth_reconstructable, v->truth_matched, e, ee, s, se, v->truth_split,
                v->reco, v->reco_fake, v->reco_merged, f, fe, m, me, v->reco_merged);
    }
    if (bins && acc->track_events) {
        const uint64_t *const pt_t[] = {acc->rule[0].pt_total, acc->rule[1].pt_total};
        const uint64_t *const pt_m[] = {acc->rule[0].pt_matched, acc->rule[1].pt_matched};
        const uint64_t *const eta_t[] = {acc->rule[0].eta_total, acc->rule[1].eta_total};
        const uint64_t *const eta_m[] = {acc->rule[0].eta_matched, acc->rule[1].eta_matched};
        text_bins(out, "pT [GeV] (all cuts but pT)", TRK_SCORE_PT_BINS, trk_score_pt_edge,
                  pt_t, pt_m);
        text_bins(out, "eta (all cuts but eta)", TRK_SCORE_ETA_BINS, trk_score_eta_edge, eta_t,
                  eta_m);
    }
    fflush(out);
    return ferror(out) ? TRK_ERR_IO : TRK_OK;
}

static void json_u64_array(FILE *out, const char *name, const uint64_t *a, int n, bool last)
{
    fprintf(out, "\"%s\": [", name);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%" PRIu64, i ? ", " : "", a[i]);
    fprintf(out, "]%s", last ? "" : ", ");
}

static void json_edges(FILE *out, const char *name, double (*edge)(int), int n)
{
    fprintf(out, "    \"%s\": [", name);
    for (int i = 0; i <= n; i++)
        fprintf(out, "%s%.6g", i ? ", " : "", edge(i));
    fprintf(out, "],\n");
}

enum trk_status trk_score_write_json(const struct trk_score_result *acc, FILE *out)
{
    if (!acc || !out)
        return TRK_ERR_INVALID_ARG;
    const struct trk_score_config *c = &acc->cfg;
    fprintf(out,
            "{\n  \"events\": %" PRIu64 ",\n"
            "  \"config\": {\"min_pt\": %.6g, \"max_eta\": %.6g, \"min_hits\": %" PRId32
            ", \"max_prod_r\": %.6g, \"vertex_z_window\": %.6g, \"vertex_min_particles\": %" PRId32
            ", \"vertex_rule\": \"%s\"},\n",
            acc->events, c->min_pt, c->max_eta, c->min_hits, c->max_prod_r, c->vertex_z_window,
            c->vertex_min_particles, trk_score_rule_name(c->vertex_rule));
    fprintf(out,
            "  \"trackml\": {\"events\": %" PRIu64 ", \"skipped\": %" PRIu64
            ", \"score\": %.9g, \"raw_sum\": %.9g, \"weight_sum\": %.9g, "
            "\"unit_weights\": %s},\n",
            acc->trackml_events, acc->trackml_skipped,
            acc->trackml_events ? acc->trackml_norm_sum / (double)acc->trackml_events : 0.0,
            acc->trackml_sum, acc->trackml_weight, acc->trackml_unit_weights ? "true" : "false");
    fprintf(out, "  \"tracks\": {\n    \"events\": %" PRIu64 ", \"hits\": %" PRIu64 ",\n",
            acc->track_events, acc->reco_hits);
    json_edges(out, "pt_edges", trk_score_pt_edge, TRK_SCORE_PT_BINS);
    json_edges(out, "eta_edges", trk_score_eta_edge, TRK_SCORE_ETA_BINS);
    for (int r = 0; r < TRK_SCORE_NRULES; r++) {
        const struct trk_score_track_counts *t = &acc->rule[r];
        double ee, fe, de;
        double e = trk_score_ratio(t->matched, t->particles, &ee);
        double f = trk_score_ratio(t->fake, t->tracks, &fe);
        double d = trk_score_ratio(t->duplicated, t->matched, &de);
        fprintf(out,
                "    \"%s\": {\"particles\": %" PRIu64 ", \"matched\": %" PRIu64
                ", \"duplicated\": %" PRIu64 ", \"tracks\": %" PRIu64 ", \"fake\": %" PRIu64
                ", \"efficiency\": %.6g, \"efficiency_err\": %.6g, \"fake_rate\": %.6g, "
                "\"fake_rate_err\": %.6g, \"duplicate_rate\": %.6g, \"duplicate_rate_err\": "
                "%.6g,\n      ",
                trk_score_rule_name((enum trk_score_rule)r), t->particles, t->matched,
                t->duplicated, t->tracks, t->fake, e, ee, f, fe, d, de);
        json_u64_array(out, "pt_total", t->pt_total, TRK_SCORE_PT_BINS, false);
        json_u64_array(out, "pt_matched", t->pt_matched, TRK_SCORE_PT_BINS, false);
        json_u64_array(out, "pt_duplicated", t->pt_duplicated, TRK_SCORE_PT_BINS, false);
        fprintf(out, "\n      ");
        json_u64_array(out, "eta_total", t->eta_total, TRK_SCORE_ETA_BINS, false);
        json_u64_array(out, "eta_matched", t->eta_matched, TRK_SCORE_ETA_BINS, false);
        json_u64_array(out, "eta_duplicated", t->eta_duplicated, TRK_SCORE_ETA_BINS, true);
        fprintf(out, "}%s\n", r + 1 < TRK_SCORE_NRULES ? "," : "");
    }
    const struct trk_score_vertex_counts *v = &acc->vtx;
    double e = trk_score_ratio(v->truth_matched, v->truth_reconstructable, NULL);
    double s = trk_score_ratio(v->truth_split, v->truth_matched, NULL);
    double f = trk_score_ratio(v->reco_fake, v->reco, NULL);
    double m = trk_score_ratio(v->reco_merged, v->reco, NULL);
    fprintf(out,
            "  },\n  \"vertices\": {\"events\": %" PRIu64 ", \"events_by_tracks\": %" PRIu64
            ", \"events_by_z\": %" PRIu64 ", \"truth\": %" PRIu64
            ", \"truth_reconstructable\": %" PRIu64 ", \"truth_matched\": %" PRIu64
            ", \"truth_split\": %" PRIu64 ", \"reco\": %" PRIu64 ", \"reco_fake\": %" PRIu64
            ", \"reco_merged\": %" PRIu64 ", \"efficiency\": %.6g, \"split_rate\": %.6g, "
            "\"fake_rate\": %.6g, \"merge_rate\": %.6g}\n}\n",
            acc->vertex_events, v->events_by_tracks, v->events_by_z, v->truth,
            v->truth_reconstructable, v->truth_matched, v->truth_split, v->reco, v->reco_fake,
            v->reco_merged, e, s, f, m);
    fflush(out);
    return ferror(out) ? TRK_ERR_IO : TRK_OK;
}
