/* trkserve — host reference of Patatrack's calibration (gpuCalibPixel), clustering
 * (gpuClustering::findClus, 8-connected) and cluster charge cut (clusterChargeCut). */
#include <stdlib.h>
#include <string.h>

#include "cms_internal.h"
#include "trk/cms.h"
#include "trk/log.h"

int32_t trk_cms_calibrate(const struct trk_cms_conditions *c, uint32_t module, uint32_t row,
                          uint32_t col, uint8_t adc)
{
    float ped, gain;
    if (!trk_cms_gain(c, module, row, col, &ped, &gain))
        return -1;
    bool l1 = module < trk_cms_layer_start[1];
    float conversion = l1 ? 50.f : 47.f, offset = l1 ? -670.f : -60.f;
    float vcal = (float)adc * gain - ped * gain;
    int e = (int)(vcal * conversion + offset);
    return e < 100 ? 100 : e;
}

void trk_cms_clusters_init(struct trk_cms_clusters *c)
{
    memset(c, 0, sizeof *c);
}

void trk_cms_clusters_fini(struct trk_cms_clusters *c)
{
    if (!c)
        return;
    free(c->offsets);
    free(c->digis);
    free(c->module);
    free(c->charge);
    memset(c, 0, sizeof *c);
}

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void uf_union(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a == b)
        return;
    if (a < b)
        parent[b] = a;
    else
        parent[a] = b; /* root = lowest member */
}

static enum trk_status clusters_reserve(struct trk_cms_clusters *c, size_t nclus, size_t ndigis)
{
    if (nclus + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap < nclus + 1)
            cap *= 2;
        uint32_t *o = realloc(c->offsets, cap * sizeof *o);
        if (o)
            c->offsets = o;
        uint32_t *m = realloc(c->module, cap * sizeof *m);
        if (m)
            c->module = m;
        int32_t *q = realloc(c->charge, cap * sizeof *q);
        if (q)
            c->charge = q;
        if (!o || !m || !q)
            return TRK_ERR_NO_MEMORY;
        c->cap = cap;
    }
    if (ndigis > c->ndigis_cap) {
        size_t cap = c->ndigis_cap ? c->ndigis_cap : 4096;
        while (cap < ndigis)
            cap *= 2;
        uint32_t *d = realloc(c->digis, cap * sizeof *d);
        if (!d)
            return TRK_ERR_NO_MEMORY;
        c->digis = d;
        c->ndigis_cap = cap;
    }
    return TRK_OK;
}

enum trk_status trk_cms_cluster(const struct trk_cms_conditions *cond, size_t ndigis,
                                const uint32_t *module, const uint16_t *row,
                                const uint16_t *col, const uint8_t *adc,
                                struct trk_cms_clusters *out)
{
    if (!cond || !out || (ndigis && (!module || !row || !col || !adc)))
        return TRK_ERR_INVALID_ARG;
    if (ndigis >= UINT32_MAX) {
        TRK_LOGE("%zu digis: more than the 32-bit indices allow", ndigis);
        return TRK_ERR_INVALID_ARG;
    }
    out->n = 0;
    out->nmodules_active = 0;
    memset(out->per_layer, 0, sizeof out->per_layer);
    enum trk_status st = clusters_reserve(out, 0, 1);
    if (st)
        return st;
    out->offsets[0] = 0;
    const uint32_t nm = cond->nmodules;
    for (size_t i = 0; i < ndigis; i++)
        if (module[i] >= nm || row[i] >= TRK_CMS_ROWS || col[i] >= TRK_CMS_COLS) {
            TRK_LOGE("digi %zu: module %u row %u col %u out of range", i, module[i], row[i],
                     col[i]);
            return TRK_ERR_INVALID_ARG;
        }
    uint32_t *start = calloc((size_t)nm + 1, sizeof *start);
    uint32_t *order = malloc((ndigis ? ndigis : 1) * sizeof *order);
    uint32_t *parent = malloc((ndigis ? ndigis : 1) * sizeof *parent);
    int32_t *charge = malloc((ndigis ? ndigis : 1) * sizeof *charge);
    uint32_t *image = calloc((size_t)TRK_CMS_ROWS * TRK_CMS_COLS, sizeof *image);
    int32_t *clus_of = malloc((ndigis ? ndigis : 1) * sizeof *clus_of);
    uint32_t *members = malloc((ndigis ? ndigis : 1) * sizeof *members);
    if (!start || !order || !parent || !charge || !image || !clus_of || !members) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    /* calibrate; group valid digis by module (counting sort, index order kept) */
    for (size_t i = 0; i < ndigis; i++) {
        charge[i] = trk_cms_calibrate(cond, module[i], row[i], col[i], adc[i]);
        parent[i] = (uint32_t)i;
        if (charge[i] >= 0)
            start[module[i] + 1]++;
    }
    for (uint32_t m = 0; m < nm; m++) {
        if (start[m + 1])
            out->nmodules_active++;
        start[m + 1] += start[m];
    }
    {
        uint32_t *fill = malloc((size_t)nm * sizeof *fill);
        if (!fill) {
            st = TRK_ERR_NO_MEMORY;
            goto out;
        }
        memcpy(fill, start, (size_t)nm * sizeof *fill);
        for (size_t i = 0; i < ndigis; i++)
            if (charge[i] >= 0)
                order[fill[module[i]]++] = (uint32_t)i;
        free(fill);
    }
    for (uint32_t m = 0; m < nm; m++) {
        uint32_t b = start[m], e = start[m + 1];
        if (b == e)
            continue;
        /* image holds digi index + 1; a duplicate pixel joins the occupant */
        for (uint32_t k = b; k < e; k++) {
            uint32_t i = order[k];
            uint32_t *cell = &image[(size_t)row[i] * TRK_CMS_COLS + col[i]];
            if (*cell)
                uf_union(parent, *cell - 1, i);
            else
                *cell = i + 1;
        }
        for (uint32_t k = b; k < e; k++) {
            uint32_t i = order[k];
            int r0 = row[i], c0 = col[i];
            for (int dr = 0; dr <= 1; dr++)
                for (int dc = -1; dc <= 1; dc++) {
                    if (dr == 0 && dc <= 0)
                        continue; /* each neighbour pair once */
                    int r = r0 + dr, c = c0 + dc;
                    if (r >= (int)TRK_CMS_ROWS || c < 0 || c >= (int)TRK_CMS_COLS)
                        continue;
                    uint32_t o = image[(size_t)r * TRK_CMS_COLS + (uint32_t)c];
                    if (o)
                        uf_union(parent, i, o - 1);
                }
        }
        /* clusters in order of their lowest digi index (the root) */
        uint32_t first = (uint32_t)out->n, nc = 0;
        for (uint32_t k = b; k < e; k++) {
            uint32_t i = order[k];
            uint32_t r = uf_find(parent, i);
            if (r == i)
                clus_of[i] = (int32_t)nc++;
            else
                clus_of[i] = clus_of[r]; /* r < i was visited already */
        }
        /* charges and sizes per cluster */
        st = clusters_reserve(out, first + nc, 0);
        if (st)
            goto out;
        int64_t *q = calloc(nc, sizeof *q);
        uint32_t *cnt = calloc((size_t)nc + 1, sizeof *cnt);
        if (!q || !cnt) {
            free(q);
            free(cnt);
            st = TRK_ERR_NO_MEMORY;
            goto out;
        }
        for (uint32_t k = b; k < e; k++) {
            uint32_t i = order[k];
            q[clus_of[i]] += charge[i];
            cnt[clus_of[i] + 1]++;
        }
        for (uint32_t c = 0; c < nc; c++)
            cnt[c + 1] += cnt[c];
        for (uint32_t k = b; k < e; k++) {
            uint32_t i = order[k];
            members[b + cnt[clus_of[i]]++] = i; /* cnt[c] ends at the start of c+1 */
        }
        int64_t cut = m < trk_cms_layer_start[1] ? 2000 : 4000;
        uint32_t mb = b;
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t size = cnt[c] - (c ? cnt[c - 1] : 0);
            if (q[c] > cut) {
                size_t nd = out->offsets[out->n];
                st = clusters_reserve(out, out->n + 1, nd + size);
                if (st) {
                    free(q);
                    free(cnt);
                    goto out;
                }
                memcpy(out->digis + nd, members + mb, size * sizeof *members);
                out->module[out->n] = m;
                out->charge[out->n] = q[c] > INT32_MAX ? INT32_MAX : (int32_t)q[c];
                out->offsets[out->n + 1] = (uint32_t)(nd + size);
                out->n++;
                out->per_layer[cond->module_layer[m] < TRK_CMS_NLAYERS
                                   ? cond->module_layer[m]
                                   : 0]++;
            }
            mb += size;
        }
        free(q);
        free(cnt);
        for (uint32_t k = b; k < e; k++) {
            uint32_t i = order[k];
            image[(size_t)row[i] * TRK_CMS_COLS + col[i]] = 0;
        }
    }
out:
    free(start);
    free(order);
    free(parent);
    free(charge);
    free(image);
    free(clus_of);
    free(members);
    return st;
}
