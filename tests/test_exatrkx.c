/* Exa.TrkX C inference against the PyTorch golden outputs (tests/data/
 * exatrkx_golden.safetensors, written by training/golden.py from the committed weights
 * config/examples/models/exatrkx/1/exatrkx.safetensors), on every device; labels the same
 * on every device and thread count; bad input and bad weights files give clear errors.
 * $TRK_EX_WEIGHTS / $TRK_EX_GOLDEN override the two paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex_internal.h"
#include "test_util.h"
#include "trk/exatrkx.h"

static struct ex_st g_gold;
static uint8_t *g_wbytes;
static size_t g_wsize;
static struct trk_ex_weights *g_w;
static const float *g_feat;
static uint32_t g_n;
static int64_t *g_cpu_labels; /* labels of the first device run (the CPU device) */

/* <source dir>/rel, found from this file's path, or $env. */
static void source_path(char *buf, size_t len, const char *env, const char *rel)
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(buf, len, "%s", e);
        return;
    }
    snprintf(buf, len, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    snprintf(slash ? slash : buf, len - (size_t)(slash ? slash - buf : 0), "/../%s", rel);
}

static const struct ex_tensor *gold(const char *name, enum ex_dtype dt)
{
    const struct ex_tensor *t = ex_st_find(&g_gold, name);
    if (!t || t->dtype != dt) {
        fprintf(stderr, "golden file lacks tensor %s of the expected dtype\n", name);
        fail();
    }
    return t;
}

static void small_params(struct trk_ex_params *p)
{
    trk_ex_params_default(p, g_w);
    p->max_hits = 8192;
    p->max_edges = 1u << 17;
    p->filter_chunk = 4096; /* several chunks on the golden event */
}

static struct trk_ex_instance *make(struct trk_device *dev, const struct trk_ex_params *p)
{
    struct trk_ex_instance *ex = NULL;
    assert_int_equal(trk_ex_instance_create(dev, g_w, p, &ex), TRK_OK);
    assert_non_null(ex);
    assert_true(trk_ex_memory_bytes(ex) > 0);
    return ex;
}

static void check_u32_i32(const uint32_t *got, const int32_t *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != (uint32_t)want[i]) {
            fprintf(stderr, "%s[%zu] = %u, golden %d\n", what, i, got[i], want[i]);
            fail();
        }
}

/* The golden event: embedding, graph, filter, GNN and labels as PyTorch gave them. */
static void test_golden(void **state)
{
    (void)state;
    struct trk_ex_params p;
    small_params(&p);
    assert_true(g_n <= p.max_hits);
    struct trk_ex_instance *ex = make(tt.dev, &p);
    struct trk_ex_result r;
    trk_ex_result_init(&r);
    char err[256] = "";
    assert_int_equal(trk_ex_run(ex, g_feat, g_n, &r, true, true, err, sizeof err), TRK_OK);
    assert_int_equal(r.nhits, g_n);

    const struct ex_tensor *emb = gold("embedding", EX_F32);
    assert_int_equal(emb->shape[1], r.emb_dim);
    tt_assert_close_f32(r.embedding, emb->data, emb->count, 1e-4f, 1e-4f, "embedding");

    const struct ex_tensor *gc = gold("graph_count", EX_I32);
    assert_int_equal(r.nedges_graph, ((const int32_t *)gc->data)[0]);
    const struct ex_tensor *gs = gold("graph_src", EX_I32), *gd = gold("graph_dst", EX_I32),
                           *gl = gold("graph_filter_logit", EX_F32);
    assert_true(gs->count <= r.nedges_graph);
    check_u32_i32(r.graph_src, gs->data, gs->count, "graph_src");
    check_u32_i32(r.graph_dst, gd->data, gd->count, "graph_dst");
    tt_assert_close_f32(r.graph_logit, gl->data, gl->count, 1e-4f, 1e-4f, "graph_filter_logit");

    const struct ex_tensor *ks = gold("kept_src", EX_I32), *kd = gold("kept_dst", EX_I32),
                           *gn = gold("gnn_logit", EX_F32);
    assert_int_equal(r.nedges_filter, ks->count);
    check_u32_i32(r.edge_src, ks->data, ks->count, "kept_src");
    check_u32_i32(r.edge_dst, kd->data, kd->count, "kept_dst");
    tt_assert_close_f32(r.gnn_logit, gn->data, gn->count, 1e-4f, 1e-4f, "gnn_logit");

    const struct ex_tensor *lab = gold("labels", EX_I64);
    assert_int_equal(lab->count, g_n);
    const int64_t *want = lab->data;
    int64_t maxl = -1;
    for (uint32_t i = 0; i < g_n; i++) {
        if (r.labels[i] != want[i]) {
            fprintf(stderr, "labels[%u] = %lld, golden %lld\n", i, (long long)r.labels[i],
                    (long long)want[i]);
            fail();
        }
        maxl = want[i] > maxl ? want[i] : maxl;
    }
    assert_int_equal(r.ntracks, (uint32_t)(maxl + 1));
    double total = 0;
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        total += r.stage_ms[s];
    printf("    %s: %u hits, %u graph edges, %u kept, %u track edges, %u tracks, %.1f ms, "
           "%.1f MiB device memory\n",
           trk_device_id(tt.dev), g_n, r.nedges_graph, r.nedges_filter, r.nedges_track,
           r.ntracks, total, trk_ex_memory_bytes(ex) / 1048576.0);

    /* same labels on every device: the first device (cpu) sets the reference */
    if (!g_cpu_labels) {
        g_cpu_labels = tt_malloc(g_n * sizeof *g_cpu_labels);
        memcpy(g_cpu_labels, r.labels, g_n * sizeof *g_cpu_labels);
    } else {
        assert_memory_equal(g_cpu_labels, r.labels, g_n * sizeof *g_cpu_labels);
    }
    /* a reused result gives the same again, without debug and without profile */
    assert_int_equal(trk_ex_run(ex, g_feat, g_n, &r, false, false, err, sizeof err), TRK_OK);
    assert_memory_equal(r.labels, want, g_n * sizeof *want);
    trk_ex_result_fini(&r);
    trk_ex_instance_free(ex);
}

/* The CPU device with one thread gives the same bytes as the device under test. */
static void test_threads(void **state)
{
    (void)state;
    struct trk_registry_options ro = {.cpu_threads = 1, .module_path = "/nonexistent"};
    struct trk_registry *reg = NULL;
    struct trk_device *cpu1 = NULL;
    assert_int_equal(trk_registry_open(&ro, &reg), TRK_OK);
    assert_int_equal(trk_registry_select(reg, "cpu", &cpu1), TRK_OK);
    struct trk_ex_params p;
    small_params(&p);
    p.filter_chunk = 1000;
    struct trk_ex_instance *a = make(tt.dev, &p), *b = make(cpu1, &p);
    struct trk_ex_result ra, rb;
    trk_ex_result_init(&ra);
    trk_ex_result_init(&rb);
    char err[256];
    assert_int_equal(trk_ex_run(a, g_feat, g_n, &ra, false, true, err, sizeof err), TRK_OK);
    assert_int_equal(trk_ex_run(b, g_feat, g_n, &rb, false, true, err, sizeof err), TRK_OK);
    assert_memory_equal(ra.labels, rb.labels, g_n * sizeof *ra.labels);
    assert_int_equal(ra.nedges_graph, rb.nedges_graph);
    assert_int_equal(ra.nedges_filter, rb.nedges_filter);
    assert_int_equal(ra.nedges_track, rb.nedges_track);
    assert_memory_equal(ra.graph_src, rb.graph_src, ra.nedges_graph * 4u);
    assert_memory_equal(ra.graph_dst, rb.graph_dst, ra.nedges_graph * 4u);
    assert_memory_equal(ra.edge_src, rb.edge_src, ra.nedges_filter * 4u);
    trk_ex_result_fini(&ra);
    trk_ex_result_fini(&rb);
    trk_ex_instance_free(a);
    trk_ex_instance_free(b);
    trk_registry_close(reg);
}

/* Non-finite features, too many hits, too many edges, an empty event, knn too large. */
static void test_bad_input(void **state)
{
    (void)state;
    struct trk_ex_params p;
    small_params(&p);
    p.max_hits = g_n;
    struct trk_ex_instance *ex = make(tt.dev, &p);
    struct trk_ex_result r;
    trk_ex_result_init(&r);
    char err[256] = "";
    float *f = tt_malloc((size_t)g_n * 3 * sizeof *f);
    memcpy(f, g_feat, (size_t)g_n * 3 * sizeof *f);
    f[3 * 17 + 1] = NAN;
    assert_int_equal(trk_ex_run(ex, f, g_n, &r, false, false, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "row 17"));
    f[3 * 17 + 1] = INFINITY;
    assert_int_equal(trk_ex_run(ex, f, g_n, &r, false, false, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    free(f);
    /* an event above max_hits: the features are not even read past n */
    assert_int_equal(trk_ex_run(ex, g_feat, g_n + 1, &r, false, false, err, sizeof err),
                     TRK_ERR_OVERFLOW);
    assert_non_null(strstr(err, "max_hits"));
    assert_int_equal(trk_ex_run(ex, NULL, 0, &r, true, true, err, sizeof err), TRK_OK);
    assert_int_equal(r.nhits, 0);
    assert_int_equal(r.ntracks, 0);
    /* the instance still works after the errors */
    assert_int_equal(trk_ex_run(ex, g_feat, g_n, &r, false, false, err, sizeof err), TRK_OK);
    assert_memory_equal(r.labels, gold("labels", EX_I64)->data, g_n * sizeof *r.labels);
    uint32_t ne = r.nedges_graph;
    trk_ex_instance_free(ex);

    p.max_edges = ne - 1;
    ex = make(tt.dev, &p);
    assert_int_equal(trk_ex_run(ex, g_feat, g_n, &r, false, false, err, sizeof err),
                     TRK_ERR_OVERFLOW);
    assert_non_null(strstr(err, "max_edges"));
    trk_ex_instance_free(ex);
    p.max_edges = ne; /* exactly enough */
    ex = make(tt.dev, &p);
    assert_int_equal(trk_ex_run(ex, g_feat, g_n, &r, false, false, err, sizeof err), TRK_OK);
    trk_ex_instance_free(ex);

    p.knn = EX_MAX_KNN + 1;
    ex = NULL;
    assert_int_equal(trk_ex_instance_create(tt.dev, g_w, &p, &ex), TRK_ERR_INVALID_ARG);
    assert_null(ex);
    p.knn = 0;
    assert_int_equal(trk_ex_instance_create(tt.dev, g_w, &p, &ex), TRK_ERR_INVALID_ARG);
    p.knn = 4;
    p.radius = NAN;
    assert_int_equal(trk_ex_instance_create(tt.dev, g_w, &p, &ex), TRK_ERR_INVALID_ARG);
    trk_ex_result_fini(&r);
}

/* Parses a copy of the weights with `from` replaced by `to` (same length) in the header;
 * expects status st and, when want is not NULL, an error naming it. */
static void parse_edited(const char *from, const char *to, enum trk_status st, const char *want)
{
    uint8_t *b = tt_malloc(g_wsize);
    memcpy(b, g_wbytes, g_wsize);
    size_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | b[k];
    size_t fl = strlen(from);
    assert_int_equal(fl, strlen(to));
    char *hit = NULL;
    for (size_t i = 8; i + fl <= 8 + hlen; i++)
        if (!memcmp(b + i, from, fl)) {
            hit = (char *)b + i;
            break;
        }
    assert_non_null(hit);
    memcpy(hit, to, fl);
    struct trk_ex_weights *w = (void *)1;
    char err[512] = "";
    assert_int_equal(trk_ex_weights_parse(b, g_wsize, &w, err, sizeof err), st);
    assert_null(w);
    if (want && !strstr(err, want)) {
        fprintf(stderr, "error '%s' does not name '%s'\n", err, want);
        fail();
    }
    free(b);
}

static void test_bad_weights(void **state)
{
    (void)state;
    struct trk_ex_weights *w = NULL;
    char err[512] = "";
    assert_int_equal(trk_ex_weights_parse(g_wbytes, g_wsize, &w, err, sizeof err), TRK_OK);
    trk_ex_weights_free(w);
    /* truncated anywhere */
    const size_t cuts[] = {0, 7, 8, 100, g_wsize / 2, g_wsize - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        w = (void *)1;
        assert_int_equal(trk_ex_weights_parse(g_wbytes, cuts[i], &w, err, sizeof err),
                         TRK_ERR_PARSE);
        assert_null(w);
        assert_true(strlen(err) > 0);
    }
    /* a missing tensor, a wrong shape, wrong metadata */
    parse_edited("\"gnn.out_final.bias\"", "\"gnn.out_final.bia_\"", TRK_ERR_PARSE,
                 "gnn.out_final.bias");
    parse_edited("\"filter.norms.1.weight\"", "\"filter.norms.1.weighT\"", TRK_ERR_PARSE,
                 "filter.norms.1.weight");
    parse_edited("trkserve-exatrkx-2", "trkserve-exatrkx-9", TRK_ERR_PARSE, "format");
    parse_edited("\"F32\"", "\"F16\"", TRK_ERR_PARSE, "dtype");
    /* a wrong shape with the right element count: [1,h] → [h,1] */
    const struct ex_tensor *t = ex_st_find(&g_w->st, "gnn.out_final.weight");
    assert_non_null(t);
    char from[64], to[64];
    snprintf(from, sizeof from, "[1,%llu]", (unsigned long long)t->shape[1]);
    snprintf(to, sizeof to, "[%llu,1]", (unsigned long long)t->shape[1]);
    parse_edited(from, to, TRK_ERR_PARSE, NULL);
    /* the golden file is not a weights file */
    char path[4096];
    source_path(path, sizeof path, "TRK_EX_GOLDEN", "tests/data/exatrkx_golden.safetensors");
    assert_int_equal(trk_ex_weights_load(path, &w, err, sizeof err), TRK_ERR_PARSE);
    assert_int_equal(trk_ex_weights_load("/nonexistent/w.safetensors", &w, err, sizeof err),
                     TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "/nonexistent/w.safetensors"));
}

/* The reader on hand-made files: duplicates, overlaps, offsets outside the data. */
static void st_expect(const char *header, size_t data_len, enum trk_status want)
{
    size_t hl = strlen(header), n = 8 + hl + data_len;
    uint8_t *b = tt_malloc(n);
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, 0, data_len);
    struct ex_st s;
    char err[256] = "";
    enum trk_status st = ex_st_parse(b, n, &s, err, sizeof err);
    if (st != want) {
        fprintf(stderr, "header %s: status %d (%s), expected %d\n", header, st, err, want);
        fail();
    }
    ex_st_fini(&s);
    free(b);
}

static void test_reader(void **state)
{
    (void)state;
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TRK_OK);
    st_expect("{\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
              "\"__metadata__\":{\"k\":\"v\\u00e9\"}}   ", 8, TRK_OK);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
              TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
              "\"data_offsets\":[0,8]}}", 8, TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\"}}", 0, TRK_ERR_PARSE);
    st_expect("{\"a\":1}", 0, TRK_ERR_PARSE);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, TRK_ERR_PARSE);
    st_expect("{}x", 0, TRK_ERR_PARSE);
    st_expect("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, TRK_ERR_PARSE);
    st_expect("{\"\\ud800\":{}}", 0, TRK_ERR_PARSE);
    /* header length beyond the file */
    uint8_t b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    struct ex_st s;
    char err[256];
    assert_int_equal(ex_st_parse(b, sizeof b, &s, err, sizeof err), TRK_ERR_PARSE);
    assert_non_null(strstr(err, "header length"));
}

static int setup(void)
{
    char path[4096], err[512] = "";
    source_path(path, sizeof path, "TRK_EX_GOLDEN", "tests/data/exatrkx_golden.safetensors");
    if (ex_st_load(path, &g_gold, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "test_exatrkx: %s (training/golden.py writes it)\n", err);
        return -1;
    }
    source_path(path, sizeof path, "TRK_EX_WEIGHTS",
                "config/examples/models/exatrkx/1/exatrkx.safetensors");
    if (trk_ex_weights_load(path, &g_w, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "test_exatrkx: %s\n", err);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    g_wsize = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    g_wbytes = malloc(g_wsize);
    if (!g_wbytes || fread(g_wbytes, 1, g_wsize, f) != g_wsize) {
        fclose(f);
        return -1;
    }
    fclose(f);
    const struct ex_tensor *ft = ex_st_find(&g_gold, "features");
    if (!ft || ft->dtype != EX_F32 || ft->ndim != 2 || ft->shape[1] != 3) {
        fprintf(stderr, "test_exatrkx: golden file lacks features F32 [N,3]\n");
        return -1;
    }
    g_feat = ft->data;
    g_n = (uint32_t)ft->shape[0];
    return 0;
}

int main(void)
{
    if (setup() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),   cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bad_input), cmocka_unit_test(test_bad_weights),
        cmocka_unit_test(test_reader),
    };
    int rc = tt_run_on_all_devices("exatrkx", tests, sizeof tests / sizeof tests[0]);
    free(g_cpu_labels);
    free(g_wbytes);
    trk_ex_weights_free(g_w);
    ex_st_fini(&g_gold);
    return rc;
}
