/* Model configuration and repository: config.cfg → structs → Triton JSON, every kind
 * of error with its file:line:field message, repository states and version policies. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trk/model_config.h"
#include "trk/model_repository.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* <source dir>/config/examples/models, found from this file's path. */
static void examples_dir(char *buf, size_t len)
{
    snprintf(buf, len, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    assert_non_null(slash);
    snprintf(slash, len - (size_t)(slash - buf), "/../config/examples/models");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fail_msg("cannot create %s: %s", path, strerror(errno));
}

/* A scratch folder under $TMPDIR, removed with everything in it by rm_tree. */
static void make_tmp(char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/trk_test_config.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf))
        fail_msg("mkdtemp: %s", strerror(errno));
}

static void rm_tree(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static struct trk_model_config *parse_ok(const char *text)
{
    struct trk_model_config *c = NULL;
    char err[1024];
    enum trk_status st = trk_model_config_parse(text, "m/config.cfg", &c, err, sizeof err);
    if (st != TRK_OK)
        fail_msg("unexpected error %d: %s", st, err);
    return c;
}

static void assert_json(const struct trk_model_config *c, const char *want)
{
    char *json = NULL;
    assert_int_equal(trk_model_config_to_json(c, &json), TRK_OK);
    if (strcmp(json, want)) {
        print_error("got:  %s\nwant: %s\n", json, want);
        free(json);
        fail();
    }
    free(json);
}

/* Parses text as "m/config.cfg" and asserts TRK_ERR_PARSE with a message starting
 * with `want` (the whole message when exact). */
static void assert_error(const char *text, const char *want, bool exact)
{
    struct trk_model_config *c = (struct trk_model_config *)(uintptr_t)1;
    char err[1024];
    enum trk_status st = trk_model_config_parse(text, "m/config.cfg", &c, err, sizeof err);
    if (st != TRK_ERR_PARSE || c != NULL ||
        (exact ? strcmp(err, want) != 0 : strncmp(err, want, strlen(want)) != 0))
        fail_msg("config:\n%s\nstatus %d, error:\n  %s\nwanted:\n  %s", text, st, err, want);
}

#define IO                                                                                     \
    "input = ( { name = \"X\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"                \
    "output = ( { name = \"Y\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n"

/* ---- valid configs and their JSON ------------------------------------------------- */

static void test_examples_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *model, *json;
    } want[] = {
        {"identity",
         "{\"name\":\"identity\",\"platform\":\"\",\"backend\":\"trkserve\",\"runtime\":\"\","
         "\"version_policy\":{\"latest\":{\"num_versions\":1}},\"max_batch_size\":0,"
         "\"input\":[{\"name\":\"INPUT0\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
         "\"dims\":[-1],\"is_shape_tensor\":false,\"allow_ragged_batch\":false,\"optional\":false,"
         "\"is_non_linear_format_io\":false}],\"output\":[{\"name\":\"OUTPUT0\",\"data_type\":"
         "\"TYPE_FP32\",\"dims\":[-1],\"label_filename\":\"\",\"is_shape_tensor\":false,"
         "\"is_non_linear_format_io\":false}],\"batch_input\":[],\"batch_output\":[],"
         "\"instance_group\":[{\"name\":\"identity_0\",\"kind\":\"KIND_CPU\",\"count\":2,"
         "\"gpus\":[],\"secondary_devices\":[],\"profile\":[],\"passive\":false,"
         "\"host_policy\":\"\"}],\"default_model_filename\":\"\",\"cc_model_filenames\":{},"
         "\"metric_tags\":{},\"parameters\":{\"any_dtype\":{\"string_value\":\"true\"},"
         "\"any_shape\":{\"string_value\":\"true\"}},\"model_warmup\":[]}"},
        {"sum",
         "{\"name\":\"sum\",\"platform\":\"\",\"backend\":\"trkserve\",\"runtime\":\"\","
         "\"version_policy\":{\"latest\":{\"num_versions\":1}},\"max_batch_size\":0,"
         "\"input\":[{\"name\":\"INPUT0\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
         "\"dims\":[-1],\"is_shape_tensor\":false,\"allow_ragged_batch\":false,\"optional\":false,"
         "\"is_non_linear_format_io\":false}],\"output\":[{\"name\":\"OUTPUT0\",\"data_type\":"
         "\"TYPE_FP32\",\"dims\":[1],\"label_filename\":\"\",\"is_shape_tensor\":false,"
         "\"is_non_linear_format_io\":false}],\"batch_input\":[],\"batch_output\":[],"
         "\"instance_group\":[{\"name\":\"sum_0\",\"kind\":\"KIND_AUTO\",\"count\":1,\"gpus\":[],"
         "\"secondary_devices\":[],\"profile\":[],\"passive\":false,\"host_policy\":\"\"}],"
         "\"default_model_filename\":\"\",\"cc_model_filenames\":{},\"metric_tags\":{},"
         "\"parameters\":{},\"model_warmup\":[]}"},
        {"gemm",
         "{\"name\":\"gemm\",\"platform\":\"\",\"backend\":\"trkserve\",\"runtime\":\"\","
         "\"version_policy\":{\"latest\":{\"num_versions\":1}},\"max_batch_size\":256,"
         "\"input\":[{\"name\":\"INPUT0\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
         "\"dims\":[1024],\"is_shape_tensor\":false,\"allow_ragged_batch\":false,\"optional\":false,"
         "\"is_non_linear_format_io\":false}],\"output\":[{\"name\":\"OUTPUT0\",\"data_type\":"
         "\"TYPE_FP32\",\"dims\":[1024],\"label_filename\":\"\",\"is_shape_tensor\":false,"
         "\"is_non_linear_format_io\":false}],\"batch_input\":[],\"batch_output\":[],"
         "\"dynamic_batching\":{\"preferred_batch_size\":[64,128],"
         "\"max_queue_delay_microseconds\":2000,\"preserve_ordering\":false,\"priority_levels\":0,"
         "\"default_priority_level\":0,\"default_queue_policy\":{\"timeout_action\":\"REJECT\","
         "\"default_timeout_microseconds\":0,\"allow_timeout_override\":true,"
         "\"max_queue_size\":0},\"priority_queue_policy\":{}},\"instance_group\":[{\"name\":"
         "\"gemm_cpu\",\"kind\":\"KIND_CPU\",\"count\":1,\"gpus\":[],\"secondary_devices\":[],"
         "\"profile\":[],\"passive\":false,\"host_policy\":\"\"}],\"default_model_filename\":\"\","
         "\"cc_model_filenames\":{},\"metric_tags\":{},\"parameters\":{\"activation\":"
         "{\"string_value\":\"relu\"},\"depth\":{\"string_value\":\"8\"},\"hidden_size\":"
         "{\"string_value\":\"1024\"},\"input_size\":{\"string_value\":\"1024\"},\"output_size\":"
         "{\"string_value\":\"1024\"},\"seed\":{\"string_value\":\"42\"}},\"model_warmup\":[]}"},
    };
    char dir[1024], path[1200], err[1024];
    examples_dir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(path, sizeof path, "%s/%s/config.cfg", dir, want[i].model);
        struct trk_model_config *c = NULL;
        if (trk_model_config_load(path, &c, err, sizeof err) != TRK_OK)
            fail_msg("%s", err);
        assert_string_equal(err, "");
        assert_string_equal(c->name, want[i].model);
        assert_string_equal(c->algorithm, want[i].model);
        assert_json(c, want[i].json);
        trk_model_config_free(c);
    }

    /* the gemm example as structs, including the trkserve extras */
    snprintf(path, sizeof path, "%s/gemm/config.cfg", dir);
    struct trk_model_config *c = NULL;
    assert_int_equal(trk_model_config_load(path, &c, err, sizeof err), TRK_OK);
    assert_int_equal(c->max_batch_size, 256);
    assert_int_equal(c->ninstance_groups, 1);
    assert_int_equal(c->instance_groups[0].kind, TRK_INSTANCE_KIND_CPU);
    assert_int_equal(c->instance_groups[0].ndevices, 1);
    assert_string_equal(c->instance_groups[0].devices[0], "cpu");
    assert_int_equal(c->queue_capacity, 1024);
    assert_int_equal(c->max_request_bytes, 268435456);
    assert_int_equal(trk_model_config_queue_limit(c), 1024);
    assert_string_equal(trk_model_config_platform(c), "trkserve");
    assert_non_null(strstr(c->path, "gemm/config.cfg"));
    assert_non_null(strstr(c->dir, "/gemm"));
    int64_t depth = 0;
    assert_int_equal(trk_model_config_param_i64(c, "depth", 1, 1, 64, &depth), TRK_OK);
    assert_int_equal(depth, 8);
    trk_model_config_free(c);
}

static void test_defaults(void **state)
{
    (void)state;
    /* name from the folder, backend "trkserve", latest 1, one KIND_AUTO group, no
     * dynamic batching, default queue */
    struct trk_model_config *c = parse_ok("algorithm = \"sum\";\n" IO);
    assert_string_equal(c->name, "m");
    assert_string_equal(c->platform, "");
    assert_string_equal(c->backend, "trkserve");
    assert_int_equal(c->version_policy.kind, TRK_VERSION_POLICY_LATEST);
    assert_int_equal(c->version_policy.num_versions, 1);
    assert_int_equal(c->max_batch_size, 0);
    assert_int_equal(c->ninstance_groups, 1);
    assert_string_equal(c->instance_groups[0].name, "m");
    assert_int_equal(c->instance_groups[0].kind, TRK_INSTANCE_KIND_AUTO);
    assert_int_equal(c->instance_groups[0].count, 1);
    assert_int_equal(c->instance_groups[0].ndevices, 0);
    assert_false(c->dynamic_batching.present);
    assert_int_equal(c->queue_capacity, TRK_MODEL_DEFAULT_QUEUE);
    assert_int_equal(c->max_request_bytes, 0);
    assert_int_equal(c->nparameters, 0);
    assert_null(trk_model_config_param(c, "x"));
    assert_string_equal(c->inputs[0].name, "X");
    assert_ptr_equal(trk_model_config_input(c, "X"), &c->inputs[0]);
    assert_ptr_equal(trk_model_config_output(c, "Y"), &c->outputs[0]);
    assert_null(trk_model_config_input(c, "Y"));
    assert_json(c,
                "{\"name\":\"m\",\"platform\":\"\",\"backend\":\"trkserve\",\"runtime\":\"\","
                "\"version_policy\":{\"latest\":{\"num_versions\":1}},\"max_batch_size\":0,"
                "\"input\":[{\"name\":\"X\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
                "\"dims\":[-1],\"is_shape_tensor\":false,\"allow_ragged_batch\":false,"
                "\"optional\":false,\"is_non_linear_format_io\":false}],\"output\":[{\"name\":"
                "\"Y\",\"data_type\":\"TYPE_FP32\",\"dims\":[1],\"label_filename\":\"\","
                "\"is_shape_tensor\":false,\"is_non_linear_format_io\":false}],"
                "\"batch_input\":[],\"batch_output\":[],\"instance_group\":[{\"name\":\"m\","
                "\"kind\":\"KIND_AUTO\",\"count\":1,\"gpus\":[],\"secondary_devices\":[],"
                "\"profile\":[],\"passive\":false,\"host_policy\":\"\"}],"
                "\"default_model_filename\":\"\",\"cc_model_filenames\":{},\"metric_tags\":{},"
                "\"parameters\":{},\"model_warmup\":[]}");
    trk_model_config_free(c);

    /* with no origin there is no folder to take the name from */
    char err[512];
    assert_int_equal(trk_model_config_parse("algorithm = \"sum\";\n" IO, NULL, &c, err, sizeof err),
                     TRK_ERR_PARSE);
    assert_string_equal(err, "<string>: field 'name': required (no model folder to take it from)");
    c = NULL;
    assert_int_equal(
        trk_model_config_parse("name = \"s\"; algorithm = \"sum\";\n" IO, NULL, &c, err, sizeof err),
        TRK_OK);
    assert_string_equal(c->name, "s");
    assert_string_equal(c->path, "<string>");
    trk_model_config_free(c);
}

static void test_everything_round_trip(void **state)
{
    (void)state;
    struct trk_model_config *c = parse_ok(
        "name = \"m\";\n"
        "algorithm = \"exatrkx\";\n"
        "platform = \"trk_gnn\";\n"
        "version_policy = { specific = { versions = [ 3, 1 ]; }; };\n"
        "max_batch_size = 8;\n"
        "inputs = (\n"
        "  { name = \"HITS\"; data_type = \"FP32\"; dims = [ -1, 3 ];\n"
        "    reshape = { shape = [ -1, 3, 1 ]; }; allow_ragged_batch = true; },\n"
        "  { name = \"IDS\"; data_type = \"TYPE_INT64\"; dims = [ 2, 2 ];\n"
        "    reshape = { shape = [ 4 ]; }; optional = true; },\n"
        "  { name = \"TAG\"; data_type = \"BYTES\"; dims = [ 1 ]; reshape = { shape = [ ]; }; }\n"
        ");\n"
        "outputs = ( { name = \"TRACKS\"; data_type = \"TYPE_UINT32\"; dims = [ -1 ]; } );\n"
        "instance_group = (\n"
        "  { kind = \"KIND_GPU\"; count = 2; gpus = [ 0, 1 ]; },\n"
        "  { name = \"cl\"; kind = \"KIND_GPU\"; devices = [ \"cuda:1\", \"opencl:0\", \"hip:2\" ]; },\n"
        "  { kind = \"KIND_CPU\"; devices = [ \"cpu\" ]; },\n"
        "  { kind = \"KIND_AUTO\"; devices = ( \"accelerator:0\", 3 ); },\n"
        "  { kind = \"KIND_MODEL\"; }\n"
        ");\n"
        "dynamic_batching = {\n"
        "  preferred_batch_size = [ 4, 8 ];\n"
        "  max_queue_delay_microseconds = 5000000000L;\n"
        "  preserve_ordering = true;\n"
        "  default_queue_policy = { timeout_action = \"DELAY\"; allow_timeout_override = true;\n"
        "                           max_queue_size = 64; };\n"
        "};\n"
        "parameters = (\n"
        "  { key = \"model.path\"; value = \"weights/\\\"q\\\"\\\\x\"; },\n"
        "  { key = \"depth\"; value = 3; },\n"
        "  { key = \"scale\"; value = 0.1; },\n"
        "  { key = \"big\"; value = 4294967296L; },\n"
        "  { key = \"on\"; value = true; },\n"
        "  { key = \"triton\"; value = { string_value = \"caf\\xc3\\xa9 \\xff\"; }; }\n"
        ");\n"
        "queue_capacity = 16;\n"
        "max_request_bytes = 4294967296L;\n");
    assert_int_equal(c->version_policy.kind, TRK_VERSION_POLICY_SPECIFIC);
    assert_int_equal(c->version_policy.nversions, 2);
    assert_int_equal(c->version_policy.versions[0], 1);
    assert_int_equal(c->inputs[2].data_type, TRK_DTYPE_BYTES);
    assert_true(c->inputs[0].has_reshape);
    assert_int_equal(c->inputs[2].reshape_ndims, 0);
    assert_int_equal(c->instance_groups[0].ndevices, 2);
    assert_string_equal(c->instance_groups[0].devices[1], "gpu:1");
    assert_string_equal(c->instance_groups[0].name, "m_0");
    assert_string_equal(c->instance_groups[1].devices[2], "hip:2");
    assert_string_equal(c->instance_groups[3].devices[0], "accelerator:0");
    assert_string_equal(c->instance_groups[3].devices[1], "gpu:3");
    assert_int_equal(c->instance_groups[3].ngpus, 1);
    assert_int_equal(c->dynamic_batching.max_queue_delay_microseconds, 5000000000ULL);
    assert_int_equal(c->max_request_bytes, 4294967296ULL);
    assert_int_equal(trk_model_config_queue_limit(c), 64);
    assert_string_equal(trk_model_config_platform(c), "trk_gnn");
    assert_string_equal(c->backend, "");
    assert_string_equal(trk_model_config_param(c, "scale"), "0.1");
    assert_string_equal(trk_model_config_param(c, "big"), "4294967296");
    assert_string_equal(trk_model_config_param(c, "model.path"), "weights/\"q\"\\x");
    bool on = false;
    assert_int_equal(trk_model_config_param_bool(c, "on", false, &on), TRK_OK);
    assert_true(on);
    assert_json(
        c,
        "{\"name\":\"m\",\"platform\":\"trk_gnn\",\"backend\":\"\",\"runtime\":\"\","
        "\"version_policy\":{\"specific\":{\"versions\":[1,3]}},\"max_batch_size\":8,"
        "\"input\":[{\"name\":\"HITS\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
        "\"dims\":[-1,3],\"reshape\":{\"shape\":[-1,3,1]},\"is_shape_tensor\":false,"
        "\"allow_ragged_batch\":true,\"optional\":false,\"is_non_linear_format_io\":false},"
        "{\"name\":\"IDS\",\"data_type\":\"TYPE_INT64\",\"format\":\"FORMAT_NONE\",\"dims\":[2,2],"
        "\"reshape\":{\"shape\":[4]},\"is_shape_tensor\":false,\"allow_ragged_batch\":false,"
        "\"optional\":true,\"is_non_linear_format_io\":false},{\"name\":\"TAG\",\"data_type\":"
        "\"TYPE_STRING\",\"format\":\"FORMAT_NONE\",\"dims\":[1],\"reshape\":{\"shape\":[]},"
        "\"is_shape_tensor\":false,\"allow_ragged_batch\":false,\"optional\":false,"
        "\"is_non_linear_format_io\":false}],\"output\":[{\"name\":\"TRACKS\",\"data_type\":"
        "\"TYPE_UINT32\",\"dims\":[-1],\"label_filename\":\"\",\"is_shape_tensor\":false,"
        "\"is_non_linear_format_io\":false}],\"batch_input\":[],\"batch_output\":[],"
        "\"dynamic_batching\":{\"preferred_batch_size\":[4,8],"
        "\"max_queue_delay_microseconds\":5000000000,\"preserve_ordering\":true,"
        "\"priority_levels\":0,\"default_priority_level\":0,\"default_queue_policy\":"
        "{\"timeout_action\":\"DELAY\",\"default_timeout_microseconds\":0,"
        "\"allow_timeout_override\":true,\"max_queue_size\":64},\"priority_queue_policy\":{}},"
        "\"instance_group\":[{\"name\":\"m_0\",\"kind\":\"KIND_GPU\",\"count\":2,\"gpus\":[0,1],"
        "\"secondary_devices\":[],\"profile\":[],\"passive\":false,\"host_policy\":\"\"},"
        "{\"name\":\"cl\",\"kind\":\"KIND_GPU\",\"count\":1,\"gpus\":[],\"secondary_devices\":[],"
        "\"profile\":[],\"passive\":false,\"host_policy\":\"\"},{\"name\":\"m_2\",\"kind\":"
        "\"KIND_CPU\",\"count\":1,\"gpus\":[],\"secondary_devices\":[],\"profile\":[],"
        "\"passive\":false,\"host_policy\":\"\"},{\"name\":\"m_3\",\"kind\":\"KIND_AUTO\","
        "\"count\":1,\"gpus\":[3],\"secondary_devices\":[],\"profile\":[],\"passive\":false,"
        "\"host_policy\":\"\"},{\"name\":\"m_4\",\"kind\":\"KIND_MODEL\",\"count\":1,\"gpus\":[],"
        "\"secondary_devices\":[],\"profile\":[],\"passive\":false,\"host_policy\":\"\"}],"
        "\"default_model_filename\":\"\",\"cc_model_filenames\":{},\"metric_tags\":{},"
        "\"parameters\":{\"big\":{\"string_value\":\"4294967296\"},\"depth\":{\"string_value\":"
        "\"3\"},\"model.path\":{\"string_value\":\"weights/\\\"q\\\"\\\\x\"},\"on\":"
        "{\"string_value\":\"true\"},\"scale\":{\"string_value\":\"0.1\"},\"triton\":"
        "{\"string_value\":\"caf\xc3\xa9 \\ufffd\"}},\"model_warmup\":[]}");
    trk_model_config_free(c);

    /* preferred sizes default to max_batch_size, as Triton normalises; group-form
     * parameters; ':' assignments as in a pbtxt */
    c = parse_ok("algorithm: \"gemm\";\nmax_batch_size: 32;\n" IO
                 "dynamic_batching = { };\nparameters = { n = -4; f = 2.5e-3; s = \"x\"; };\n");
    assert_int_equal(c->dynamic_batching.npreferred, 1);
    assert_int_equal(c->dynamic_batching.preferred_batch_size[0], 32);
    assert_false(c->dynamic_batching.has_default_queue_policy);
    assert_string_equal(trk_model_config_param(c, "n"), "-4");
    assert_string_equal(trk_model_config_param(c, "f"), "0.0025");
    int64_t n = 0;
    trk_log_set_sink(tt_log_capture, NULL);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_model_config_param_i64(c, "n", 0, -10, 10, &n), TRK_OK);
    assert_int_equal(n, -4);
    assert_int_equal(trk_model_config_param_i64(c, "n", 0, 0, 10, &n), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_model_config_param_i64(c, "s", 0, 0, 10, &n), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_model_config_param_i64(c, "absent", 7, 0, 10, &n), TRK_OK);
    assert_int_equal(n, 7);
    bool b = true;
    assert_int_equal(trk_model_config_param_bool(c, "s", false, &b), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_model_config_param_bool(c, "absent", false, &b), TRK_OK);
    assert_false(b);
    trk_log_set_sink(NULL, NULL);
    assert_non_null(strstr(tt_log_text, "model 'm': parameter 's' = 'x' is not an integer in "
                                        "[0, 10]"));
    assert_non_null(strstr(tt_log_text, "parameter 's' = 'x' is not a boolean"));
    assert_json(c,
                "{\"name\":\"m\",\"platform\":\"\",\"backend\":\"trkserve\",\"runtime\":\"\","
                "\"version_policy\":{\"latest\":{\"num_versions\":1}},\"max_batch_size\":32,"
                "\"input\":[{\"name\":\"X\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
                "\"dims\":[-1],\"is_shape_tensor\":false,\"allow_ragged_batch\":false,"
                "\"optional\":false,\"is_non_linear_format_io\":false}],\"output\":[{\"name\":"
                "\"Y\",\"data_type\":\"TYPE_FP32\",\"dims\":[1],\"label_filename\":\"\","
                "\"is_shape_tensor\":false,\"is_non_linear_format_io\":false}],"
                "\"batch_input\":[],\"batch_output\":[],\"dynamic_batching\":"
                "{\"preferred_batch_size\":[32],\"max_queue_delay_microseconds\":0,"
                "\"preserve_ordering\":false,\"priority_levels\":0,\"default_priority_level\":0,"
                "\"priority_queue_policy\":{}},\"instance_group\":[{\"name\":\"m\",\"kind\":"
                "\"KIND_AUTO\",\"count\":1,\"gpus\":[],\"secondary_devices\":[],\"profile\":[],"
                "\"passive\":false,\"host_policy\":\"\"}],\"default_model_filename\":\"\","
                "\"cc_model_filenames\":{},\"metric_tags\":{},\"parameters\":{\"f\":"
                "{\"string_value\":\"0.0025\"},\"n\":{\"string_value\":\"-4\"},\"s\":"
                "{\"string_value\":\"x\"}},\"model_warmup\":[]}");
    trk_model_config_free(c);

    /* version policies */
    c = parse_ok("algorithm = \"sum\";\n" IO "version_policy = { all = { }; };\n");
    assert_int_equal(c->version_policy.kind, TRK_VERSION_POLICY_ALL);
    char *json = NULL;
    assert_int_equal(trk_model_config_to_json(c, &json), TRK_OK);
    assert_non_null(strstr(json, "\"version_policy\":{\"all\":{}},"));
    free(json);
    trk_model_config_free(c);
    c = parse_ok("algorithm = \"sum\";\n" IO "version_policy = { latest = { num_versions = 3; }; };\n");
    assert_int_equal(c->version_policy.num_versions, 3);
    trk_model_config_free(c);
}

static void test_refcount(void **state)
{
    (void)state;
    struct trk_model_config *c = parse_ok("algorithm = \"sum\";\n" IO);
    assert_ptr_equal(trk_model_config_ref(c), c);
    trk_model_config_free(c); /* one reference left */
    assert_string_equal(c->name, "m");
    trk_model_config_free(c);
    trk_model_config_free(NULL);
    assert_null(trk_model_config_ref(NULL));
    char *json = (char *)(uintptr_t)1;
    assert_int_equal(trk_model_config_to_json(NULL, &json), TRK_ERR_INVALID_ARG);
    assert_null(json);
}

/* ---- errors ----------------------------------------------------------------------- */

static void test_errors_exact(void **state)
{
    (void)state;
    /* the message form of the issue, exactly */
    assert_error("algorithm = \"sum\";\n"
                 "input = (\n"
                 "  { name = \"A\"; data_type = \"TYPE_FP32\"; dims = [ 4 ]; },\n"
                 "  { name = \"B\";\n"
                 "    data_type = \"TYPE_FLOAT\"; dims = [ 4 ]; }\n"
                 ");\n"
                 "output = ( { name = \"Y\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n",
                 "m/config.cfg:5: field 'input.[1].data_type': unknown type 'TYPE_FLOAT'; did you "
                 "mean 'TYPE_FP32'? use one of TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, "
                 "TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, "
                 "TYPE_FP32, TYPE_FP64, TYPE_STRING",
                 true);
    assert_error("algorithm = \"sum\";\n" IO "data = \"TYPE_QUUX\";\n",
                 "m/config.cfg:4: field 'data': unknown field; expected one of name, algorithm, "
                 "platform, backend, version_policy, max_batch_size, input, inputs, output, "
                 "outputs, instance_group, dynamic_batching, parameters, queue_capacity, "
                 "max_request_bytes",
                 true);
    assert_error("algorithm = \"sum\";\n"
                 "input = ( { name = \"X\"; data_type = \"TYPE_BLOB\"; dims = [ 1 ]; } );\n",
                 "m/config.cfg:2: field 'input.[0].data_type': unknown type 'TYPE_BLOB'; use one "
                 "of TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, TYPE_UINT64, TYPE_INT8, "
                 "TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64, TYPE_STRING",
                 true);
}

static void test_errors_each_kind(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        /* libconfig syntax errors: file, line and libconfig's text */
        {"algorithm = \"sum\";\n" IO "max_batch_size = ;\n",
         "m/config.cfg:4: syntax error (libconfig syntax:"},
        {"algorithm = \"sum\";\nalgorithm = \"gemm\";\n" IO,
         "m/config.cfg:2: duplicate setting name"},
        {"algorithm = \"sum\";\n" IO "x = [ 1, \"a\" ];\n",
         "m/config.cfg:4: mismatched element type in array"},
        {"@include \"other.cfg\"\nalgorithm = \"sum\";\n" IO,
         "m/config.cfg:1: @include is not supported"},
        /* integers libconfig 1.5 would silently wrap */
        {"algorithm = \"sum\";\n" IO "max_request_bytes = 4294967296;\n",
         "m/config.cfg:4: field 'max_request_bytes': integer 4294967296 does not fit in 32 bits "
         "and libconfig would misread it; write 4294967296L for a 64-bit value"},
        {"algorithm = \"sum\";\ninput = ( { name = \"X\"; data_type = \"TYPE_FP32\";\n"
         "  dims = [ 2, -3000000000 ]; } );\n",
         "m/config.cfg:3: field 'input.[0].dims.[1]': integer -3000000000 does not fit"},
        {"algorithm = \"sum\";\ninput = ( { name = \"X\"; data_type = \"TYPE_FP32\";\n"
         "  dims = [ 1, 4294967297 ]; } );\n",
         "m/config.cfg:3: field 'input.[0].dims.[1]': integer 4294967297 does not fit"},
        {"algorithm = \"sum\";\ninput = ( { name = \"X\"; data_type = \"TYPE_FP32\";\n"
         "  dims = ( 1, 2.5, 1, 99999999999 ); } ); # 3000000000\n",
         "m/config.cfg:3: field 'input.[0].dims.[3]': integer 99999999999 does not fit"},
        {"algorithm = \"sum\";\n" IO "parameters = { big = 99999999999999999999L; };\n",
         "m/config.cfg:4: field 'parameters.big': integer 99999999999999999999L does not fit"},
        {"algorithm = \"sum\";\n" IO "queue_capacity = 0x80000000;\n",
         "m/config.cfg:4: field 'queue_capacity': integer 0x80000000 does not fit"},
        /* missing and misspelt fields */
        {IO, "m/config.cfg: field 'algorithm': required: the trkserve implementation"},
        {"algorithm = \"sum\";\n", "m/config.cfg: field 'input': required: a list of tensors"},
        {"algorithm = \"sum\";\ninput = ( { name = \"X\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg: field 'output': required"},
        {"algorithm = \"sum\";\n" IO "max_batch = 4;\n",
         "m/config.cfg:4: field 'max_batch': unknown field; did you mean 'max_batch_size'?"},
        {"algorithm = \"sum\";\n" IO "sequence_batching = { };\n",
         "m/config.cfg:4: field 'sequence_batching': Triton's 'sequence_batching' is not "
         "supported by trkserve"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; dtype = \"TYPE_FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].dtype': unknown field; did you mean 'data_type'?"},
        {"algorithm = \"sum\";\ninput = ( { name = \"X\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].data_type': required"},
        {"algorithm = \"sum\";\ninput = ( { data_type = \"FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].name': required"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"TYPE_FP32\"; format = \"FORMAT_NHWC\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].format': Triton's 'format' is not supported"},
        /* types */
        {"algorithm = \"sum\";\n" IO "max_batch_size = \"8\";\n",
         "m/config.cfg:4: field 'max_batch_size': expected an integer, got a string"},
        {"algorithm = 7;\n" IO,
         "m/config.cfg:1: field 'algorithm': expected a string in double quotes, got an integer"},
        {"algorithm = \"Sum-1\";\n" IO,
         "m/config.cfg:1: field 'algorithm': 'Sum-1' is not an algorithm name"},
        {"algorithm = \"sum\";\n"
         "input = { name = \"X\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; };\n",
         "m/config.cfg:2: field 'input': expected a list of groups; wrap the group in "
         "parentheses: input = ( { ... } );"},
        {"algorithm = \"sum\";\n" IO "dynamic_batching = 1;\n",
         "m/config.cfg:4: field 'dynamic_batching': expected a group { ... }, got an integer"},
        {"algorithm = \"sum\";\n" IO "parameters = { a = [ 1, 2 ]; };\n",
         "m/config.cfg:4: field 'parameters.a': a parameter value must be a string, number or "
         "boolean"},
        {"algorithm = \"sum\";\n" IO "parameters = ( { key = \"a\"; value = 1; }, { key = \"a\"; value = 2; } );\n",
         "m/config.cfg:4: field 'parameters.[1].key': duplicate parameter 'a'"},
        /* names */
        {"name = \"../etc\";\nalgorithm = \"sum\";\n" IO,
         "m/config.cfg:1: field 'name': '../etc' is not a valid model name"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 1 ]; },\n"
         "          { name = \"X\"; data_type = \"FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:3: field 'input.[1].name': duplicate input name 'X' (also input.[0])"},
        {"algorithm = \"sum\";\n" IO "inputs = ( );\n",
         "m/config.cfg:4: field 'inputs': give either 'input' or 'inputs', not both"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"\"; data_type = \"FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].name': must not be empty"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"0123456789012345678901234567890123456789012345678901234567890123\"; "
         "data_type = \"FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].name': longer than 63 characters"},
        /* data types */
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"TYPE_BF16\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].data_type': TYPE_BF16 is not supported by trkserve"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"type_fp32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].data_type': unknown type 'type_fp32'; did you mean "
         "'TYPE_FP32'?"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"double\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].data_type': unknown type 'double'; did you mean "
         "'TYPE_FP64'?"},
        /* dims and reshape */
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 4, 0 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].dims.[1]': dimension must be an integer >= 1, or -1 "
         "for a variable-size dimension, got 0"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ -2 ]; } );\n",
         "m/config.cfg:2: field 'input.[0].dims.[0]': dimension must be an integer >= 1"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ ]; } );\n",
         "m/config.cfg:2: field 'input.[0].dims': must list at least one dimension"},
        {"algorithm = \"sum\";\nmax_batch_size = 4;\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 1, 1, 1, 1, 1, 1, 1, 1 ]; } );\n",
         "m/config.cfg:3: field 'input.[0].dims': at most 7 dimensions besides the batch "
         "dimension, got 8"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 2, 3 ]; reshape = { shape = [ 5 ]; }; } );\n",
         "m/config.cfg:2: field 'input.[0].reshape.shape': holds a different number of elements "
         "than dims"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 2, -1 ]; reshape = { shape = [ -1, 2 ]; }; } );\n",
         "m/config.cfg:2: field 'input.[0].reshape.shape': holds a different number"},
        {"algorithm = \"sum\";\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 1 ]; reshape = { shape = [ ]; }; } );\n",
         "m/config.cfg:2: field 'input.[0].reshape.shape': cannot be empty for a non-batching "
         "model"},
        {"algorithm = \"sum\";\n"
         "output = ( { name = \"Y\"; data_type = \"FP32\"; dims = [ 1 ]; optional = true; } );\n"
         "input = ( { name = \"X\"; data_type = \"FP32\"; dims = [ 1 ]; } );\n",
         "m/config.cfg:2: field 'output.[0].optional': unknown field"},
        /* batching */
        {"algorithm = \"sum\";\n" IO "max_batch_size = -1;\n",
         "m/config.cfg:4: field 'max_batch_size': 'max_batch_size' must be non-negative"},
        {"algorithm = \"sum\";\n" IO "max_batch_size = 8;\n"
         "dynamic_batching = { preferred_batch_size = [ 4, 16 ]; };\n",
         "m/config.cfg:5: field 'dynamic_batching.preferred_batch_size.[1]': dynamic batching "
         "preferred size must be <= max_batch_size (8), got 16"},
        {"algorithm = \"sum\";\n" IO "max_batch_size = 8;\n"
         "dynamic_batching = { preferred_batch_size = [ 0 ]; };\n",
         "m/config.cfg:5: field 'dynamic_batching.preferred_batch_size.[0]': dynamic batching "
         "preferred size must be positive, got 0"},
        {"algorithm = \"sum\";\n" IO "max_batch_size = 8;\n"
         "dynamic_batching = { max_queue_delay_microseconds = -5; };\n",
         "m/config.cfg:5: field 'dynamic_batching.max_queue_delay_microseconds': must be >= 0, "
         "got -5"},
        {"algorithm = \"sum\";\n" IO "max_batch_size = 8;\n"
         "dynamic_batching = { priority_levels = 2; };\n",
         "m/config.cfg:5: field 'dynamic_batching.priority_levels': Triton's 'priority_levels' "
         "is not supported"},
        {"algorithm = \"sum\";\n" IO "max_batch_size = 8;\n"
         "dynamic_batching = { preserve_ordering = true;\n"
         "  default_queue_policy = { timeout_action = \"DELAY\"; default_timeout_microseconds = 10; }; };\n",
         "m/config.cfg:6: field 'dynamic_batching.default_queue_policy.timeout_action': queue "
         "policy can not have DELAY"},
        {"algorithm = \"sum\";\n" IO "dynamic_batching = { default_queue_policy = { timeout_action = \"DROP\"; }; };\n",
         "m/config.cfg:4: field 'dynamic_batching.default_queue_policy.timeout_action': unknown "
         "action 'DROP'; use REJECT or DELAY"},
        /* version policy */
        {"algorithm = \"sum\";\n" IO "version_policy = { all = { }; latest = { }; };\n",
         "m/config.cfg:4: field 'version_policy': give exactly one of latest"},
        {"algorithm = \"sum\";\n" IO "version_policy = { newest = { }; };\n",
         "m/config.cfg:4: field 'version_policy.newest': unknown field; expected one of latest, "
         "all, specific"},
        {"algorithm = \"sum\";\n" IO "version_policy = { latest = { num_versions = 0; }; };\n",
         "m/config.cfg:4: field 'version_policy.latest.num_versions': must be between 1 and"},
        {"algorithm = \"sum\";\n" IO "version_policy = { specific = { versions = [ 2, 2 ]; }; };\n",
         "m/config.cfg:4: field 'version_policy.specific.versions': version 2 is listed twice"},
        {"algorithm = \"sum\";\n" IO "version_policy = { specific = { versions = [ ]; }; };\n",
         "m/config.cfg:4: field 'version_policy.specific.versions': must list at least one"},
        {"algorithm = \"sum\";\n" IO "version_policy = { specific = { versions = [ 0 ]; }; };\n",
         "m/config.cfg:4: field 'version_policy.specific.versions.[0]': must be >= 1, got 0"},
        {"algorithm = \"sum\";\n" IO "version_policy = { all = { x = 1; }; };\n",
         "m/config.cfg:4: field 'version_policy.all.x': 'all' takes no fields"},
        /* instance groups: kinds and devices */
        {"algorithm = \"sum\";\n" IO "instance_group = ( { kind = \"KIND_CPU\"; gpus = [ 0 ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].gpus.[0]': instance group 'm_0' of model 'm' "
         "has kind KIND_CPU but specifies one or more GPUs"},
        {"algorithm = \"sum\";\n" IO
         "instance_group = ( { kind = \"KIND_CPU\"; devices = [ \"cpu\", \"cuda:0\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[1]': instance group 'm_0' has kind "
         "KIND_CPU but lists device 'cuda:0'; use KIND_GPU or KIND_AUTO for it"},
        {"algorithm = \"sum\";\n" IO
         "instance_group = ( { name = \"g\"; kind = \"KIND_GPU\"; devices = [ \"cpu\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': instance group 'g' has kind "
         "KIND_GPU but lists device 'cpu'"},
        {"algorithm = \"sum\";\n" IO
         "instance_group = ( { kind = \"KIND_GPU\"; devices = [ \"accelerator:0\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': instance group 'm_0' has kind "
         "KIND_GPU but lists device 'accelerator:0'"},
        {"algorithm = \"sum\";\n" IO
         "instance_group = ( { kind = \"KIND_MODEL\"; devices = [ \"cpu\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': instance group 'm_0' has kind "
         "KIND_MODEL: the algorithm places its instances, so list no devices"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { devices = [ \"cdua:0\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': unknown device 'cdua:0'; did "
         "you mean 'cuda'? devices are cpu, gpu, cuda, hip, opencl"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { devices = [ \"fpga\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': unknown device 'fpga'; devices "
         "are"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { devices = [ \"cuda:x\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': malformed device 'cuda:x': the "
         "part after ':' must be an index"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { devices = [ \"cuda:01\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': malformed device 'cuda:01'"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { devices = [ \"cuda:0\", \"cuda:0\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[1]': device 'cuda:0' is listed twice"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { devices = [ \"auto\", \"cpu\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': 'auto' cannot be combined"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { kind = \"KIND_CPU\"; devices = [ \"auto\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices.[0]': instance group 'm_0' has kind "
         "KIND_CPU but lists device 'auto'"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { gpus = [ \"cuda:0\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].gpus.[0]': Triton's 'gpus' takes integer GPU "
         "ids"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { gpus = [ 0 ]; devices = [ \"cpu\" ]; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].devices': give either Triton's 'gpus'"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { kind = \"KIND_CUDA\"; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].kind': unknown kind 'KIND_CUDA'; use one of "
         "KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { kind = \"GPU\"; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].kind': unknown kind 'GPU'; did you mean "
         "'KIND_GPU'?"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { count = 0; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].count': must be between 1 and 1024, got 0"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { name = \"a\"; }, { name = \"a\"; } );\n",
         "m/config.cfg:4: field 'instance_group.[1].name': duplicate instance group name 'a'"},
        {"algorithm = \"sum\";\n" IO "instance_group = ( { passive = true; } );\n",
         "m/config.cfg:4: field 'instance_group.[0].passive': Triton's 'passive' is not "
         "supported"},
        /* trkserve extras */
        {"algorithm = \"sum\";\n" IO "queue_capacity = 0;\n",
         "m/config.cfg:4: field 'queue_capacity': must be between 1 and 1000000, got 0"},
        {"algorithm = \"sum\";\n" IO "max_request_bytes = -1;\n",
         "m/config.cfg:4: field 'max_request_bytes': must be >= 0, got -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error(cases[i].text, cases[i].want, false);
}

static void test_error_plumbing(void **state)
{
    (void)state;
    char dir[1024], path[1200], err[1024];
    struct trk_model_config *c = (struct trk_model_config *)(uintptr_t)1;

    /* a missing file: NOT_FOUND and the OS's reason */
    make_tmp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/absent/config.cfg", dir);
    assert_int_equal(trk_model_config_load(path, &c, err, sizeof err), TRK_ERR_NOT_FOUND);
    assert_null(c);
    assert_non_null(strstr(err, "absent/config.cfg: cannot open: No such file or directory"));

    /* a real file: the path in the message is the file's, the name its folder's */
    snprintf(path, sizeof path, "%s/model_a", dir);
    make_dir(path);
    snprintf(path, sizeof path, "%s/model_a/config.cfg", dir);
    write_file(path, "algorithm = \"sum\";\n" IO "max_batch_size = 1.5;\n");
    assert_int_equal(trk_model_config_load(path, &c, err, sizeof err), TRK_ERR_PARSE);
    char want[1400];
    snprintf(want, sizeof want,
             "%s:4: field 'max_batch_size': expected an integer, got a floating-point number",
             path);
    assert_string_equal(err, want);
    write_file(path, "algorithm = \"sum\";\n" IO);
    assert_int_equal(trk_model_config_load(path, &c, err, sizeof err), TRK_OK);
    assert_string_equal(c->name, "model_a");
    assert_string_equal(c->path, path);
    trk_model_config_free(c);

    /* NUL bytes and small error buffers */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("a = 1;\0", 1, 7, f);
    fclose(f);
    assert_int_equal(trk_model_config_load(path, &c, err, sizeof err), TRK_ERR_PARSE);
    assert_non_null(strstr(err, "contains a NUL byte"));
    char tiny[8];
    assert_int_equal(trk_model_config_parse("algorithm = 1;", "x/c.cfg", &c, tiny, sizeof tiny),
                     TRK_ERR_PARSE);
    assert_string_equal(tiny, "x/c.cfg");
    assert_int_equal(trk_model_config_parse("algorithm = 1;", "x/c.cfg", &c, NULL, 0),
                     TRK_ERR_PARSE);
    assert_int_equal(trk_model_config_parse(NULL, NULL, &c, err, sizeof err), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_model_config_load(NULL, &c, err, sizeof err), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_model_config_load(path, NULL, err, sizeof err), TRK_ERR_INVALID_ARG);
    rm_tree(dir);
}

/* ---- repository ------------------------------------------------------------------- */

/* Creates <root>/<model>/config.cfg with text (NULL: none) and the listed version
 * folders (space-separated names; "f:NAME" makes a plain file instead). */
static void add_model(const char *root, const char *model, const char *text, const char *dirs)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", root, model);
    make_dir(p);
    if (text) {
        snprintf(p, sizeof p, "%s/%s/config.cfg", root, model);
        write_file(p, text);
    }
    char list[256];
    snprintf(list, sizeof list, "%s", dirs ? dirs : "");
    for (char *save = NULL, *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (!strncmp(t, "f:", 2)) {
            snprintf(p, sizeof p, "%s/%s/%s", root, model, t + 2);
            write_file(p, "not a folder\n");
        } else {
            snprintf(p, sizeof p, "%s/%s/%s", root, model, t);
            make_dir(p);
        }
    }
}

#define GOOD(extra) "algorithm = \"identity\";\n" IO extra

static void test_repository_states(void **state)
{
    (void)state;
    char root[1024], p[1400];
    make_tmp(root, sizeof root);
    add_model(root, "good", GOOD(""), "1");
    add_model(root, "broken", GOOD("max_batch_size = -3;\n"), "1");
    add_model(root, "noversion", GOOD(""), "f:1 abc");
    add_model(root, "noconfig", NULL, "1");
    snprintf(p, sizeof p, "%s/noconfig/config.pbtxt", root);
    write_file(p, "name: \"noconfig\"\n");
    add_model(root, "renamed", "name = \"other\";\n" GOOD(""), "1");
    add_model(root, ".hidden", GOOD(""), "1");
    snprintf(p, sizeof p, "%s/README.md", root);
    write_file(p, "a plain file in the repository is ignored\n");

    trk_log_set_sink(tt_log_capture, NULL);
    tt_log_text[0] = '\0';
    struct trk_repository *repo = NULL;
    assert_int_equal(trk_repository_scan(root, &repo), TRK_OK);
    assert_string_equal(trk_repository_dir(repo), root);
    assert_int_equal(trk_repository_count(repo), 5);
    static const char *const order[] = {"broken", "good", "noconfig", "noversion", "renamed"};
    for (uint32_t i = 0; i < 5; i++)
        assert_string_equal(trk_repository_model(repo, i)->name, order[i]);
    assert_null(trk_repository_model(repo, 5));
    assert_null(trk_repository_find(repo, ".hidden"));
    /* every unavailable model was logged */
    assert_non_null(strstr(tt_log_text, "model 'broken' is unavailable"));
    assert_null(strstr(tt_log_text, "'good'"));
    trk_log_set_sink(NULL, NULL);

    const struct trk_repository_model *m = trk_repository_find(repo, "good");
    assert_non_null(m);
    assert_int_equal(m->state, TRK_MODEL_STATE_READY);
    assert_string_equal(m->reason, "");
    assert_non_null(m->config);
    assert_int_equal(m->nversions, 1);
    assert_int_equal(m->versions[0].version, 1);
    snprintf(p, sizeof p, "%s/good/1", root);
    assert_string_equal(m->versions[0].path, p);

    char want[4096];
    m = trk_repository_find(repo, "broken");
    assert_int_equal(m->state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_null(m->config);
    assert_int_equal(m->nversions, 0);
    snprintf(want, sizeof want,
             "%s/broken/config.cfg:4: field 'max_batch_size': 'max_batch_size' must be "
             "non-negative (0: no batching), got -3",
             root);
    assert_string_equal(m->reason, want);

    m = trk_repository_find(repo, "noversion");
    assert_int_equal(m->state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_non_null(m->config);
    assert_non_null(strstr(m->reason, "/noversion: no version folder (1, 2, ...)"));

    m = trk_repository_find(repo, "noconfig");
    assert_int_equal(m->state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_non_null(strstr(m->reason, "/noconfig: no config.cfg in the model folder (config.pbtxt "
                                      "found"));

    m = trk_repository_find(repo, "renamed");
    assert_int_equal(m->state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_non_null(strstr(m->reason, "/renamed/config.cfg:1: field 'name': 'other' does not "
                                      "match the model folder 'renamed'"));

    /* the index, in Triton's form */
    char *json = NULL;
    assert_int_equal(trk_repository_index_json(repo, true, &json), TRK_OK);
    assert_string_equal(json, "[{\"name\":\"good\",\"version\":\"1\",\"state\":\"READY\"}]");
    free(json);
    assert_int_equal(trk_repository_index_json(repo, false, &json), TRK_OK);
    assert_non_null(strstr(json, "[{\"name\":\"broken\",\"state\":\"UNAVAILABLE\",\"reason\":\""));
    assert_non_null(strstr(json, "},{\"name\":\"good\",\"version\":\"1\",\"state\":\"READY\"},"
                                 "{\"name\":\"noconfig\",\"state\":\"UNAVAILABLE\",\"reason\":"));
    assert_non_null(strstr(json, "field 'max_batch_size': 'max_batch_size' must be"));
    free(json);

    /* server-side state changes: an unload, a failed load */
    assert_int_equal(trk_repository_set_state(repo, "good", -1, TRK_MODEL_STATE_UNAVAILABLE,
                                              "unloaded"),
                     TRK_OK);
    assert_int_equal(trk_repository_index_json(repo, true, &json), TRK_OK);
    assert_string_equal(json, "[]");
    free(json);
    assert_int_equal(trk_repository_set_state(repo, "good", 1, TRK_MODEL_STATE_READY, NULL),
                     TRK_OK);
    m = trk_repository_find(repo, "good");
    assert_int_equal(m->state, TRK_MODEL_STATE_READY);
    assert_string_equal(m->reason, "");
    assert_int_equal(trk_repository_set_state(repo, "good", 1, TRK_MODEL_STATE_UNAVAILABLE,
                                              "device cuda:0 is not present"),
                     TRK_OK);
    assert_int_equal(m->state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_string_equal(m->reason, "device cuda:0 is not present");
    assert_int_equal(trk_repository_index_json(repo, false, &json), TRK_OK);
    assert_non_null(strstr(json, "{\"name\":\"good\",\"version\":\"1\",\"state\":\"UNAVAILABLE\","
                                 "\"reason\":\"device cuda:0 is not present\"}"));
    free(json);
    assert_int_equal(trk_repository_set_state(repo, "good", 2, TRK_MODEL_STATE_READY, NULL),
                     TRK_ERR_NOT_FOUND);
    assert_int_equal(trk_repository_set_state(repo, "nope", -1, TRK_MODEL_STATE_READY, NULL),
                     TRK_ERR_NOT_FOUND);

    /* load after fixing the file, a model that appeared, one that vanished */
    snprintf(p, sizeof p, "%s/broken/config.cfg", root);
    write_file(p, GOOD("max_batch_size = 3;\n"));
    const struct trk_repository_model *before = trk_repository_find(repo, "broken"), *after;
    assert_int_equal(trk_repository_reload(repo, "broken", &after), TRK_OK);
    assert_ptr_equal(before, after);
    assert_int_equal(after->state, TRK_MODEL_STATE_READY);
    assert_int_equal(after->config->max_batch_size, 3);

    add_model(root, "added", GOOD(""), "7");
    assert_int_equal(trk_repository_reload(repo, "added", &after), TRK_OK);
    assert_int_equal(trk_repository_count(repo), 6);
    assert_ptr_equal(trk_repository_model(repo, 0), after); /* still sorted */
    assert_int_equal(after->versions[0].version, 7);

    struct trk_model_config *kept = trk_model_config_ref(trk_repository_find(repo, "good")->config);
    snprintf(p, sizeof p, "rm -rf '%s/good'", root);
    assert_int_equal(system(p), 0);
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_repository_reload(repo, "good", &after), TRK_ERR_NOT_FOUND);
    assert_int_equal(after->state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_null(after->config);
    assert_non_null(strstr(after->reason, "/good: model folder not found"));
    assert_string_equal(kept->algorithm, "identity"); /* the reference outlives the reload */
    trk_model_config_free(kept);
    assert_int_equal(trk_repository_reload(repo, "never", &after), TRK_ERR_NOT_FOUND);
    assert_null(after);
    assert_int_equal(trk_repository_reload(repo, "../etc", NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_repository_reload(repo, "a/b", NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_repository_reload(repo, ".", NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_repository_reload(repo, "noversion", NULL), TRK_ERR_PARSE);
    trk_log_set_sink(NULL, NULL);

    trk_repository_free(repo);
    trk_repository_free(NULL);

    struct trk_repository *none = (struct trk_repository *)(uintptr_t)1;
    snprintf(p, sizeof p, "%s/missing", root);
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_repository_scan(p, &none), TRK_ERR_NOT_FOUND);
    trk_log_set_sink(NULL, NULL);
    assert_null(none);
    rm_tree(root);
}

static void test_version_policies(void **state)
{
    (void)state;
    char root[1024];
    make_tmp(root, sizeof root);
    /* 10 sorts after 2 (numbers, not text); 0, 01, x1 and the file 4 are not versions */
    const char *dirs = "1 2 10 0 01 x1 f:4";
    add_model(root, "latest1", GOOD(""), dirs);
    add_model(root, "latest2", GOOD("version_policy = { latest = { num_versions = 2; }; };\n"), dirs);
    add_model(root, "latest9", GOOD("version_policy = { latest = { num_versions = 9; }; };\n"), dirs);
    add_model(root, "all", GOOD("version_policy = { all = { }; };\n"), dirs);
    add_model(root, "specific",
              GOOD("version_policy = { specific = { versions = [ 10, 3, 1 ]; }; };\n"), dirs);
    add_model(root, "specific_none", GOOD("version_policy = { specific = { versions = [ 5 ]; }; };\n"),
              dirs);

    trk_log_set_sink(tt_log_capture, NULL);
    struct trk_repository *repo = NULL;
    assert_int_equal(trk_repository_scan(root, &repo), TRK_OK);
    trk_log_set_sink(NULL, NULL);
    static const struct {
        const char *model;
        uint32_t n;
        int64_t v[3];
        enum trk_model_state s[3], model_state;
    } want[] = {
        {"latest1", 1, {10}, {TRK_MODEL_STATE_READY}, TRK_MODEL_STATE_READY},
        {"latest2", 2, {2, 10}, {TRK_MODEL_STATE_READY, TRK_MODEL_STATE_READY}, TRK_MODEL_STATE_READY},
        {"latest9", 3, {1, 2, 10}, {TRK_MODEL_STATE_READY, TRK_MODEL_STATE_READY, TRK_MODEL_STATE_READY},
         TRK_MODEL_STATE_READY},
        {"all", 3, {1, 2, 10}, {TRK_MODEL_STATE_READY, TRK_MODEL_STATE_READY, TRK_MODEL_STATE_READY},
         TRK_MODEL_STATE_READY},
        {"specific", 3, {1, 3, 10},
         {TRK_MODEL_STATE_READY, TRK_MODEL_STATE_UNAVAILABLE, TRK_MODEL_STATE_READY},
         TRK_MODEL_STATE_READY},
        {"specific_none", 1, {5}, {TRK_MODEL_STATE_UNAVAILABLE}, TRK_MODEL_STATE_UNAVAILABLE},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct trk_repository_model *m = trk_repository_find(repo, want[i].model);
        assert_non_null(m);
        assert_int_equal(m->state, want[i].model_state);
        assert_int_equal(m->nversions, want[i].n);
        for (uint32_t k = 0; k < want[i].n; k++) {
            assert_int_equal(m->versions[k].version, want[i].v[k]);
            assert_int_equal(m->versions[k].state, want[i].s[k]);
        }
    }
    const struct trk_repository_model *m = trk_repository_find(repo, "specific");
    assert_non_null(strstr(m->versions[1].reason, "/specific/3 not found"));
    m = trk_repository_find(repo, "specific_none");
    assert_non_null(strstr(m->reason, "none of the versions in version_policy.specific has a folder"));

    char *json = NULL;
    assert_int_equal(trk_repository_index_json(repo, true, &json), TRK_OK);
    assert_string_equal(
        json, "[{\"name\":\"all\",\"version\":\"1\",\"state\":\"READY\"},"
              "{\"name\":\"all\",\"version\":\"2\",\"state\":\"READY\"},"
              "{\"name\":\"all\",\"version\":\"10\",\"state\":\"READY\"},"
              "{\"name\":\"latest1\",\"version\":\"10\",\"state\":\"READY\"},"
              "{\"name\":\"latest2\",\"version\":\"2\",\"state\":\"READY\"},"
              "{\"name\":\"latest2\",\"version\":\"10\",\"state\":\"READY\"},"
              "{\"name\":\"latest9\",\"version\":\"1\",\"state\":\"READY\"},"
              "{\"name\":\"latest9\",\"version\":\"2\",\"state\":\"READY\"},"
              "{\"name\":\"latest9\",\"version\":\"10\",\"state\":\"READY\"},"
              "{\"name\":\"specific\",\"version\":\"1\",\"state\":\"READY\"},"
              "{\"name\":\"specific\",\"version\":\"10\",\"state\":\"READY\"}]");
    free(json);
    assert_int_equal(trk_repository_index_json(repo, false, &json), TRK_OK);
    assert_non_null(strstr(json, "{\"name\":\"specific\",\"version\":\"3\",\"state\":"
                                 "\"UNAVAILABLE\",\"reason\":\"version folder "));
    assert_non_null(strstr(json, "{\"name\":\"specific_none\",\"version\":\"5\",\"state\":"
                                 "\"UNAVAILABLE\",\"reason\":"));
    free(json);
    trk_repository_free(repo);
    rm_tree(root);
}

static void test_check(void **state)
{
    (void)state;
    /* the shipped examples are all OK */
    char dir[1024];
    examples_dir(dir, sizeof dir);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    uint32_t nmodels = 0, nbad = 9;
    assert_int_equal(trk_repository_check(dir, out, &nmodels, &nbad), TRK_OK);
    fclose(out);
    assert_string_equal(text, "exatrkx: OK (algorithm exatrkx, version 1)\n"
                              "gemm: OK (algorithm gemm, version 1)\n"
                              "identity: OK (algorithm identity, version 1)\n"
                              "patatrack: OK (algorithm patatrack, version 1)\n"
                              "sum: OK (algorithm sum, version 1)\n");
    assert_int_equal(nmodels, 5);
    assert_int_equal(nbad, 0);
    free(text);

    /* one line per model, errors with file:line:field */
    char root[1024];
    make_tmp(root, sizeof root);
    add_model(root, "a", GOOD("version_policy = { specific = { versions = [ 1, 2 ]; }; };\n"), "1 3");
    add_model(root, "b", GOOD("instance_group = ( { kind = \"KIND_CPU\"; gpus = [ 0 ]; } );\n"), "1");
    trk_log_set_sink(tt_log_capture, NULL);
    out = open_memstream(&text, &len);
    assert_int_equal(trk_repository_check(root, out, &nmodels, &nbad), TRK_ERR_PARSE);
    fclose(out);
    trk_log_set_sink(NULL, NULL);
    char want[4096];
    snprintf(want, sizeof want,
             "a: OK (algorithm identity, version 1); version 2 unavailable: version folder "
             "%s/a/2 not found\n"
             "b: ERROR %s/b/config.cfg:4: field 'instance_group.[0].gpus.[0]': instance group "
             "'b_0' of model 'b' has kind KIND_CPU but specifies one or more GPUs\n",
             root, root);
    assert_string_equal(text, want);
    assert_int_equal(nmodels, 2);
    assert_int_equal(nbad, 1);
    free(text);
    rm_tree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_round_trip),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_everything_round_trip),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_errors_exact),
        cmocka_unit_test(test_errors_each_kind),
        cmocka_unit_test(test_error_plumbing),
        cmocka_unit_test(test_repository_states),
        cmocka_unit_test(test_version_policies),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
