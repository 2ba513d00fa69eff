/* TrackML CSV files (trk/trackml_csv.h): write→read round trips (plain and gzip), the
 * reference events, submissions, and malformed input giving TRK_ERR_PARSE with
 * "file:line: column 'x'" messages. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../algorithms/events/trackml_csv_internal.h"
#include "trk/data.h"
#include "trk/trackml_csv.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/trk_test_trackml_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *col(const struct trk_event *ev, const char *name, enum trk_dtype dt, uint32_t width,
                 size_t *n)
{
    void *p = trk_event_column(ev, name, dt, width, n);
    if (!p)
        fail_msg("column '%s' missing or of the wrong type", name);
    return p;
}

#define ADD(ev, ...) assert_int_equal(trk_event_add_column(ev, __VA_ARGS__), TRK_OK)

/* A synthetic event with every TrackML column; hit ids sparse when `sparse`. */
static void make_event(struct trk_event *ev, size_t nh, size_t np, size_t nc, bool sparse,
                       uint64_t seed)
{
    uint64_t rng = seed;
    trk_event_init(ev, 42);
    float *pos, *tpos, *tmom, *w, *pv, *pp, *cv;
    int32_t *vlm, *hp, *pq, *pdg, *pnh, *pvx, *cch;
    uint64_t *pid, *hid = NULL;
    uint32_t *chit;
    assert_int_equal(trk_event_add_column(ev, "hit_pos", TRK_DTYPE_FP32, nh, 3, (void **)&pos), 0);
    assert_int_equal(trk_event_add_column(ev, "hit_vlm", TRK_DTYPE_INT32, nh, 3, (void **)&vlm), 0);
    if (sparse)
        assert_int_equal(
            trk_event_add_column(ev, "hit_id", TRK_DTYPE_UINT64, nh, 0, (void **)&hid), 0);
    ADD(ev, "hit_particle", TRK_DTYPE_INT32, nh, 0, (void **)&hp);
    assert_int_equal(trk_event_add_column(ev, "hit_weight", TRK_DTYPE_FP32, nh, 0, (void **)&w), 0);
    ADD(ev, "hit_truth_pos", TRK_DTYPE_FP32, nh, 3, (void **)&tpos);
    ADD(ev, "hit_truth_mom", TRK_DTYPE_FP32, nh, 3, (void **)&tmom);
    ADD(ev, "particle_id", TRK_DTYPE_UINT64, np, 0, (void **)&pid);
    ADD(ev, "particle_pdg", TRK_DTYPE_INT32, np, 0, (void **)&pdg);
    ADD(ev, "particle_q", TRK_DTYPE_INT32, np, 0, (void **)&pq);
    ADD(ev, "particle_vertex", TRK_DTYPE_INT32, np, 0, (void **)&pvx);
    ADD(ev, "particle_v", TRK_DTYPE_FP32, np, 3, (void **)&pv);
    ADD(ev, "particle_p", TRK_DTYPE_FP32, np, 3, (void **)&pp);
    ADD(ev, "particle_nhits", TRK_DTYPE_INT32, np, 0, (void **)&pnh);
    ADD(ev, "cell_hit", TRK_DTYPE_UINT32, nc, 0, (void **)&chit);
    assert_int_equal(trk_event_add_column(ev, "cell_ch", TRK_DTYPE_INT32, nc, 2, (void **)&cch), 0);
    ADD(ev, "cell_value", TRK_DTYPE_FP32, nc, 0, (void **)&cv);
    for (size_t i = 0; i < np; i++) {
        pid[i] = (tt_rand_u64(&rng) >> 4) + 1; /* unique with overwhelming probability */
        pdg[i] = (int32_t)(tt_rand_u32(&rng) % 4000) - 2000;
        pq[i] = (int32_t)(tt_rand_u32(&rng) % 3) - 1;
        pvx[i] = -1; /* the files do not hold it: always -1 after reading */
        pnh[i] = (int32_t)(tt_rand_u32(&rng) % 20);
        for (int k = 0; k < 3; k++) {
            pv[3 * i + k] = tt_rand_f32(&rng, -10, 10);
            pp[3 * i + k] = tt_rand_f32(&rng, -100, 100) * 1e-3f;
        }
    }
    for (size_t i = 0; i < nh; i++) {
        if (hid)
            hid[i] = 1000000 - 7 * (uint64_t)i; /* descending, sparse */
        for (int k = 0; k < 3; k++) {
            pos[3 * i + k] = tt_rand_f32(&rng, -3000, 3000);
            tpos[3 * i + k] = pos[3 * i + k] + tt_rand_f32(&rng, -0.1f, 0.1f);
            tmom[3 * i + k] = tt_rand_f32(&rng, -5, 5);
            vlm[3 * i + k] = (int32_t)(tt_rand_u32(&rng) % 2000);
        }
        hp[i] = np && tt_rand_u32(&rng) % 5 ? (int32_t)(tt_rand_u32(&rng) % np) : -1;
        w[i] = hp[i] < 0 ? 0.0f : tt_rand_f32(&rng, 0, 1e-5f);
    }
    if (nh)
        pos[0] = 1e-30f, pos[1] = -0.0f, pos[2] = 3.4e38f; /* awkward values survive too */
    for (size_t i = 0; i < nc; i++) {
        chit[i] = (uint32_t)(tt_rand_u32(&rng) % nh);
        cch[2 * i] = (int32_t)(tt_rand_u32(&rng) % 1200);
        cch[2 * i + 1] = (int32_t)(tt_rand_u32(&rng) % 1200);
        cv[i] = tt_rand_f32(&rng, 0, 1);
    }
}

static void assert_same_columns(const struct trk_event *want, const struct trk_event *got)
{
    assert_int_equal(want->ntensors, got->ntensors);
    for (uint32_t i = 0; i < want->ntensors; i++) {
        const struct trk_tensor *a = want->tensors[i];
        const struct trk_tensor *b = trk_event_find(got, a->name);
        if (!b)
            fail_msg("column '%s' not read back", a->name);
        assert_int_equal(a->dtype, b->dtype);
        assert_int_equal(a->ndim, b->ndim);
        assert_int_equal(a->shape[0], b->shape[0]);
        assert_int_equal(a->nbytes, b->nbytes);
        if (a->nbytes && memcmp(a->data, b->data, a->nbytes))
            fail_msg("column '%s' differs after the round trip", a->name);
    }
}

static void roundtrip(bool gz, bool sparse)
{
    char prefix[128], path[160];
    snprintf(prefix, sizeof prefix, "%s/event000000042", tmpdir);
    struct trk_event ev, back;
    make_event(&ev, 1000, 120, 3000, sparse, gz * 2 + sparse);
    assert_int_equal(trk_trackml_write(prefix, &ev, gz), TRK_OK);
    snprintf(path, sizeof path, "%s-truth.csv%s", prefix, gz ? ".gz" : "");
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s-truth.csv%s", prefix, gz ? "" : ".gz");
    assert_false(exists(path)); /* the other variant was removed */
    assert_int_equal(trk_trackml_read(prefix, &back), TRK_OK);
    assert_int_equal(back.number, 42);
    assert_same_columns(&ev, &back);
    trk_event_fini(&back);

    /* An event with hits only: the stale truth/cells/particles files go away. */
    struct trk_event hits_only;
    trk_event_init(&hits_only, 3);
    float *pos;
    assert_int_equal(
        trk_event_add_column(&hits_only, "hit_pos", TRK_DTYPE_FP32, 2, 3, (void **)&pos), 0);
    pos[4] = 1.5f;
    assert_int_equal(trk_trackml_write(prefix, &hits_only, gz), TRK_OK);
    assert_int_equal(trk_trackml_read(prefix, &back), TRK_OK);
    assert_int_equal(back.ntensors, 2); /* hit_pos, hit_vlm */
    size_t n;
    const float *p = col(&back, "hit_pos", TRK_DTYPE_FP32, 3, &n);
    assert_int_equal(n, 2);
    assert_true(p[4] == 1.5f);
    trk_event_fini(&back);
    trk_event_fini(&hits_only);
    trk_event_fini(&ev);
}

static void test_roundtrip_plain(void **state)
{
    (void)state;
    roundtrip(false, false);
    roundtrip(false, true);
}

static void test_roundtrip_gz(void **state)
{
    (void)state;
    roundtrip(true, false);
    roundtrip(true, true);
}

/* ---- reference events ---------------------------------------------------------------- */

static bool reference(const char *rel, char *path, size_t len)
{
    char probe[512];
    snprintf(probe, sizeof probe, "%s-hits.csv", rel);
    bool plain = trk_data_path(probe, path, len);
    snprintf(probe, sizeof probe, "%s-hits.csv.gz", rel);
    bool gz = trk_data_path(probe, path, len);
    trk_data_path(rel, path, len);
    if (!plain && !gz) {
        print_message("skipped: reference data not found at %s\n", path);
        return false;
    }
    return true;
}

static double sum_weights(const struct trk_event *ev, size_t *noise)
{
    size_t n;
    const float *w = col(ev, "hit_weight", TRK_DTYPE_FP32, 0, &n);
    const int32_t *hp = col(ev, "hit_particle", TRK_DTYPE_INT32, 0, &n);
    double s = 0;
    *noise = 0;
    for (size_t i = 0; i < n; i++) {
        s += w[i];
        *noise += hp[i] < 0;
    }
    return s;
}

static void test_reference_event1(void **state)
{
    (void)state;
    char prefix[512];
    if (!reference("trackml/event000000001/event000000001", prefix, sizeof prefix))
        skip();
    struct trk_event ev;
    double t0 = now();
    assert_int_equal(trk_trackml_read(prefix, &ev), TRK_OK);
    print_message("read %s in %.1f ms\n", prefix, 1e3 * (now() - t0));
    assert_int_equal(ev.number, 1);
    size_t nh, np, nc, noise;
    const float *pos = col(&ev, "hit_pos", TRK_DTYPE_FP32, 3, &nh);
    const int32_t *vlm = col(&ev, "hit_vlm", TRK_DTYPE_INT32, 3, &nh);
    const uint64_t *hid = col(&ev, "hit_id", TRK_DTYPE_UINT64, 0, &nh); /* sparse ids */
    assert_int_equal(nh, 5527);
    assert_int_equal(hid[0], 6);
    assert_true(pos[0] == -76.566f && pos[1] == -11.3673f && pos[2] == -1502.5f);
    assert_true(vlm[0] == 7 && vlm[1] == 2 && vlm[2] == 1);
    const uint64_t *pid = col(&ev, "particle_id", TRK_DTYPE_UINT64, 0, &np);
    assert_int_equal(np, 548);
    assert_int_equal(pid[0], 4505867370102784ull);
    const int32_t *pdg = col(&ev, "particle_pdg", TRK_DTYPE_INT32, 0, &np);
    assert_int_equal(pdg[0], -211);
    double sw = sum_weights(&ev, &noise);
    assert_int_equal(noise, 829);
    assert_true(fabs(sw - 0.0513) < 1e-4);
    col(&ev, "cell_hit", TRK_DTYPE_UINT32, 0, &nc);
    assert_int_equal(nc, 18564);
    const int32_t *hp = col(&ev, "hit_particle", TRK_DTYPE_INT32, 0, &nh);
    const uint64_t *truth_pid = pid;
    assert_int_equal(truth_pid[hp[0]], 27028813309280256ull); /* truth row of hit_id 6 */

    /* Written back and read again, it is the same event (sparse ids kept). */
    char out[160];
    snprintf(out, sizeof out, "%s/event000000001", tmpdir);
    assert_int_equal(trk_trackml_write(out, &ev, true), TRK_OK);
    struct trk_event back;
    assert_int_equal(trk_trackml_read(out, &back), TRK_OK);
    assert_same_columns(&ev, &back);
    trk_event_fini(&back);
    trk_event_fini(&ev);
}

static void test_reference_barrel10(void **state)
{
    (void)state;
    char prefix[512];
    if (!reference("trackml/event000001000-barrel10/event000001000", prefix, sizeof prefix))
        skip();
    struct trk_event ev;
    assert_int_equal(trk_trackml_read(prefix, &ev), TRK_OK);
    assert_int_equal(ev.number, 1000);
    size_t nh, np, noise;
    col(&ev, "hit_pos", TRK_DTYPE_FP32, 3, &nh);
    assert_int_equal(nh, 5587);
    const uint64_t *hid = col(&ev, "hit_id", TRK_DTYPE_UINT64, 0, &nh);
    assert_int_equal(hid[0], 16884); /* ids unsorted in this subset: file order kept */
    col(&ev, "particle_id", TRK_DTYPE_UINT64, 0, &np);
    assert_int_equal(np, 818);
    double sw = sum_weights(&ev, &noise);
    assert_int_equal(noise, 1303);
    assert_true(fabs(sw - 1.0) < 1e-4);
    assert_null(trk_event_find(&ev, "cell_hit"));
    const int32_t *pdg = col(&ev, "particle_pdg", TRK_DTYPE_INT32, 0, &np);
    assert_int_equal(pdg[0], 0); /* no particle_type column */
    trk_event_fini(&ev);
}

/* 120k hits with truth, particles and cells: must read well under a second. */
static void test_speed(void **state)
{
    (void)state;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/event000000777", tmpdir);
    struct trk_event ev, back;
    make_event(&ev, 120000, 10000, 120000, false, 7);
    double t0 = now();
    assert_int_equal(trk_trackml_write(prefix, &ev, false), TRK_OK);
    double t1 = now();
    assert_int_equal(trk_trackml_read(prefix, &back), TRK_OK);
    double t2 = now();
    print_message("120k hits, 120k cells, 10k particles: write %.0f ms, read %.0f ms (plain)\n",
                  1e3 * (t1 - t0), 1e3 * (t2 - t1));
    assert_same_columns(&ev, &back);
    trk_event_fini(&back);
    /* Generous bound: sanitizer builds are several times slower. */
    assert_true(t2 - t1 < 5.0);
    trk_event_fini(&ev);
}

/* ---- parser details -------------------------------------------------------------------- */

static void test_lenient_forms(void **state)
{
    (void)state;
    /* BOM, CRLF, reordered and extra columns, blank lines, spaces around numbers,
     * exponents and long mantissas, a missing trailing newline. */
    const char *hits = "\xEF\xBB\xBFx,hit_id,extra,y,z,module_id,layer_id,volume_id\r\n"
                       "1.5,1,foo,2.5e1, -3 ,9,8,7\r\n"
                       "\r\n"
                       "24.148000000000003,2,bar,0.1,1E-3,1,2,3";
    const char *truth = "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n"
                        "2,0,0,0,0,0,0,0,0\n"
                        "1,77,1,2,3,4,5,6,0.5\n";
    struct trk_trackml_text text[TRK_TRACKML_NPARTS] = {
        [TRK_TRACKML_HITS] = {hits, strlen(hits), "mem-hits"},
        [TRK_TRACKML_TRUTH] = {truth, strlen(truth), "mem-truth"},
    };
    struct trk_event ev;
    assert_int_equal(trk_trackml_parse_mem(text, 9, &ev), TRK_OK);
    assert_int_equal(ev.number, 9);
    size_t n;
    const float *pos = col(&ev, "hit_pos", TRK_DTYPE_FP32, 3, &n);
    const int32_t *vlm = col(&ev, "hit_vlm", TRK_DTYPE_INT32, 3, &n);
    assert_int_equal(n, 2);
    assert_true(pos[0] == 1.5f && pos[1] == 25.0f && pos[2] == -3.0f);
    assert_true(pos[3] == 24.148f && pos[4] == 0.1f && pos[5] == 1e-3f);
    assert_true(vlm[0] == 7 && vlm[1] == 8 && vlm[2] == 9);
    assert_null(trk_event_find(&ev, "hit_id")); /* ids are 1..N in order */
    /* Particle 77 is not in a particles file: appended with NaN kinematics. */
    const uint64_t *pid = col(&ev, "particle_id", TRK_DTYPE_UINT64, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(pid[0], 77);
    const float *pv = col(&ev, "particle_v", TRK_DTYPE_FP32, 3, &n);
    assert_true(isnan(pv[0]));
    const int32_t *nh = col(&ev, "particle_nhits", TRK_DTYPE_INT32, 0, &n);
    assert_int_equal(nh[0], 1);
    const int32_t *vx = col(&ev, "particle_vertex", TRK_DTYPE_INT32, 0, &n);
    assert_int_equal(vx[0], -1);
    const int32_t *hp = col(&ev, "hit_particle", TRK_DTYPE_INT32, 0, &n);
    assert_true(hp[0] == 0 && hp[1] == -1);
    trk_event_fini(&ev);
}

static void test_unknown_particles_appended(void **state)
{
    (void)state;
    char prefix[128], path[160];
    snprintf(prefix, sizeof prefix, "%s/unk", tmpdir);
    snprintf(path, sizeof path, "%s-hits.csv", prefix);
    write_text(path, "hit_id,x,y,z,volume_id,layer_id,module_id\n1,0,0,0,1,1,1\n2,0,0,0,1,1,1\n"
                     "3,0,0,0,1,1,1\n");
    snprintf(path, sizeof path, "%s-particles.csv", prefix);
    write_text(path, "particle_id,vx,vy,vz,px,py,pz,q,nhits\n10,1,2,3,4,5,6,1,1\n");
    snprintf(path, sizeof path, "%s-truth.csv", prefix);
    write_text(path, "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n1,10,0,0,0,0,0,0,0.1\n"
                     "2,99,0,0,0,0,0,0,0.2\n3,99,0,0,0,0,0,0,0.3\n");
    struct trk_event ev;
    assert_int_equal(trk_trackml_read(prefix, &ev), TRK_OK);
    size_t n;
    const uint64_t *pid = col(&ev, "particle_id", TRK_DTYPE_UINT64, 0, &n);
    assert_int_equal(n, 2);
    assert_true(pid[0] == 10 && pid[1] == 99);
    const int32_t *hp = col(&ev, "hit_particle", TRK_DTYPE_INT32, 0, &n);
    assert_true(hp[0] == 0 && hp[1] == 1 && hp[2] == 1);
    const int32_t *nh = col(&ev, "particle_nhits", TRK_DTYPE_INT32, 0, &n);
    assert_true(nh[0] == 1 && nh[1] == 2);
    const float *pp = col(&ev, "particle_p", TRK_DTYPE_FP32, 3, &n);
    assert_true(pp[0] == 4.0f && isnan(pp[3]));
    trk_event_fini(&ev);
}

/* ---- malformed input ---------------------------------------------------------------- */

struct bad_case {
    const char *what;
    const char *part;  /* which file gets `text` */
    const char *text;
    const char *want;  /* expected in the message, after "<file>:" */
};

static const char *good_hits = "hit_id,x,y,z,volume_id,layer_id,module_id\n"
                               "1,1,2,3,7,2,1\n2,4,5,6,7,2,1\n3,7,8,9,7,2,1\n";
static const char *good_particles = "particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits\n"
                                    "5,13,0,0,0,1,1,1,-1,2\n";
static const char *good_truth = "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n"
                                "1,5,0,0,0,0,0,0,0.5\n2,5,0,0,0,0,0,0,0.5\n3,0,0,0,0,0,0,0,0\n";
static const char *good_cells = "hit_id,ch0,ch1,value\n1,3,4,0.5\n3,1,1,0.25\n";

static void test_bad_inputs(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"missing column", "hits", "hit_id,x,y,volume_id,layer_id,module_id\n1,1,2,7,2,1\n",
         "-hits.csv:1: column 'z': missing from the header"},
        {"non-numeric float", "hits",
         "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2,1\n2,4,abc,6,7,2,1\n",
         "-hits.csv:3: column 'y': 'abc' is not a number"},
        {"non-numeric integer", "hits",
         "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2.5,1\n",
         "-hits.csv:2: column 'layer_id': '2.5' is not an integer"},
        {"empty field", "hits", "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,,3,7,2,1\n",
         "-hits.csv:2: column 'y': '' is not a number"},
        {"short row", "hits",
         "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2,1\n2,4,5,6,7\n",
         "-hits.csv:3: column 'layer_id': missing: the row has 5 fields, the header 7"},
        {"long row", "hits", "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2,1,9\n",
         "-hits.csv:2: column 8 (after 'module_id'): the row has more fields"},
        {"duplicate hit id", "hits",
         "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2,1\n2,4,5,6,7,2,1\n1,7,8,9,7,2,1\n",
         "-hits.csv:4: column 'hit_id': hit_id 1 already appeared in data row 1"},
        {"hit id 0", "hits", "hit_id,x,y,z,volume_id,layer_id,module_id\n0,1,2,3,7,2,1\n",
         "-hits.csv:2: column 'hit_id': 0 is outside [1,"},
        {"negative hit id", "hits", "hit_id,x,y,z,volume_id,layer_id,module_id\n-4,1,2,3,7,2,1\n",
         "-hits.csv:2: column 'hit_id': -4 is outside [1,"},
        {"int32 overflow", "hits",
         "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2,99999999999\n",
         "-hits.csv:2: column 'module_id': 99999999999 is outside"},
        {"float overflow", "hits", "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1e39,2,3,7,2,1\n",
         "-hits.csv:2: column 'x': 1e39 is outside the FP32 range"},
        {"empty file", "hits", "", "-hits.csv:1: the file is empty"},
        {"unknown hit id in truth", "truth",
         "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n1,5,0,0,0,0,0,0,0\n9,5,0,0,0,0,0,0,0\n",
         "-truth.csv:3: column 'hit_id': hit_id 9 is not in the hits file"},
        {"hit ids out of order: second truth row for a hit", "truth",
         "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n1,5,0,0,0,0,0,0,0\n1,5,0,0,0,0,0,0,0\n",
         "-truth.csv:3: column 'hit_id': hit_id 1 has a second truth row"},
        {"truth rows missing", "truth",
         "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n1,5,0,0,0,0,0,0,0\n3,0,0,0,0,0,0,0,0\n",
         "-truth.csv:4: column 'hit_id': 1 of the 3 hits have no truth row (the first is "
         "hit_id 2)"},
        {"negative particle id", "truth",
         "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n1,-5,0,0,0,0,0,0,0\n",
         "-truth.csv:2: column 'particle_id': -5 is outside [0,"},
        {"particle id 0 in particles", "particles",
         "particle_id,vx,vy,vz,px,py,pz,q,nhits\n0,0,0,0,1,1,1,1,1\n",
         "-particles.csv:2: column 'particle_id': 0 is outside [1,"},
        {"duplicate particle id", "particles",
         "particle_id,vx,vy,vz,px,py,pz,q,nhits\n5,0,0,0,1,1,1,1,1\n5,0,0,0,1,1,1,1,1\n",
         "-particles.csv:3: column 'particle_id': particle_id 5 already appeared in data row 1"},
        {"particle id beyond 64 bits", "particles",
         "particle_id,vx,vy,vz,px,py,pz,q,nhits\n18446744073709551616,0,0,0,1,1,1,1,1\n",
         "-particles.csv:2: column 'particle_id': 18446744073709551616 is outside"},
        {"unknown hit id in cells", "cells", "hit_id,ch0,ch1,value\n1,3,4,0.5\n4,1,1,0.25\n",
         "-cells.csv:3: column 'hit_id': hit_id 4 is not in the hits file"},
        {"cells missing column", "cells", "hit_id,ch0,value\n1,3,0.5\n",
         "-cells.csv:1: column 'ch1': missing from the header (the header has: hit_id,ch0,value)"},
    };
    trk_log_set_sink(tt_log_capture, NULL);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char prefix[128], path[160];
        snprintf(prefix, sizeof prefix, "%s/bad%02zu", tmpdir, c);
        static const char *parts[] = {"hits", "particles", "truth", "cells"};
        const char *texts[] = {good_hits, good_particles, good_truth, good_cells};
        for (int p = 0; p < 4; p++) {
            snprintf(path, sizeof path, "%s-%s.csv", prefix, parts[p]);
            write_text(path, strcmp(parts[p], cases[c].part) ? texts[p] : cases[c].text);
        }
        tt_log_text[0] = '\0';
        struct trk_event ev;
        enum trk_status st = trk_trackml_read(prefix, &ev);
        char want[400];
        snprintf(want, sizeof want, "%s%s", prefix, cases[c].want);
        if (st != TRK_ERR_PARSE || !strstr(tt_log_text, want))
            fail_msg("case '%s': status %d, expected TRK_ERR_PARSE and '%s' in the log: %s",
                     cases[c].what, (int)st, want, tt_log_text);
        assert_int_equal(ev.ntensors, 0);
    }
    /* The good files themselves read fine. */
    {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%s/bad00", tmpdir);
        char path[160];
        snprintf(path, sizeof path, "%s-hits.csv", prefix);
        write_text(path, good_hits);
        struct trk_event ev;
        assert_int_equal(trk_trackml_read(prefix, &ev), TRK_OK);
        size_t n;
        col(&ev, "cell_value", TRK_DTYPE_FP32, 0, &n);
        assert_int_equal(n, 2);
        trk_event_fini(&ev);
    }
    /* No hits file: NOT_FOUND naming both names tried. */
    {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%s/nothing", tmpdir);
        tt_log_text[0] = '\0';
        struct trk_event ev;
        assert_int_equal(trk_trackml_read(prefix, &ev), TRK_ERR_NOT_FOUND);
        assert_non_null(strstr(tt_log_text, "nothing-hits.csv.gz"));
    }
    /* A corrupt gzip file. */
    {
        char prefix[128], path[160];
        snprintf(prefix, sizeof prefix, "%s/gzbad", tmpdir);
        struct trk_event ev;
        make_event(&ev, 2000, 10, 0, false, 3);
        assert_int_equal(trk_trackml_write(prefix, &ev, true), TRK_OK);
        trk_event_fini(&ev);
        snprintf(path, sizeof path, "%s-hits.csv.gz", prefix);
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, 200, SEEK_SET);
        fputc(0x55, f);
        fputc(0xAA, f);
        fclose(f);
        tt_log_text[0] = '\0';
        enum trk_status st = trk_trackml_read(prefix, &ev);
        assert_int_equal(st, TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "-hits.csv.gz"));
        /* Truncated gzip. */
        assert_int_equal(truncate(path, 300), 0);
        tt_log_text[0] = '\0';
        assert_int_equal(trk_trackml_read(prefix, &ev), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "truncated"));
    }
    trk_log_set_sink(NULL, NULL);
}

/* ---- submissions ---------------------------------------------------------------------- */

static void test_submission(void **state)
{
    (void)state;
    char path[160];
    struct trk_event ev, back;
    make_event(&ev, 50, 5, 0, true, 11);
    int32_t *trk;
    assert_int_equal(trk_event_add_column(&ev, "reco_hit_track", TRK_DTYPE_INT32, 50, 0,
                                          (void **)&trk), TRK_OK);
    for (int i = 0; i < 50; i++)
        trk[i] = i % 7 == 0 ? -1 : i / 3;
    for (int gz = 0; gz < 2; gz++) {
        snprintf(path, sizeof path, "%s/submission.csv%s", tmpdir, gz ? ".gz" : "");
        assert_int_equal(trk_trackml_write_submission(path, &ev), TRK_OK);
        /* Read into a copy without reco_hit_track, keeping its hit_id column. */
        trk_event_init(&back, 42);
        struct trk_tensor *hid = trk_event_find(&ev, "hit_id");
        struct trk_event tmp = {.number = 42, .ntensors = 1, .cap = 1, .tensors = &hid};
        assert_int_equal(trk_event_copy(&back, &tmp), TRK_OK);
        assert_int_equal(trk_trackml_read_submission(path, 50, &back), TRK_OK);
        size_t n;
        const int32_t *got = col(&back, "reco_hit_track", TRK_DTYPE_INT32, 0, &n);
        assert_int_equal(n, 50);
        assert_memory_equal(got, trk, 50 * sizeof *trk);
        /* A second read would add the column twice. */
        assert_int_equal(trk_trackml_read_submission(path, 50, &back), TRK_ERR_INVALID_ARG);
        trk_event_fini(&back);
    }
    trk_event_fini(&ev);

    /* Several events in one file: only this event's rows; unlisted hits are -1. */
    snprintf(path, sizeof path, "%s/multi.csv", tmpdir);
    write_text(path, "event_id,hit_id,track_id\n1,1,5\n2,1,6\n2,3,7\n1,2,8\n");
    trk_event_init(&back, 2);
    assert_int_equal(trk_trackml_read_submission(path, 3, &back), TRK_OK);
    size_t n;
    const int32_t *got = col(&back, "reco_hit_track", TRK_DTYPE_INT32, 0, &n);
    assert_true(got[0] == 6 && got[1] == -1 && got[2] == 7);
    trk_event_fini(&back);
    /* Without event_id, in another column order. */
    write_text(path, "track_id,hit_id\n4,2\n");
    trk_event_init(&back, 0);
    assert_int_equal(trk_trackml_read_submission(path, 3, &back), TRK_OK);
    got = col(&back, "reco_hit_track", TRK_DTYPE_INT32, 0, &n);
    assert_true(got[0] == -1 && got[1] == 4 && got[2] == -1);
    trk_event_fini(&back);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"event_id,hit_id\n1,1\n", "multi.csv:1: column 'track_id': missing"},
        {"hit_id,track_id\n1,1\n4,1\n", "multi.csv:3: column 'hit_id': hit_id 4 is not a hit"},
        {"hit_id,track_id\n1,1\n1,2\n", "multi.csv:3: column 'hit_id': hit_id 1 is listed twice"},
        {"hit_id,track_id\n1,x\n", "multi.csv:2: column 'track_id': 'x' is not an integer"},
        {"hit_id,track_id\n1,3000000000\n", "multi.csv:2: column 'track_id': 3000000000 does not"},
        {"event_id,hit_id,track_id\n1,1,1\n2,1,1\n", "no row has event_id 7"},
    };
    trk_log_set_sink(tt_log_capture, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        trk_event_init(&back, 7);
        tt_log_text[0] = '\0';
        enum trk_status st = trk_trackml_read_submission(path, 3, &back);
        if (st != TRK_ERR_PARSE || !strstr(tt_log_text, bad[i].want))
            fail_msg("submission case %zu: status %d, expected '%s' in: %s", i, (int)st,
                     bad[i].want, tt_log_text);
        assert_null(trk_event_find(&back, "reco_hit_track"));
        trk_event_fini(&back);
    }
    trk_log_set_sink(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_plain),
        cmocka_unit_test(test_roundtrip_gz),
        cmocka_unit_test(test_reference_event1),
        cmocka_unit_test(test_reference_barrel10),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_lenient_forms),
        cmocka_unit_test(test_unknown_particles_appended),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_submission),
    };
    return cmocka_run_group_tests_name("trackml_csv", tests, setup_dir, teardown_dir);
}
