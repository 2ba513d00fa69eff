/* Tests of the particle generator and the helix propagator on a toy barrel+disk
 * detector whose answers are known in closed form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "trk/gen.h"

/* Barrel layers of flat ladders tangent to radius r (overlapping 10% in phi,
 * alternately staggered by ±1 mm), and disks at ±z of trapezoid wedges. */
static struct trk_detector *toy_detector(double bfield)
{
    static const double radii[] = {30, 70, 110, 170};
    static const double disks[] = {-400, 400};
    const int nphi_barrel = 24, nz = 10, nwedge = 24;
    size_t nmod = 4 * nphi_barrel * nz + 2 * nwedge;
    struct trk_detector *d = NULL;
    assert_int_equal(trk_detector_alloc(nmod, 6, &d), TRK_OK);
    d->bfield = bfield;
    d->kind = TRK_DETECTOR_TRACKML;
    size_t k = 0;
    for (int l = 0; l < 6; l++) {
        bool barrel = (l == 1 || l == 2 || l == 3 || l == 4);
        int layer_slot = l; /* order: disk -z, 4 barrels, disk +z */
        d->layers[l].barrel = barrel;
        if (barrel) {
            double r = radii[l - 1];
            for (int ip = 0; ip < nphi_barrel; ip++)
                for (int iz = 0; iz < nz; iz++) {
                    struct trk_module *m = &d->modules[k++];
                    double phi = 2 * M_PI * ip / nphi_barrel;
                    double rr = r + (ip % 2 ? 1.0 : -1.0);
                    double s = sin(phi), c = cos(phi);
                    double rot[9] = {-s, c, 0, 0, 0, 1, c, s, 0};
                    memcpy(m->rot, rot, sizeof rot);
                    m->c[0] = rr * c;
                    m->c[1] = rr * s;
                    m->c[2] = -300 + 60 * iz + 30;
                    m->hu_min = m->hu_max = 1.1 * M_PI * r / nphi_barrel;
                    m->hv = 30;
                    m->thickness = 0.3;
                    m->pitch_u = m->pitch_v = 0.05;
                    m->x0 = 0.01;
                    m->layer = (uint16_t)layer_slot;
                    m->barrel = 1;
                    m->volume_id = 8;
                    m->layer_id = 2 * l;
                    m->module_id = ip * nz + iz + 1;
                }
        } else {
            double z = disks[l == 0 ? 0 : 1];
            for (int iw = 0; iw < nwedge; iw++) {
                struct trk_module *m = &d->modules[k++];
                double phi = 2 * M_PI * iw / nwedge, s = sin(phi), c = cos(phi);
                /* u along phi, v radial outwards, w along +z */
                double rot[9] = {-s, c, 0, c, s, 0, 0, 0, 1};
                memcpy(m->rot, rot, sizeof rot);
                m->c[0] = 120 * c;
                m->c[1] = 120 * s;
                m->c[2] = z + (iw % 2 ? 1.0 : -1.0);
                m->hv = 90;                                  /* r from 30 to 210 */
                m->hu_min = 1.1 * M_PI * 30 / nwedge;
                m->hu_max = 1.1 * M_PI * 210 / nwedge;
                m->thickness = 0.3;
                m->pitch_u = m->pitch_v = 0.05;
                m->x0 = 0.01;
                m->layer = (uint16_t)layer_slot;
                m->volume_id = l == 0 ? 7 : 9;
                m->layer_id = 2;
                m->module_id = iw + 1;
            }
        }
    }
    assert_int_equal(k, nmod);
    assert_int_equal(trk_detector_finalize(d), TRK_OK);
    return d;
}

/* A stiff particle crosses every barrel layer once, on the plane, near radius r. */
static void test_straight_line(void **state)
{
    (void)state;
    struct trk_detector *d = toy_detector(2.0);
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_rng rng;
    trk_rng_seed(&rng, 1, 0);
    for (int i = 0; i < 50; i++) {
        trk_truth_clear(&t);
        double phi = 2 * M_PI * i / 50 + 0.01, v[3] = {0, 0, 0};
        double p[3] = {1e4 * cos(phi), 1e4 * sin(phi), 1e3};
        assert_int_equal(trk_propagate(d, v, p, 1, 0.1396, 0, &rng, &t), TRK_OK);
        /* 4 layers; ladders overlap in phi, so 4 to 8 crossings */
        assert_true(t.nsimhits >= 4 && t.nsimhits <= 8);
        unsigned layers = 0;
        for (size_t h = 0; h < t.nsimhits; h++) {
            const struct trk_simhit *s = &t.simhits[h];
            const struct trk_module *m = &d->modules[s->module];
            double g[3] = {s->pos[0], s->pos[1], s->pos[2]}, l[3];
            trk_module_to_local(m, g, l);
            assert_true(fabs(l[2]) < 1e-3);
            assert_true(trk_module_inside(m, l[0], l[1], 1e-3));
            static const double rl[] = {0, 30, 70, 110, 170};
            assert_true(fabs(hypot(g[0], g[1]) - rl[m->layer]) < 3);
            layers |= 1u << m->layer;
        }
        assert_int_equal(layers, 0x1e);
    }
    trk_truth_fini(&t);
    trk_detector_free(d);
}

/* Without material the hits of a 1 GeV track lie on a circle of radius
 * pT / (0.3 B) through the origin; the charge sets the bending direction. */
static void test_helix_radius(void **state)
{
    (void)state;
    struct trk_detector *d = toy_detector(2.0);
    for (size_t i = 0; i < d->nmodules; i++)
        d->modules[i].x0 = 0;
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_rng rng;
    trk_rng_seed(&rng, 2, 0);
    for (int q = -1; q <= 1; q += 2) {
        trk_truth_clear(&t);
        double v[3] = {0, 0, 0}, p[3] = {1.0, 0.0, 0.2};
        assert_int_equal(trk_propagate(d, v, p, q, 0.1396, 0, &rng, &t), TRK_OK);
        assert_true(t.nsimhits >= 4);
        double R = 1.0 / (0.299792458e-3 * 2.0);
        /* centre at (0, +R) for negative charge (counter-clockwise), (0, -R) positive */
        double cy = q < 0 ? R : -R;
        for (size_t h = 0; h < t.nsimhits; h++) {
            double dx = t.simhits[h].pos[0], dy = t.simhits[h].pos[1] - cy;
            assert_true(fabs(hypot(dx, dy) - R) < 0.01);
            double pt = hypot(t.simhits[h].mom[0], t.simhits[h].mom[1]);
            assert_true(fabs(pt - 1.0) < 1e-4);
        }
    }
    trk_truth_fini(&t);
    trk_detector_free(d);
}

/* A slow pion curls (2R < 170 mm) and crosses the inner layers again and again
 * until ionisation stops it; a forward one hits the disk. */
static void test_range_out_and_disk(void **state)
{
    (void)state;
    struct trk_detector *d = toy_detector(2.0);
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_rng rng;
    trk_rng_seed(&rng, 3, 0);
    double v[3] = {0, 0, 0}, p[3] = {0.07, 0, 0};
    assert_int_equal(trk_propagate(d, v, p, 1, 0.13957, 0, &rng, &t), TRK_OK);
    assert_true(t.nsimhits > 3);
    assert_true(t.nsimhits < 150);
    double plast = sqrt(pow(t.simhits[t.nsimhits - 1].mom[0], 2) +
                        pow(t.simhits[t.nsimhits - 1].mom[1], 2));
    print_message("looper: %zu crossings, last p %.4f GeV\n", t.nsimhits, plast);
    assert_true(plast < 0.065);
    trk_truth_clear(&t);
    double p2[3] = {0.5, 0.1, 3.0};
    assert_int_equal(trk_propagate(d, v, p2, -1, 0.1396, 0, &rng, &t), TRK_OK);
    bool disk = false;
    for (size_t h = 0; h < t.nsimhits; h++)
        disk |= d->modules[t.simhits[h].module].volume_id == 9;
    assert_true(disk);
    trk_truth_fini(&t);
    trk_detector_free(d);
}

/* Same seed, same event; another event number, another event. */
static void test_determinism(void **state)
{
    (void)state;
    struct trk_detector *d = toy_detector(2.0);
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_TRACKML);
    cfg.pileup = 5;
    struct trk_truth a, b;
    trk_truth_init(&a);
    trk_truth_init(&b);
    assert_int_equal(trk_gen_truth(&cfg, d, 7, &a), TRK_OK);
    assert_int_equal(trk_gen_truth(&cfg, d, 7, &b), TRK_OK);
    assert_int_equal(a.nparticles, b.nparticles);
    assert_int_equal(a.nsimhits, b.nsimhits);
    assert_memory_equal(a.simhits, b.simhits, a.nsimhits * sizeof *a.simhits);
    assert_true(a.nvertices >= 1);
    assert_true(a.nparticles > 100);
    assert_int_equal(trk_gen_truth(&cfg, d, 8, &b), TRK_OK);
    assert_true(a.nsimhits != b.nsimhits ||
                memcmp(a.simhits, b.simhits, a.nsimhits * sizeof *a.simhits));
    struct trk_event ev;
    trk_event_init(&ev, 7);
    assert_int_equal(trk_truth_to_event(&a, &ev), TRK_OK);
    size_t n = 0;
    assert_non_null(trk_event_column(&ev, "simhit_pos", TRK_DTYPE_FP32, 3, &n));
    assert_int_equal(n, a.nsimhits);
    assert_non_null(trk_event_column(&ev, "particle_id", TRK_DTYPE_UINT64, 0, &n));
    assert_int_equal(n, a.nparticles);
    trk_event_fini(&ev);
    trk_truth_fini(&a);
    trk_truth_fini(&b);
    trk_detector_free(d);
}

/* Spectra: mean pT of minimum bias near 0.5 GeV, multiplicity per interaction near
 * 5.8 per unit eta. */
static void test_spectra(void **state)
{
    (void)state;
    struct trk_detector *d = toy_detector(2.0);
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_TRACKML);
    cfg.hard_scatter = 0;
    cfg.pileup = 100;
    cfg.pt_min = 0.0;
    cfg.eta_max = 2.0;
    struct trk_truth t;
    trk_truth_init(&t);
    double sumpt = 0, n = 0, nv = 0;
    for (int e = 0; e < 5; e++) {
        assert_int_equal(trk_gen_truth(&cfg, d, (uint64_t)e, &t), TRK_OK);
        for (size_t i = 0; i < t.nparticles; i++)
            sumpt += hypot(t.p[3 * i], t.p[3 * i + 1]);
        n += (double)t.nparticles;
        nv += (double)t.nvertices;
    }
    double meanpt = sumpt / n, dndeta = n / nv / 4.0;
    print_message("mean pT %.3f GeV, dN/deta %.2f per interaction\n", meanpt, dndeta);
    assert_true(meanpt > 0.42 && meanpt < 0.55);
    assert_true(dndeta > 5.0 && dndeta < 6.6);
    trk_truth_fini(&t);
    trk_detector_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_straight_line),
        cmocka_unit_test(test_helix_radius),
        cmocka_unit_test(test_range_out_and_disk),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_spectra),
    };
    return cmocka_run_group_tests_name("gen", tests, NULL, NULL);
}
