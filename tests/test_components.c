/* trk_components on every device against a host union-find: random graphs with
 * self-loops, duplicate and out-of-range edges; long chains; empty edge lists; the
 * error paths. Labels must be exact (smallest vertex of the component). */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>

static uint32_t ref_find(uint32_t *parent, uint32_t v)
{
    while (parent[v] != v) {
        parent[v] = parent[parent[v]];
        v = parent[v];
    }
    return v;
}

/* labels[v] = smallest vertex of v's component; returns the number of components. */
static uint32_t ref_components(uint32_t nvert, const uint32_t *src, const uint32_t *dst,
                               uint32_t nedge, uint32_t *labels)
{
    for (uint32_t v = 0; v < nvert; v++)
        labels[v] = v;
    for (uint32_t e = 0; e < nedge; e++) {
        if (src[e] >= nvert || dst[e] >= nvert)
            continue;
        uint32_t a = ref_find(labels, src[e]), b = ref_find(labels, dst[e]);
        if (a < b)
            labels[b] = a;
        else if (b < a)
            labels[a] = b;
    }
    uint32_t ncomp = 0;
    for (uint32_t v = 0; v < nvert; v++) {
        labels[v] = ref_find(labels, v);
        ncomp += labels[v] == v;
    }
    return ncomp;
}

/* Runs trk_components (with and without ncomp) and checks it against the reference. */
static void check_graph(uint32_t nvert, const uint32_t *src, const uint32_t *dst, uint32_t nedge,
                        const char *what)
{
    uint32_t *want = tt_malloc((size_t)nvert * 4), *got = tt_malloc((size_t)nvert * 4);
    uint32_t want_ncomp = ref_components(nvert, src, dst, nedge, want), got_ncomp = 0xbad;
    struct trk_buffer *bs = tt_upload(src, (size_t)nedge * 4);
    struct trk_buffer *bd = tt_upload(dst, (size_t)nedge * 4);
    struct trk_buffer *labels = tt_alloc((size_t)nvert * 4), *ncomp = tt_alloc(4);
    struct trk_buffer *scratch = tt_alloc(trk_components_scratch_size(tt.dev, nvert, nedge));
    char msg[128];

    assert_int_equal(trk_components(tt.q, nvert, bs, bd, nedge, labels, ncomp, scratch), TRK_OK);
    snprintf(msg, sizeof msg, "%s: labels (nvert=%u nedge=%u)", what, nvert, nedge);
    tt_download(got, labels, (size_t)nvert * 4);
    tt_assert_equal_u32(got, want, nvert, msg);
    tt_download(&got_ncomp, ncomp, 4);
    if (got_ncomp != want_ncomp)
        fail_msg("%s: ncomp %u, expected %u (nvert=%u)", what, got_ncomp, want_ncomp, nvert);

    /* ncomp is optional */
    assert_int_equal(trk_components(tt.q, nvert, bs, bd, nedge, labels, NULL, scratch), TRK_OK);
    tt_download(got, labels, (size_t)nvert * 4);
    tt_assert_equal_u32(got, want, nvert, msg);

    trk_buffer_free(bs);
    trk_buffer_free(bd);
    trk_buffer_free(labels);
    trk_buffer_free(ncomp);
    trk_buffer_free(scratch);
    free(want);
    free(got);
}

static void test_components_random(void **state)
{
    (void)state;
    uint64_t rng = 0xcc000001;
    for (size_t s = 0; s < tt_nsizes; s++) {
        uint32_t nv = tt_sizes[s];
        /* dense: one giant component; sparse: many small ones */
        for (int sparse = 0; sparse < 2; sparse++) {
            uint32_t ne = sparse ? nv / 2 : nv + nv / 2;
            uint32_t *src = tt_malloc((size_t)ne * 4), *dst = tt_malloc((size_t)ne * 4);
            for (uint32_t e = 0; e < ne; e++) {
                uint32_t r = tt_rand_u32(&rng) % 100;
                src[e] = nv ? tt_rand_u32(&rng) % nv : 0;
                dst[e] = nv ? tt_rand_u32(&rng) % nv : 0;
                if (r < 3)
                    dst[e] = src[e]; /* self-loop */
                else if (r < 6 && e > 0) {
                    src[e] = dst[e - 1]; /* duplicate, reversed */
                    dst[e] = src[e - 1];
                } else if (r == 6)
                    src[e] = nv + tt_rand_u32(&rng) % 1000; /* out of range */
                else if (r == 7)
                    dst[e] = UINT32_MAX;
            }
            check_graph(nv, src, dst, ne, sparse ? "random sparse" : "random dense");
            free(src);
            free(dst);
        }
    }
}

/* Paths: a component whose diameter is the vertex count. */
static void test_components_chains(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {2, 33, 4099, 1000000};
    uint64_t rng = 0xcc000002;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t nv = sizes[s], ne = nv - 1;
        uint32_t *src = tt_malloc((size_t)ne * 4), *dst = tt_malloc((size_t)ne * 4);
        uint32_t *perm = tt_malloc((size_t)nv * 4);

        for (uint32_t e = 0; e < ne; e++) { /* 0-1-2-...: in order */
            src[e] = e;
            dst[e] = e + 1;
        }
        check_graph(nv, src, dst, ne, "chain in order");
        for (uint32_t e = 0; e < ne; e++) { /* ...-2-1-0: reversed, far end first */
            src[e] = nv - 1 - e;
            dst[e] = nv - 2 - e;
        }
        check_graph(nv, src, dst, ne, "chain reversed");

        /* one path through the vertices in random order, edges shuffled */
        for (uint32_t v = 0; v < nv; v++)
            perm[v] = v;
        for (uint32_t v = nv - 1; v > 0; v--) {
            uint32_t j = tt_rand_u32(&rng) % (v + 1), t = perm[v];
            perm[v] = perm[j];
            perm[j] = t;
        }
        for (uint32_t e = 0; e < ne; e++) {
            src[e] = perm[e];
            dst[e] = perm[e + 1];
        }
        for (uint32_t e = ne; e > 1; e--) {
            uint32_t j = tt_rand_u32(&rng) % e, ts = src[e - 1], td = dst[e - 1];
            src[e - 1] = src[j];
            dst[e - 1] = dst[j];
            src[j] = ts;
            dst[j] = td;
        }
        check_graph(nv, src, dst, ne, "random path");

        /* two interleaved chains (even, odd): two components */
        for (uint32_t e = 0; e + 2 < nv; e++) {
            src[e] = e + 2;
            dst[e] = e;
        }
        check_graph(nv, src, dst, nv >= 2 ? nv - 2 : 0, "interleaved chains");
        free(src);
        free(dst);
        free(perm);
    }
}

static void test_components_no_edges(void **state)
{
    (void)state;
    for (size_t s = 0; s < tt_nsizes; s++) {
        uint32_t nv = tt_sizes[s], n = 0xbad;
        uint32_t *got = tt_malloc((size_t)nv * 4), *want = tt_malloc((size_t)nv * 4);
        for (uint32_t v = 0; v < nv; v++)
            want[v] = v;
        struct trk_buffer *labels = tt_alloc((size_t)nv * 4), *ncomp = tt_alloc(4);
        /* an empty edge list may be NULL buffers */
        assert_int_equal(trk_components(tt.q, nv, NULL, NULL, 0, labels, ncomp, NULL), TRK_OK);
        tt_download(got, labels, (size_t)nv * 4);
        tt_assert_equal_u32(got, want, nv, "no edges");
        tt_download(&n, ncomp, 4);
        assert_int_equal(n, nv);
        trk_buffer_free(labels);
        trk_buffer_free(ncomp);
        free(got);
        free(want);
    }
    /* or real buffers with nedge 0 */
    uint32_t e[2] = {0, 1};
    check_graph(5, e, e + 1, 0, "nedge 0");
}

static void test_components_rejects_bad_args(void **state)
{
    (void)state;
    uint32_t e[4] = {0, 1, 2, 3};
    struct trk_buffer *src = tt_upload(e, 16), *dst = tt_upload(e, 16);
    struct trk_buffer *labels = tt_alloc(16), *ncomp = tt_alloc(4), *tiny = tt_alloc(2);

    assert_int_equal(trk_components(NULL, 4, src, dst, 4, labels, ncomp, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_components(tt.q, 4, src, dst, 4, NULL, ncomp, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_components(tt.q, 5, src, dst, 4, labels, ncomp, NULL),
                     TRK_ERR_INVALID_ARG); /* labels too small */
    assert_int_equal(trk_components(tt.q, 4, src, dst, 5, labels, ncomp, NULL),
                     TRK_ERR_INVALID_ARG); /* edges too small */
    assert_int_equal(trk_components(tt.q, 4, NULL, dst, 4, labels, ncomp, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_components(tt.q, 4, src, NULL, 4, labels, ncomp, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_components(tt.q, 4, src, dst, 4, labels, tiny, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_components(tt.q, 4, src, dst, 4, src, ncomp, NULL),
                     TRK_ERR_INVALID_ARG); /* labels aliasing an input */
    assert_int_equal(trk_components(tt.q, 4, src, dst, 4, labels, labels, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_components(tt.q, 4, src, dst, 4, labels, ncomp, NULL), TRK_OK);
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    trk_buffer_free(src);
    trk_buffer_free(dst);
    trk_buffer_free(labels);
    trk_buffer_free(ncomp);
    trk_buffer_free(tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_components_random),
        cmocka_unit_test(test_components_chains),
        cmocka_unit_test(test_components_no_edges),
        cmocka_unit_test(test_components_rejects_bad_args),
    };
    return tt_run_on_all_devices("components", tests, sizeof tests / sizeof tests[0]);
}
