/* trkserve config — config.cfg (libconfig) → struct trk_model_config, with validation
 * that names file, line and field. The only file of trkserve that includes libconfig.h:
 * everything leaving it is plain C. */
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "trk/log.h"

#define CFG_FILE_MAX (1u << 20) /* a model config is a page or two; refuse anything huge */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The public struct lives inside a box carrying its reference count, so the struct
 * itself stays plain. */
struct cfg_box {
    atomic_uint refs;
    struct trk_model_config c;
};

static struct cfg_box *box_of(struct trk_model_config *c)
{
    return (struct cfg_box *)(void *)((char *)c - offsetof(struct cfg_box, c));
}

/* ---- names ------------------------------------------------------------------------ */

static const char *const kind_names[] = {"KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"};

const char *trk_instance_kind_name(enum trk_instance_kind kind)
{
    return (unsigned)kind < ARRAY_LEN(kind_names) ? kind_names[kind] : "KIND_INVALID";
}

static const char *const config_dtype_names[TRK_DTYPE_COUNT] = {
    [TRK_DTYPE_INVALID] = "TYPE_INVALID", [TRK_DTYPE_BOOL] = "TYPE_BOOL",
    [TRK_DTYPE_UINT8] = "TYPE_UINT8",     [TRK_DTYPE_UINT16] = "TYPE_UINT16",
    [TRK_DTYPE_UINT32] = "TYPE_UINT32",   [TRK_DTYPE_UINT64] = "TYPE_UINT64",
    [TRK_DTYPE_INT8] = "TYPE_INT8",       [TRK_DTYPE_INT16] = "TYPE_INT16",
    [TRK_DTYPE_INT32] = "TYPE_INT32",     [TRK_DTYPE_INT64] = "TYPE_INT64",
    [TRK_DTYPE_FP16] = "TYPE_FP16",       [TRK_DTYPE_FP32] = "TYPE_FP32",
    [TRK_DTYPE_FP64] = "TYPE_FP64",       [TRK_DTYPE_BYTES] = "TYPE_STRING",
};

const char *trk_dtype_config_name(enum trk_dtype dt)
{
    return (unsigned)dt < TRK_DTYPE_COUNT && config_dtype_names[dt] ? config_dtype_names[dt]
                                                                    : "TYPE_INVALID";
}

/* ---- error context ---------------------------------------------------------------- */

struct ctx {
    const char *origin; /* file name used in messages */
    char *err;
    size_t errlen;
    bool failed;
    enum trk_status st;
};

/* "input.[1].data_type" for s (libconfig's own path notation); "" for the root. */
static void setting_path(const config_setting_t *s, char *buf, size_t len)
{
    if (!s || !config_setting_parent(s)) {
        buf[0] = '\0';
        return;
    }
    setting_path(config_setting_parent(s), buf, len);
    size_t n = strlen(buf);
    const char *sep = n ? "." : "";
    if (config_setting_name(s))
        snprintf(buf + n, len - n, "%s%s", sep, config_setting_name(s));
    else
        snprintf(buf + n, len - n, "%s[%d]", sep, config_setting_index(s));
}

/* Records the first error: "FILE:LINE: field 'PATH[.member]': message". `at` gives the
 * line and path (NULL or the root: none); `member` names a missing member of `at`.
 * Always returns false so callers can `return fail(...)`. */
static bool fail(struct ctx *x, const config_setting_t *at, const char *member,
                 const char *fmt, ...) TRK_CFG_PRINTF(4, 5);
static bool fail(struct ctx *x, const config_setting_t *at, const char *member,
                 const char *fmt, ...)
{
    if (x->failed)
        return false;
    x->failed = true;
    x->st = TRK_ERR_PARSE;
    if (!x->err || !x->errlen)
        return false;
    char path[512];
    setting_path(at, path, sizeof path);
    if (member) {
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "%s%s", n ? "." : "", member);
    }
    unsigned line = at && config_setting_parent(at) ? config_setting_source_line(at) : 0;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[64] = "";
    if (line)
        snprintf(where, sizeof where, ":%u", line);
    if (path[0])
        snprintf(x->err, x->errlen, "%s%s: field '%s': %s", x->origin, where, path, msg);
    else
        snprintf(x->err, x->errlen, "%s%s: %s", x->origin, where, msg);
    return false;
}

static bool fail_oom(struct ctx *x)
{
    if (!x->failed) {
        x->failed = true;
        x->st = TRK_ERR_NO_MEMORY;
        if (x->err && x->errlen)
            snprintf(x->err, x->errlen, "%s: out of memory", x->origin);
    }
    return false;
}

static char *dup_str(struct ctx *x, const char *s)
{
    char *p = strdup(s);
    if (!p)
        fail_oom(x);
    return p;
}

static void *alloc_array(struct ctx *x, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        fail_oom(x);
    return p;
}

/* ---- typed access ----------------------------------------------------------------- */

static const char *type_desc(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group { ... }";
    case CONFIG_TYPE_LIST: return "a list ( ... )";
    case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    default: return "nothing";
    }
}

static bool is_int(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

static bool has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A string value: non-empty unless allow_empty, no control characters, < maxlen bytes. */
static bool get_str(struct ctx *x, const config_setting_t *s, bool allow_empty, size_t maxlen,
                    const char **out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(x, s, NULL, "expected a string in double quotes, got %s", type_desc(s));
    const char *v = config_setting_get_string(s);
    if (!allow_empty && !v[0])
        return fail(x, s, NULL, "must not be empty");
    if (has_control_chars(v))
        return fail(x, s, NULL, "control characters are not allowed");
    if (strlen(v) >= maxlen)
        return fail(x, s, NULL, "longer than %zu characters", maxlen - 1);
    *out = v;
    return true;
}

static bool get_i64(struct ctx *x, const config_setting_t *s, int64_t lo, int64_t hi,
                    int64_t *out)
{
    if (!is_int(s))
        return fail(x, s, NULL, "expected an integer, got %s", type_desc(s));
    long long v = config_setting_get_int64(s);
    if (v < lo || v > hi) {
        if (hi == INT64_MAX)
            return fail(x, s, NULL, "must be >= %lld, got %lld", (long long)lo, v);
        return fail(x, s, NULL, "must be between %lld and %lld, got %lld", (long long)lo,
                    (long long)hi, v);
    }
    *out = v;
    return true;
}

static bool get_bool(struct ctx *x, const config_setting_t *s, bool *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail(x, s, NULL, "expected true or false, got %s", type_desc(s));
    *out = config_setting_get_bool(s) != 0;
    return true;
}

static bool want_group(struct ctx *x, const config_setting_t *s)
{
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return fail(x, s, NULL, "expected a group { ... }, got %s", type_desc(s));
    return true;
}

/* A list ( {..}, {..} ) whose elements are groups. */
static bool want_group_list(struct ctx *x, const config_setting_t *s)
{
    if (config_setting_type(s) == CONFIG_TYPE_GROUP)
        return fail(x, s, NULL,
                    "expected a list of groups; wrap the group in parentheses: "
                    "%s = ( { ... } );",
                    config_setting_name(s));
    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return fail(x, s, NULL, "expected a list ( { ... }, { ... } ), got %s", type_desc(s));
    for (int i = 0; i < config_setting_length(s); i++)
        if (!want_group(x, config_setting_get_elem(s, (unsigned)i)))
            return false;
    return true;
}

/* An array [ 1, 2 ] or list ( 1, 2 ) of integers, each in [lo, hi], at most max of them. */
static bool get_int_list(struct ctx *x, const config_setting_t *s, int64_t lo, int64_t hi,
                         uint32_t max, int64_t *vals, uint32_t *n)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
        return fail(x, s, NULL, "expected an array [ ... ] of integers, got %s", type_desc(s));
    int len = config_setting_length(s);
    if ((uint32_t)len > max)
        return fail(x, s, NULL, "at most %u values, got %d", max, len);
    for (int i = 0; i < len; i++)
        if (!get_i64(x, config_setting_get_elem(s, (unsigned)i), lo, hi, &vals[i]))
            return false;
    *n = (uint32_t)len;
    return true;
}

/* Every member of group g must be in `allowed`; members in `triton_only` are Triton
 * fields trkserve does not implement, and get that message instead of a suggestion. */
static bool check_members(struct ctx *x, const config_setting_t *g, const char *const *allowed,
                          size_t nallowed, const char *const *triton_only, size_t ntriton)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        bool ok = false;
        for (size_t k = 0; k < nallowed && !ok; k++)
            ok = !strcmp(name, allowed[k]);
        if (ok)
            continue;
        for (size_t k = 0; k < ntriton; k++)
            if (!strcmp(name, triton_only[k]))
                return fail(x, m, NULL, "Triton's '%s' is not supported by trkserve", name);
        const char *hint = trk_cfg_suggest(name, allowed, nallowed);
        if (hint)
            return fail(x, m, NULL, "unknown field; did you mean '%s'?", hint);
        char list[512] = "";
        for (size_t k = 0; k < nallowed; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "", allowed[k]);
        }
        return fail(x, m, NULL, "unknown field; expected one of %s", list);
    }
    return true;
}

static const config_setting_t *member(const config_setting_t *g, const char *name)
{
    return config_setting_get_member(g, name);
}

/* ---- data types ------------------------------------------------------------------- */

static bool parse_dtype(struct ctx *x, const config_setting_t *s, enum trk_dtype *out)
{
    const char *v;
    if (!get_str(x, s, false, 64, &v))
        return false;
    enum trk_dtype dt = trk_dtype_from_name(v);
    if (dt != TRK_DTYPE_INVALID) {
        *out = dt;
        return true;
    }
    const char *word = strncasecmp(v, "TYPE_", 5) ? v : v + 5; /* without the prefix */
    if (!strcasecmp(word, "BF16"))
        return fail(x, s, NULL, "TYPE_BF16 is not supported by trkserve (no bfloat16 tensors)");
    if (!strcasecmp(word, "INVALID"))
        return fail(x, s, NULL, "TYPE_INVALID is not a usable type");
    /* common spellings from other frameworks, then near-misses */
    static const struct {
        const char *alias, *type;
    } aliases[] = {
        {"FLOAT", "TYPE_FP32"},  {"FLOAT32", "TYPE_FP32"}, {"SINGLE", "TYPE_FP32"},
        {"DOUBLE", "TYPE_FP64"}, {"FLOAT64", "TYPE_FP64"}, {"HALF", "TYPE_FP16"},
        {"FLOAT16", "TYPE_FP16"}, {"INT", "TYPE_INT32"},   {"INTEGER", "TYPE_INT32"},
        {"LONG", "TYPE_INT64"},  {"UINT", "TYPE_UINT32"},  {"BYTE", "TYPE_UINT8"},
        {"CHAR", "TYPE_INT8"},   {"STR", "TYPE_STRING"},
    };
    const char *hint = NULL;
    for (size_t i = 0; i < ARRAY_LEN(aliases) && !hint; i++)
        if (!strcasecmp(word, aliases[i].alias))
            hint = aliases[i].type;
    if (!hint) { /* near-misses, compared without the TYPE_ prefix */
        const char *bare_names[TRK_DTYPE_COUNT - 1];
        for (int i = 1; i < TRK_DTYPE_COUNT; i++)
            bare_names[i - 1] = config_dtype_names[i] + 5;
        const char *b = trk_cfg_suggest(word, bare_names, ARRAY_LEN(bare_names));
        for (int i = 1; i < TRK_DTYPE_COUNT && b && !hint; i++)
            if (b == bare_names[i - 1])
                hint = config_dtype_names[i];
    }
    char list[256] = "";
    for (int i = 1; i < TRK_DTYPE_COUNT; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i > 1 ? ", " : "", config_dtype_names[i]);
    }
    if (hint)
        return fail(x, s, NULL, "unknown type '%s'; did you mean '%s'? use one of %s", v, hint,
                    list);
    return fail(x, s, NULL, "unknown type '%s'; use one of %s", v, list);
}

/* ---- inputs and outputs ----------------------------------------------------------- */

/* Element count of dims, -1 when a dimension is -1; false when it overflows int64. */
static bool element_count(const int64_t *dims, uint32_t n, int64_t *count)
{
    int64_t c = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (dims[i] == -1) {
            *count = -1;
            return true;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (c > INT64_MAX / dims[i])
            return false;
        c *= dims[i];
    }
    *count = c;
    return true;
}

/* Triton's rule: dims and reshape hold the same number of elements; with -1 dims, each
 * run of fixed dimensions between the -1s must hold the same count in both. */
static bool reshape_matches(const struct trk_model_io *io)
{
    int64_t cd, cr;
    if (!element_count(io->dims, io->ndims, &cd) ||
        !element_count(io->reshape, io->reshape_ndims, &cr))
        return false;
    if (io->reshape_ndims == 0) /* a scalar per batch item: dims must hold one element */
        return cd == 1;
    if (cd != cr)
        return false;
    if (cd != -1)
        return true;
    int64_t runs_d[TRK_TENSOR_MAX_DIMS + 1], runs_r[TRK_TENSOR_MAX_DIMS + 1];
    size_t nd = 0, nr = 0;
    int64_t run = 1;
    for (uint32_t i = 0; i < io->ndims; i++) {
        if (io->dims[i] == -1) {
            runs_d[nd++] = run;
            run = 1;
        } else {
            run *= io->dims[i];
        }
    }
    runs_d[nd++] = run;
    run = 1;
    for (uint32_t i = 0; i < io->reshape_ndims; i++) {
        if (io->reshape[i] == -1) {
            runs_r[nr++] = run;
            run = 1;
        } else {
            run *= io->reshape[i];
        }
    }
    runs_r[nr++] = run;
    if (nd != nr)
        return false;
    for (size_t i = 0; i < nd; i++)
        if (runs_d[i] != runs_r[i])
            return false;
    return true;
}

static bool parse_dims(struct ctx *x, const config_setting_t *s, uint32_t maxdims,
                       bool allow_empty, int64_t *dims, uint32_t *n)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
        return fail(x, s, NULL, "expected an array [ ... ] of dimensions, got %s", type_desc(s));
    int len = config_setting_length(s);
    if (len == 0 && !allow_empty)
        return fail(x, s, NULL, "must list at least one dimension (use [ 1 ] for a scalar)");
    if ((uint32_t)len > maxdims)
        return fail(x, s, NULL, "at most %u dimensions%s, got %d", maxdims,
                    maxdims < TRK_TENSOR_MAX_DIMS ? " besides the batch dimension" : "", len);
    for (int i = 0; i < len; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        int64_t d;
        if (!get_i64(x, e, INT64_MIN, INT64_MAX, &d))
            return false;
        if (d != -1 && d < 1)
            return fail(x, e, NULL,
                        "dimension must be an integer >= 1, or -1 for a variable-size "
                        "dimension, got %lld",
                        (long long)d);
        dims[i] = d;
    }
    *n = (uint32_t)len;
    return true;
}

static bool parse_io(struct ctx *x, const config_setting_t *g, bool is_input,
                     int32_t max_batch_size, struct trk_model_io *io)
{
    static const char *const in_fields[] = {"name", "data_type", "dims", "reshape",
                                            "allow_ragged_batch", "optional"};
    static const char *const out_fields[] = {"name", "data_type", "dims", "reshape"};
    static const char *const triton_only[] = {"format", "is_shape_tensor",
                                              "is_non_linear_format_io", "label_filename"};
    if (!check_members(x, g, is_input ? in_fields : out_fields,
                       is_input ? ARRAY_LEN(in_fields) : ARRAY_LEN(out_fields), triton_only,
                       ARRAY_LEN(triton_only)))
        return false;
    const config_setting_t *s;
    const char *name;
    if (!(s = member(g, "name")))
        return fail(x, g, "name", "required: the tensor name requests use");
    if (!get_str(x, s, false, TRK_TENSOR_NAME_MAX, &name))
        return false;
    memcpy(io->name, name, strlen(name) + 1);
    if (!(s = member(g, "data_type")))
        return fail(x, g, "data_type", "required, e.g. data_type = \"TYPE_FP32\";");
    if (!parse_dtype(x, s, &io->data_type))
        return false;
    uint32_t maxdims = TRK_TENSOR_MAX_DIMS - (max_batch_size > 0 ? 1 : 0);
    if (!(s = member(g, "dims")))
        return fail(x, g, "dims", "required, e.g. dims = [ -1, 4 ]; (-1: any extent)");
    if (!parse_dims(x, s, maxdims, false, io->dims, &io->ndims))
        return false;
    if ((s = member(g, "reshape"))) {
        static const char *const rs_fields[] = {"shape"};
        if (!want_group(x, s) || !check_members(x, s, rs_fields, 1, NULL, 0))
            return false;
        const config_setting_t *sh = member(s, "shape");
        if (!sh)
            return fail(x, s, "shape", "required, e.g. reshape = { shape = [ 2, 2 ]; };");
        if (!parse_dims(x, sh, maxdims, true, io->reshape, &io->reshape_ndims))
            return false;
        io->has_reshape = true;
        if (io->reshape_ndims == 0 && max_batch_size == 0)
            return fail(x, sh, NULL,
                        "cannot be empty for a non-batching model (max_batch_size = 0): "
                        "scalar tensors are not supported");
        if (!reshape_matches(io))
            return fail(x, sh, NULL,
                        "holds a different number of elements than dims (each run of fixed "
                        "dimensions between -1s must match)");
    }
    if (is_input) {
        if ((s = member(g, "allow_ragged_batch")) && !get_bool(x, s, &io->allow_ragged_batch))
            return false;
        if ((s = member(g, "optional")) && !get_bool(x, s, &io->optional))
            return false;
    }
    int64_t count;
    if (!element_count(io->dims, io->ndims, &count))
        return fail(x, member(g, "dims"), NULL, "the product of the dimensions overflows");
    return true;
}

static bool parse_io_list(struct ctx *x, const config_setting_t *root, bool is_input,
                          int32_t max_batch_size, struct trk_model_config *c)
{
    const char *key = is_input ? "input" : "output";
    const char *alias = is_input ? "inputs" : "outputs";
    const config_setting_t *s = member(root, key), *a = member(root, alias);
    if (s && a)
        return fail(x, a, NULL, "give either '%s' or '%s', not both", key, alias);
    if (!s)
        s = a;
    if (!s)
        return fail(x, root, key,
                    "required: a list of tensors, e.g. %s = ( { name = \"%s\"; data_type = "
                    "\"TYPE_FP32\"; dims = [ -1 ]; } );",
                    key, is_input ? "INPUT0" : "OUTPUT0");
    if (!want_group_list(x, s))
        return false;
    int n = config_setting_length(s);
    if (n == 0)
        return fail(x, s, NULL, "must list at least one tensor");
    if (n > TRK_MODEL_MAX_IO)
        return fail(x, s, NULL, "at most %d tensors, got %d", TRK_MODEL_MAX_IO, n);
    struct trk_model_io *ios = alloc_array(x, (size_t)n, sizeof *ios);
    if (!ios)
        return false;
    if (is_input) {
        c->inputs = ios;
        c->ninputs = (uint32_t)n;
    } else {
        c->outputs = ios;
        c->noutputs = (uint32_t)n;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        if (!parse_io(x, g, is_input, max_batch_size, &ios[i]))
            return false;
        for (int j = 0; j < i; j++)
            if (!strcmp(ios[i].name, ios[j].name))
                return fail(x, member(g, "name"), NULL, "duplicate %s name '%s' (also %s.[%d])",
                            key, ios[i].name, config_setting_name(s), j);
    }
    return true;
}

/* ---- version policy --------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool parse_version_policy(struct ctx *x, const config_setting_t *s,
                                 struct trk_version_policy *vp)
{
    static const char *const fields[] = {"latest", "all", "specific"};
    if (!want_group(x, s) || !check_members(x, s, fields, ARRAY_LEN(fields), NULL, 0))
        return false;
    if (config_setting_length(s) != 1)
        return fail(x, s, NULL,
                    "give exactly one of latest = { num_versions = N; }, all = { }, "
                    "specific = { versions = [ ... ]; }");
    const config_setting_t *p = config_setting_get_elem(s, 0);
    if (!want_group(x, p))
        return false;
    const char *which = config_setting_name(p);
    if (!strcmp(which, "latest")) {
        static const char *const f[] = {"num_versions"};
        if (!check_members(x, p, f, 1, NULL, 0))
            return false;
        vp->kind = TRK_VERSION_POLICY_LATEST;
        vp->num_versions = 1;
        const config_setting_t *n = member(p, "num_versions");
        int64_t v;
        if (n) {
            if (!get_i64(x, n, 1, UINT32_MAX, &v))
                return false;
            vp->num_versions = (uint32_t)v;
        }
    } else if (!strcmp(which, "all")) {
        if (config_setting_length(p) != 0)
            return fail(x, config_setting_get_elem(p, 0), NULL,
                        "'all' takes no fields: version_policy = { all = { }; };");
        vp->kind = TRK_VERSION_POLICY_ALL;
    } else {
        static const char *const f[] = {"versions"};
        if (!check_members(x, p, f, 1, NULL, 0))
            return false;
        vp->kind = TRK_VERSION_POLICY_SPECIFIC;
        const config_setting_t *l = member(p, "versions");
        if (!l)
            return fail(x, p, "versions", "required, e.g. specific = { versions = [ 1, 3 ]; };");
        int t = config_setting_type(l);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return fail(x, l, NULL, "expected an array [ ... ] of versions, got %s", type_desc(l));
        int n = config_setting_length(l);
        if (n == 0)
            return fail(x, l, NULL, "must list at least one version");
        if (n > 100000)
            return fail(x, l, NULL, "at most 100000 versions, got %d", n);
        int64_t *v = alloc_array(x, (size_t)n, sizeof *v);
        if (!v)
            return false;
        vp->versions = v;
        if (!get_int_list(x, l, 1, INT64_MAX, (uint32_t)n, v, &vp->nversions))
            return false;
        qsort(v, vp->nversions, sizeof *v, cmp_i64);
        for (uint32_t i = 1; i < vp->nversions; i++)
            if (v[i] == v[i - 1])
                return fail(x, l, NULL, "version %lld is listed twice", (long long)v[i]);
    }
    return true;
}

/* ---- instance groups -------------------------------------------------------------- */

enum dev_class { DEV_CPU, DEV_GPU, DEV_EITHER, DEV_ACCEL, DEV_AUTO };

static const struct {
    const char *name;
    enum dev_class cls;
} known_devices[] = {
    {"cpu", DEV_CPU},   {"gpu", DEV_GPU},      {"cuda", DEV_GPU},         {"hip", DEV_GPU},
    {"stub", DEV_GPU},  {"opencl", DEV_EITHER}, {"accelerator", DEV_ACCEL}, {"auto", DEV_AUTO},
};

#define DEVICE_HELP                                                                        \
    "devices are cpu, gpu, cuda, hip, opencl, accelerator or stub, each optionally :INDEX " \
    "(opencl:0), integer GPU ids, or auto"

/* Parses a device spec into its normalised text and class. */
static bool parse_device(struct ctx *x, const config_setting_t *s, char *norm, size_t len,
                         enum dev_class *cls, int32_t *gpu_id)
{
    *gpu_id = -1;
    if (is_int(s)) {
        int64_t id;
        if (!get_i64(x, s, 0, 1000000, &id))
            return false;
        snprintf(norm, len, "gpu:%lld", (long long)id);
        *cls = DEV_GPU;
        *gpu_id = (int32_t)id;
        return true;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(x, s, NULL, "expected a device string such as \"cuda:0\" or a GPU id, got %s",
                    type_desc(s));
    const char *spec = config_setting_get_string(s);
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    char name[32];
    if (nlen == 0 || nlen >= sizeof name)
        return fail(x, s, NULL, "malformed device '%s'; " DEVICE_HELP, spec);
    memcpy(name, spec, nlen);
    name[nlen] = '\0';
    int k = -1;
    for (size_t i = 0; i < ARRAY_LEN(known_devices); i++)
        if (!strcmp(name, known_devices[i].name))
            k = (int)i;
    if (k < 0) {
        const char *cands[ARRAY_LEN(known_devices)];
        for (size_t i = 0; i < ARRAY_LEN(known_devices); i++)
            cands[i] = known_devices[i].name;
        const char *hint = trk_cfg_suggest(name, cands, ARRAY_LEN(cands));
        if (hint)
            return fail(x, s, NULL, "unknown device '%s'; did you mean '%s'? " DEVICE_HELP, spec,
                        hint);
        return fail(x, s, NULL, "unknown device '%s'; " DEVICE_HELP, spec);
    }
    *cls = known_devices[k].cls;
    if (!colon) {
        snprintf(norm, len, "%s", name);
        return true;
    }
    const char *d = colon + 1;
    size_t dl = strlen(d);
    bool digits = dl > 0 && dl <= 7;
    for (size_t i = 0; i < dl && digits; i++)
        digits = d[i] >= '0' && d[i] <= '9';
    if (*cls == DEV_AUTO)
        return fail(x, s, NULL, "'auto' takes no index");
    if (!digits || (dl > 1 && d[0] == '0') || atol(d) > 1000000)
        return fail(x, s, NULL, "malformed device '%s': the part after ':' must be an index "
                                "such as 0 or 1",
                    spec);
    snprintf(norm, len, "%s:%s", name, d);
    return true;
}

static bool parse_instance_group(struct ctx *x, const config_setting_t *g, unsigned index,
                                 const char *model, struct trk_instance_group *ig)
{
    static const char *const fields[] = {"name", "kind", "count", "gpus", "devices"};
    static const char *const triton_only[] = {"profile", "rate_limiter", "host_policy",
                                              "passive", "secondary_devices"};
    if (!check_members(x, g, fields, ARRAY_LEN(fields), triton_only, ARRAY_LEN(triton_only)))
        return false;
    const config_setting_t *s;
    const char *str;
    if ((s = member(g, "name"))) {
        if (!get_str(x, s, false, 256, &str) || !(ig->name = dup_str(x, str)))
            return false;
    } else {
        char buf[TRK_MODEL_NAME_MAX + 16];
        snprintf(buf, sizeof buf, "%s_%u", model, index);
        if (!(ig->name = dup_str(x, buf)))
            return false;
    }
    ig->kind = TRK_INSTANCE_KIND_AUTO;
    if ((s = member(g, "kind"))) {
        if (!get_str(x, s, false, 64, &str))
            return false;
        int k = -1;
        for (size_t i = 0; i < ARRAY_LEN(kind_names); i++)
            if (!strcmp(str, kind_names[i]))
                k = (int)i;
        if (k < 0) {
            const char *hint = trk_cfg_suggest(str, kind_names, ARRAY_LEN(kind_names));
            char with_prefix[80];
            if (!hint) {
                snprintf(with_prefix, sizeof with_prefix, "KIND_%s", str);
                hint = trk_cfg_suggest(with_prefix, kind_names, ARRAY_LEN(kind_names));
            }
            if (hint)
                return fail(x, s, NULL,
                            "unknown kind '%s'; did you mean '%s'? use one of KIND_AUTO, "
                            "KIND_GPU, KIND_CPU, KIND_MODEL",
                            str, hint);
            return fail(x, s, NULL,
                        "unknown kind '%s'; use one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL",
                        str);
        }
        ig->kind = (enum trk_instance_kind)k;
    }
    ig->count = 1;
    if ((s = member(g, "count"))) {
        int64_t v;
        if (!get_i64(x, s, 1, TRK_MODEL_MAX_INSTANCES, &v))
            return false;
        ig->count = (uint32_t)v;
    }
    const config_setting_t *gpus = member(g, "gpus"), *devs = member(g, "devices");
    if (gpus && devs)
        return fail(x, devs, NULL,
                    "give either Triton's 'gpus' (GPU ids) or 'devices' (device specs), not both");
    const config_setting_t *list = gpus ? gpus : devs;
    if (!list)
        return true;
    int t = config_setting_type(list);
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
        return fail(x, list, NULL, "expected an array [ ... ], got %s", type_desc(list));
    int n = config_setting_length(list);
    if (n == 0)
        return true;
    if (n > 1024)
        return fail(x, list, NULL, "at most 1024 devices, got %d", n);
    if (!(ig->devices = alloc_array(x, (size_t)n, sizeof *ig->devices)) ||
        !(ig->gpus = alloc_array(x, (size_t)n, sizeof *ig->gpus)))
        return false;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        char norm[64];
        enum dev_class cls = DEV_AUTO;
        int32_t gpu_id;
        if (gpus && !is_int(e))
            return fail(x, e, NULL,
                        "Triton's 'gpus' takes integer GPU ids; use 'devices' for specs such as "
                        "\"cuda:0\"");
        if (!parse_device(x, e, norm, sizeof norm, &cls, &gpu_id))
            return false;
        for (uint32_t j = 0; j < ig->ndevices; j++)
            if (!strcmp(ig->devices[j], norm))
                return fail(x, e, NULL, "device '%s' is listed twice", norm);
        const char *kn = trk_instance_kind_name(ig->kind);
        if (gpu_id >= 0 && (ig->kind == TRK_INSTANCE_KIND_CPU || ig->kind == TRK_INSTANCE_KIND_MODEL))
            return fail(x, e, NULL,
                        "instance group '%s' of model '%s' has kind %s but specifies one or more "
                        "GPUs",
                        ig->name, model, kn);
        if (ig->kind == TRK_INSTANCE_KIND_MODEL)
            return fail(x, e, NULL,
                        "instance group '%s' has kind KIND_MODEL: the algorithm places its "
                        "instances, so list no devices",
                        ig->name);
        if (ig->kind == TRK_INSTANCE_KIND_CPU && cls != DEV_CPU && cls != DEV_EITHER)
            return fail(x, e, NULL,
                        "instance group '%s' has kind KIND_CPU but lists device '%s'; use "
                        "KIND_GPU or KIND_AUTO for it",
                        ig->name, norm);
        if (ig->kind == TRK_INSTANCE_KIND_GPU && cls != DEV_GPU && cls != DEV_EITHER)
            return fail(x, e, NULL,
                        "instance group '%s' has kind KIND_GPU but lists device '%s'; use "
                        "KIND_CPU or KIND_AUTO for it",
                        ig->name, norm);
        if (cls == DEV_AUTO && n > 1)
            return fail(x, e, NULL, "'auto' cannot be combined with other devices");
        if (!(ig->devices[ig->ndevices] = dup_str(x, norm)))
            return false;
        ig->ndevices++;
        if (gpu_id >= 0)
            ig->gpus[ig->ngpus++] = gpu_id;
    }
    return true;
}

static bool parse_instance_groups(struct ctx *x, const config_setting_t *root,
                                  struct trk_model_config *c)
{
    const config_setting_t *s = member(root, "instance_group");
    if (!s || config_setting_length(s) == 0) {
        if (s && !want_group_list(x, s))
            return false;
        /* Triton's normalisation: one group named after the model */
        if (!(c->instance_groups = alloc_array(x, 1, sizeof *c->instance_groups)))
            return false;
        c->ninstance_groups = 1;
        c->instance_groups[0].kind = TRK_INSTANCE_KIND_AUTO;
        c->instance_groups[0].count = 1;
        return (c->instance_groups[0].name = dup_str(x, c->name)) != NULL;
    }
    if (!want_group_list(x, s))
        return false;
    int n = config_setting_length(s);
    if (n > 256)
        return fail(x, s, NULL, "at most 256 instance groups, got %d", n);
    if (!(c->instance_groups = alloc_array(x, (size_t)n, sizeof *c->instance_groups)))
        return false;
    c->ninstance_groups = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        if (!parse_instance_group(x, g, (unsigned)i, c->name, &c->instance_groups[i]))
            return false;
        for (int j = 0; j < i; j++)
            if (!strcmp(c->instance_groups[i].name, c->instance_groups[j].name))
                return fail(x, member(g, "name") ? member(g, "name") : g, NULL,
                            "duplicate instance group name '%s' (also instance_group.[%d])",
                            c->instance_groups[i].name, j);
    }
    return true;
}

/* ---- dynamic batching ------------------------------------------------------------- */

static bool parse_queue_policy(struct ctx *x, const config_setting_t *s,
                               struct trk_queue_policy *qp)
{
    static const char *const fields[] = {"timeout_action", "default_timeout_microseconds",
                                         "allow_timeout_override", "max_queue_size"};
    if (!want_group(x, s) || !check_members(x, s, fields, ARRAY_LEN(fields), NULL, 0))
        return false;
    const config_setting_t *m;
    int64_t v;
    if ((m = member(s, "timeout_action"))) {
        const char *a;
        if (!get_str(x, m, false, 64, &a))
            return false;
        if (!strcmp(a, "REJECT"))
            qp->timeout_action = TRK_TIMEOUT_ACTION_REJECT;
        else if (!strcmp(a, "DELAY"))
            qp->timeout_action = TRK_TIMEOUT_ACTION_DELAY;
        else
            return fail(x, m, NULL, "unknown action '%s'; use REJECT or DELAY", a);
    }
    if ((m = member(s, "default_timeout_microseconds"))) {
        if (!get_i64(x, m, 0, INT64_MAX, &v))
            return false;
        qp->default_timeout_microseconds = (uint64_t)v;
    }
    if ((m = member(s, "allow_timeout_override")) && !get_bool(x, m, &qp->allow_timeout_override))
        return false;
    if ((m = member(s, "max_queue_size"))) {
        if (!get_i64(x, m, 0, UINT32_MAX, &v))
            return false;
        qp->max_queue_size = (uint32_t)v;
    }
    return true;
}

static bool parse_dynamic_batching(struct ctx *x, const config_setting_t *s,
                                   int32_t max_batch_size, struct trk_dynamic_batching *db)
{
    static const char *const fields[] = {"preferred_batch_size", "max_queue_delay_microseconds",
                                         "preserve_ordering", "default_queue_policy"};
    static const char *const triton_only[] = {"priority_levels", "default_priority_level",
                                              "priority_queue_policy"};
    if (!want_group(x, s) ||
        !check_members(x, s, fields, ARRAY_LEN(fields), triton_only, ARRAY_LEN(triton_only)))
        return false;
    db->present = true;
    const config_setting_t *m;
    int64_t v;
    if ((m = member(s, "preferred_batch_size"))) {
        int t = config_setting_type(m);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return fail(x, m, NULL, "expected an array [ ... ] of batch sizes, got %s",
                        type_desc(m));
        int n = config_setting_length(m);
        if (n > 1024)
            return fail(x, m, NULL, "at most 1024 sizes, got %d", n);
        if (!(db->preferred_batch_size = alloc_array(x, (size_t)n, sizeof(int32_t))))
            return false;
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
            if (!get_i64(x, e, INT32_MIN, INT32_MAX, &v))
                return false;
            if (v <= 0)
                return fail(x, e, NULL, "dynamic batching preferred size must be positive, got %lld",
                            (long long)v);
            if (v > max_batch_size)
                return fail(x, e, NULL,
                            "dynamic batching preferred size must be <= max_batch_size (%d), "
                            "got %lld",
                            (int)max_batch_size, (long long)v);
            db->preferred_batch_size[db->npreferred++] = (int32_t)v;
        }
    }
    if ((m = member(s, "max_queue_delay_microseconds"))) {
        if (!get_i64(x, m, 0, INT64_MAX, &v))
            return false;
        db->max_queue_delay_microseconds = (uint64_t)v;
    }
    if ((m = member(s, "preserve_ordering")) && !get_bool(x, m, &db->preserve_ordering))
        return false;
    if ((m = member(s, "default_queue_policy"))) {
        db->has_default_queue_policy = true;
        if (!parse_queue_policy(x, m, &db->default_queue_policy))
            return false;
        const struct trk_queue_policy *qp = &db->default_queue_policy;
        if (db->preserve_ordering && qp->timeout_action == TRK_TIMEOUT_ACTION_DELAY &&
            qp->default_timeout_microseconds != 0)
            return fail(x, member(m, "timeout_action"), NULL,
                        "queue policy can not have DELAY as timeout action when "
                        "'preserve_ordering' is true");
    }
    if (db->npreferred == 0 && max_batch_size > 0) { /* Triton's normalisation */
        free(db->preferred_batch_size);
        if (!(db->preferred_batch_size = alloc_array(x, 1, sizeof(int32_t))))
            return false;
        db->preferred_batch_size[0] = max_batch_size;
        db->npreferred = 1;
    }
    return true;
}

/* ---- parameters ------------------------------------------------------------------- */

/* Text of a parameter value: strings as they are, numbers and booleans converted,
 * Triton's { string_value = "..." } unwrapped. */
static bool param_value(struct ctx *x, const config_setting_t *s, char **out)
{
    char buf[64];
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING: {
        const char *v;
        if (!get_str(x, s, true, 65536, &v))
            return false;
        return (*out = dup_str(x, v)) != NULL;
    }
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, sizeof buf, "%lld", config_setting_get_int64(s));
        return (*out = dup_str(x, buf)) != NULL;
    case CONFIG_TYPE_FLOAT: {
        double d = config_setting_get_float(s);
        for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back */
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return (*out = dup_str(x, buf)) != NULL;
    }
    case CONFIG_TYPE_BOOL:
        return (*out = dup_str(x, config_setting_get_bool(s) ? "true" : "false")) != NULL;
    case CONFIG_TYPE_GROUP: {
        const config_setting_t *sv = member(s, "string_value");
        if (sv && config_setting_length(s) == 1)
            return param_value(x, sv, out);
        break;
    }
    default:
        break;
    }
    return fail(x, s, NULL,
                "a parameter value must be a string, number or boolean (or Triton's "
                "{ string_value = \"...\"; }), got %s",
                type_desc(s));
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const struct trk_model_param *)a)->key,
                  ((const struct trk_model_param *)b)->key);
}

/* parameters = { key = value; ... };  or, for keys libconfig cannot spell,
 * parameters = ( { key = "a.b"; value = "x"; }, ... ); */
static bool parse_parameters(struct ctx *x, const config_setting_t *s, struct trk_model_config *c)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_GROUP && t != CONFIG_TYPE_LIST)
        return fail(x, s, NULL,
                    "expected a group { key = value; ... } or a list ( { key = \"k\"; value = "
                    "\"v\"; }, ... ), got %s",
                    type_desc(s));
    int n = config_setting_length(s);
    if (n > 4096)
        return fail(x, s, NULL, "at most 4096 parameters, got %d", n);
    if (!(c->parameters = alloc_array(x, (size_t)n, sizeof *c->parameters)))
        return false;
    c->nparameters = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct trk_model_param *p = &c->parameters[i];
        const config_setting_t *vs = e;
        if (t == CONFIG_TYPE_GROUP) {
            if (!(p->key = dup_str(x, config_setting_name(e))))
                return false;
        } else {
            static const char *const fields[] = {"key", "value"};
            const config_setting_t *k;
            const char *key;
            if (!want_group(x, e) || !check_members(x, e, fields, 2, NULL, 0))
                return false;
            if (!(k = member(e, "key")))
                return fail(x, e, "key", "required");
            if (!(vs = member(e, "value")))
                return fail(x, e, "value", "required");
            if (!get_str(x, k, false, 256, &key) || !(p->key = dup_str(x, key)))
                return false;
            for (int j = 0; j < i; j++)
                if (!strcmp(c->parameters[j].key, key))
                    return fail(x, k, NULL, "duplicate parameter '%s'", key);
        }
        if (!param_value(x, vs, &p->value))
            return false;
    }
    qsort(c->parameters, c->nparameters, sizeof *c->parameters, cmp_param);
    return true;
}

/* ---- the whole file --------------------------------------------------------------- */

static bool algorithm_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool parse_root(struct ctx *x, const config_setting_t *root, const char *default_name,
                       const char *expected_name, struct trk_model_config *c)
{
    static const char *const fields[] = {
        "name",     "algorithm",       "platform",         "backend",      "version_policy",
        "max_batch_size", "input",     "inputs",           "output",       "outputs",
        "instance_group", "dynamic_batching", "parameters", "queue_capacity",
        "max_request_bytes"};
    static const char *const triton_only[] = {
        "runtime",        "sequence_batching",      "ensemble_scheduling", "optimization",
        "model_warmup",   "batch_input",            "batch_output",  "default_model_filename",
        "cc_model_filenames", "metric_tags",        "model_operations",
        "model_transaction_policy", "model_repository_agents", "response_cache",
        "model_metrics"};
    if (!check_members(x, root, fields, ARRAY_LEN(fields), triton_only, ARRAY_LEN(triton_only)))
        return false;
    const config_setting_t *s;
    const char *str;
    int64_t v;

    /* name */
    if ((s = member(root, "name"))) {
        if (!get_str(x, s, false, TRK_MODEL_NAME_MAX, &str))
            return false;
        if (!trk_cfg_model_name_ok(str))
            return fail(x, s, NULL,
                        "'%s' is not a valid model name: use letters, digits, '_', '.' and '-', "
                        "not starting with '.'",
                        str);
        if (expected_name && strcmp(str, expected_name))
            return fail(x, s, NULL,
                        "'%s' does not match the model folder '%s' (the name must equal the "
                        "folder name, or be left out)",
                        str, expected_name);
    } else if (default_name) {
        str = default_name;
        if (!trk_cfg_model_name_ok(str))
            return fail(x, root, "name",
                        "the folder name '%s' is not a valid model name (letters, digits, '_', "
                        "'.', '-'); rename the folder",
                        str);
    } else {
        return fail(x, root, "name", "required (no model folder to take it from)");
    }
    if (!(c->name = dup_str(x, str)))
        return false;

    /* algorithm */
    if (!(s = member(root, "algorithm")))
        return fail(x, root, "algorithm",
                    "required: the trkserve implementation that serves this model, e.g. "
                    "algorithm = \"identity\"; (identity, sum, gemm, patatrack, exatrkx)");
    if (!get_str(x, s, false, 64, &str))
        return false;
    if (!algorithm_ok(str))
        return fail(x, s, NULL, "'%s' is not an algorithm name: use [a-z0-9_]", str);
    if (!(c->algorithm = dup_str(x, str)))
        return false;

    /* platform and backend: echoed in metadata */
    const char *platform = "", *backend = "";
    if ((s = member(root, "platform")) && !get_str(x, s, true, 128, &platform))
        return false;
    if ((s = member(root, "backend")) && !get_str(x, s, true, 128, &backend))
        return false;
    if (!platform[0] && !backend[0])
        backend = "trkserve";
    if (!(c->platform = dup_str(x, platform)) || !(c->backend = dup_str(x, backend)))
        return false;

    /* version_policy */
    c->version_policy.kind = TRK_VERSION_POLICY_LATEST;
    c->version_policy.num_versions = 1;
    if ((s = member(root, "version_policy")) && !parse_version_policy(x, s, &c->version_policy))
        return false;

    /* max_batch_size: before the tensors, whose dimension limit depends on it */
    if ((s = member(root, "max_batch_size"))) {
        if (!is_int(s))
            return fail(x, s, NULL, "expected an integer, got %s", type_desc(s));
        if (config_setting_get_int64(s) < 0)
            return fail(x, s, NULL,
                        "'max_batch_size' must be non-negative (0: no batching), got %lld",
                        config_setting_get_int64(s));
        if (!get_i64(x, s, 0, INT32_MAX, &v))
            return false;
        c->max_batch_size = (int32_t)v;
    }

    if (!parse_io_list(x, root, true, c->max_batch_size, c) ||
        !parse_io_list(x, root, false, c->max_batch_size, c))
        return false;
    if (!parse_instance_groups(x, root, c))
        return false;
    if ((s = member(root, "dynamic_batching")) &&
        !parse_dynamic_batching(x, s, c->max_batch_size, &c->dynamic_batching))
        return false;
    if ((s = member(root, "parameters")) && !parse_parameters(x, s, c))
        return false;

    /* trkserve extras */
    c->queue_capacity = TRK_MODEL_DEFAULT_QUEUE;
    if ((s = member(root, "queue_capacity"))) {
        if (!get_i64(x, s, 1, 1000000, &v))
            return false;
        c->queue_capacity = (uint32_t)v;
    }
    if ((s = member(root, "max_request_bytes"))) {
        if (!get_i64(x, s, 0, INT64_MAX, &v))
            return false;
        c->max_request_bytes = (uint64_t)v;
    }
    return true;
}

/* ---- integer literals: libconfig 1.5 silently wraps what does not fit in 32 bits ---- */

struct literal_scan {
    unsigned include_line;  /* first @include, 0: none */
    unsigned bad_line;      /* first integer libconfig would misread, 0: none */
    char bad_text[48];
    unsigned bad_ordinal;   /* how many integer literals precede it on its line */
};

/* A light lexer over libconfig's syntax (comments, strings, names, numbers) that finds
 * @include directives and integer literals libconfig 1.5 would store wrongly: decimal
 * values outside int32 and hex values above 0x7fffffff without an L suffix (its scanner
 * uses atoi/strtoul into an int), and L-suffixed values outside int64. */
static void scan_literals(const char *t, size_t len, struct literal_scan *ls)
{
    unsigned line = 1, ints_on_line = 0;
    size_t i = 0;
    memset(ls, 0, sizeof *ls);
    while (i < len) {
        char c = t[i];
        char nx = i + 1 < len ? t[i + 1] : '\0';
        if (c == '\n') {
            line++;
            ints_on_line = 0;
            i++;
        } else if (c == '#' || (c == '/' && nx == '/')) {
            while (i < len && t[i] != '\n')
                i++;
        } else if (c == '/' && nx == '*') {
            i += 2;
            while (i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/')) {
                if (t[i] == '\n') {
                    line++;
                    ints_on_line = 0;
                }
                i++;
            }
            i += 2;
        } else if (c == '"') {
            i++;
            while (i < len && t[i] != '"') {
                if (t[i] == '\\' && i + 1 < len)
                    i++;
                if (t[i] == '\n') {
                    line++;
                    ints_on_line = 0;
                }
                i++;
            }
            i++;
        } else if (c == '@') {
            if (!ls->include_line && !strncmp(t + i, "@include", len - i < 8 ? len - i : 8))
                ls->include_line = line;
            i++;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*') {
            while (i < len && ((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z') ||
                               (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '-' ||
                               t[i] == '*'))
                i++;
        } else if ((c >= '0' && c <= '9') ||
                   ((c == '-' || c == '+') && nx >= '0' && nx <= '9')) {
            size_t start = i++;
            bool hex = false;
            if ((t[start] == '0' || (start + 1 < len && t[start + 1] == '0')) && i < len) {
                size_t z = t[start] == '0' ? start : start + 1;
                hex = z + 1 < len && (t[z + 1] == 'x' || t[z + 1] == 'X');
            }
            while (i < len) {
                char d = t[i];
                bool exp_sign = (d == '-' || d == '+') && !hex &&
                                (t[i - 1] == 'e' || t[i - 1] == 'E');
                if ((d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
                    d == '.' || exp_sign)
                    i++;
                else
                    break;
            }
            size_t n = i - start;
            char tok[48];
            if (n >= sizeof tok)
                n = sizeof tok - 1;
            memcpy(tok, t + start, n);
            tok[n] = '\0';
            bool is_float = !hex && (strchr(tok, '.') || strchr(tok, 'e') || strchr(tok, 'E'));
            if (is_float || ls->bad_line)
                continue;
            ints_on_line++; /* counted before the check, so the ordinal is this - 1 */
            bool suffix_l = n > 0 && (tok[n - 1] == 'L' || tok[n - 1] == 'l');
            errno = 0;
            char *end;
            long long val = strtoll(tok, &end, hex ? 16 : 10);
            bool range_err = errno == ERANGE;
            bool bad;
            if (suffix_l)
                bad = range_err;
            else if (hex)
                bad = range_err || val > 0x7fffffffLL || val < -0x7fffffffLL - 1;
            else
                bad = range_err || val > INT32_MAX || val < INT32_MIN;
            if (bad) {
                ls->bad_line = line;
                ls->bad_ordinal = ints_on_line - 1;
                snprintf(ls->bad_text, sizeof ls->bad_text, "%s", tok);
            }
        } else {
            i++;
        }
    }
}

/* The ordinal-th integer setting on `line` in source order (libconfig creates one per
 * integer literal, in order), else any setting on that line; NULL if none. */
static const config_setting_t *setting_at_line(const config_setting_t *s, unsigned line,
                                               unsigned *ordinal, const config_setting_t **any)
{
    if (config_setting_parent(s) && config_setting_source_line(s) == line) {
        if (is_int(s) && (*ordinal)-- == 0)
            return s;
        if (!*any)
            *any = s;
    }
    if (config_setting_is_aggregate(s))
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *r =
                setting_at_line(config_setting_get_elem(s, (unsigned)i), line, ordinal, any);
            if (r)
                return r;
        }
    return NULL;
}

/* ---- entry points ----------------------------------------------------------------- */

static void free_io_config(struct trk_model_config *c)
{
    free(c->name);
    free(c->algorithm);
    free(c->platform);
    free(c->backend);
    free(c->version_policy.versions);
    free(c->inputs);
    free(c->outputs);
    for (uint32_t i = 0; i < c->ninstance_groups; i++) {
        struct trk_instance_group *g = &c->instance_groups[i];
        free(g->name);
        for (uint32_t j = 0; j < g->ndevices; j++)
            free(g->devices[j]);
        free(g->devices);
        free(g->gpus);
    }
    free(c->instance_groups);
    free(c->dynamic_batching.preferred_batch_size);
    for (uint32_t i = 0; i < c->nparameters; i++) {
        free(c->parameters[i].key);
        free(c->parameters[i].value);
    }
    free(c->parameters);
    free(c->path);
    free(c->dir);
}

/* The folder part of path ("." when none) and its last component (the default model
 * name; NULL when it has none, e.g. "/" or "."). Both malloc'd into *dir, *base. */
static bool split_dir(const char *path, char **dir, char **base)
{
    *dir = *base = NULL;
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = strdup(".");
        return *dir != NULL;
    }
    size_t n = (size_t)(slash - path);
    while (n > 1 && path[n - 1] == '/') /* "a//config.cfg" */
        n--;
    *dir = strndup(path, n ? n : 1);
    if (!*dir)
        return false;
    const char *b = *dir + strlen(*dir);
    while (b > *dir && b[-1] != '/')
        b--;
    if (*b && strcmp(b, ".") && strcmp(b, "..") && strcmp(b, "/")) {
        if (!(*base = strdup(b)))
            return false;
    }
    return true;
}

static enum trk_status parse_text(const char *text, size_t len, const char *origin,
                                  bool from_file, const char *expected_name,
                                  struct trk_model_config **out, char *err, size_t errlen)
{
    struct ctx x = {.origin = origin, .err = err, .errlen = errlen, .st = TRK_OK};
    if (err && errlen)
        err[0] = '\0';
    if (memchr(text, '\0', len)) {
        fail(&x, NULL, NULL, "contains a NUL byte: not a text file");
        return x.st;
    }
    struct literal_scan ls;
    scan_literals(text, len, &ls);
    if (ls.include_line) {
        char where[32];
        snprintf(where, sizeof where, "%s:%u", origin, ls.include_line);
        x.origin = where;
        fail(&x, NULL, NULL, "@include is not supported: a model config is one self-contained file");
        return x.st;
    }

    struct cfg_box *box = calloc(1, sizeof *box);
    if (!box) {
        fail_oom(&x);
        return x.st;
    }
    atomic_init(&box->refs, 1u);
    struct trk_model_config *c = &box->c;
    char *base = NULL;
    if (from_file) {
        if (!split_dir(origin, &c->dir, &base) || !(c->path = strdup(origin)))
            fail_oom(&x);
    } else {
        c->path = strdup(origin ? origin : "<string>");
        c->dir = strdup(".");
        if (!c->path || !c->dir)
            fail_oom(&x);
    }

    config_t cfg;
    config_init(&cfg);
    if (!x.failed && !config_read_string(&cfg, text)) {
        char where[32] = "";
        if (config_error_line(&cfg) > 0)
            snprintf(where, sizeof where, ":%d", config_error_line(&cfg));
        x.failed = true;
        x.st = TRK_ERR_PARSE;
        if (err && errlen)
            snprintf(err, errlen,
                     "%s%s: %s (libconfig syntax: name = value; groups { ... }, lists ( ... ), "
                     "arrays [ ... ], strings in double quotes)",
                     origin, where, config_error_text(&cfg));
    }
    if (!x.failed && ls.bad_line) {
        const config_setting_t *any = NULL;
        unsigned ordinal = ls.bad_ordinal;
        const config_setting_t *at =
            setting_at_line(config_root_setting(&cfg), ls.bad_line, &ordinal, &any);
        if (!at)
            at = any;
        if (at)
            fail(&x, at, NULL,
                 "integer %s does not fit in 32 bits and libconfig would misread it; write "
                 "%sL for a 64-bit value",
                 ls.bad_text, ls.bad_text);
        else
            fail(&x, NULL, NULL, "line %u: integer %s is out of range", ls.bad_line, ls.bad_text);
    }
    if (!x.failed)
        parse_root(&x, config_root_setting(&cfg), base, expected_name, c);
    config_destroy(&cfg);
    free(base);
    if (x.failed) {
        free_io_config(c);
        free(box);
        *out = NULL;
        return x.st;
    }
    *out = c;
    return TRK_OK;
}

enum trk_status trk_cfg_load(const char *path, const char *expected_name,
                             struct trk_model_config **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "no config file given");
        return TRK_ERR_INVALID_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return e == ENOENT || e == ENOTDIR ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
    }
    char *text = malloc(CFG_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return TRK_ERR_NO_MEMORY;
    }
    size_t len = fread(text, 1, CFG_FILE_MAX + 1, f);
    bool rerr = ferror(f) != 0;
    int e = errno;
    fclose(f);
    if (rerr) {
        free(text);
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        return TRK_ERR_IO;
    }
    if (len > CFG_FILE_MAX) {
        free(text);
        if (err && errlen)
            snprintf(err, errlen, "%s: larger than %u bytes: not a model config", path,
                     CFG_FILE_MAX);
        return TRK_ERR_PARSE;
    }
    text[len] = '\0';
    enum trk_status st = parse_text(text, len, path, true, expected_name, out, err, errlen);
    free(text);
    return st;
}

enum trk_status trk_model_config_load(const char *path, struct trk_model_config **out, char *err,
                                      size_t errlen)
{
    return trk_cfg_load(path, NULL, out, err, errlen);
}

enum trk_status trk_model_config_parse(const char *text, const char *origin,
                                       struct trk_model_config **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!text)
        return TRK_ERR_INVALID_ARG;
    return parse_text(text, strlen(text), origin ? origin : "<string>", origin != NULL, NULL, out,
                      err, errlen);
}

struct trk_model_config *trk_model_config_ref(struct trk_model_config *c)
{
    if (c)
        atomic_fetch_add_explicit(&box_of(c)->refs, 1u, memory_order_relaxed);
    return c;
}

void trk_model_config_free(struct trk_model_config *c)
{
    if (!c)
        return;
    struct cfg_box *b = box_of(c);
    if (atomic_fetch_sub_explicit(&b->refs, 1u, memory_order_acq_rel) != 1u)
        return;
    free_io_config(c);
    free(b);
}

/* ---- accessors -------------------------------------------------------------------- */

const char *trk_model_config_platform(const struct trk_model_config *c)
{
    if (!c)
        return "";
    return c->platform && c->platform[0] ? c->platform : c->backend ? c->backend : "";
}

uint32_t trk_model_config_queue_limit(const struct trk_model_config *c)
{
    if (!c)
        return 0;
    const struct trk_dynamic_batching *db = &c->dynamic_batching;
    if (db->present && db->has_default_queue_policy && db->default_queue_policy.max_queue_size)
        return db->default_queue_policy.max_queue_size;
    return c->queue_capacity;
}

static const struct trk_model_io *find_io(const struct trk_model_io *ios, uint32_t n,
                                          const char *name)
{
    if (!name)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(ios[i].name, name))
            return &ios[i];
    return NULL;
}

const struct trk_model_io *trk_model_config_input(const struct trk_model_config *c,
                                                  const char *name)
{
    return c ? find_io(c->inputs, c->ninputs, name) : NULL;
}

const struct trk_model_io *trk_model_config_output(const struct trk_model_config *c,
                                                   const char *name)
{
    return c ? find_io(c->outputs, c->noutputs, name) : NULL;
}

const char *trk_model_config_param(const struct trk_model_config *c, const char *key)
{
    if (!c || !key || !c->nparameters)
        return NULL;
    struct trk_model_param k = {.key = (char *)(uintptr_t)key};
    const struct trk_model_param *p =
        bsearch(&k, c->parameters, c->nparameters, sizeof *c->parameters, cmp_param);
    return p ? p->value : NULL;
}

enum trk_status trk_model_config_param_i64(const struct trk_model_config *c, const char *key,
                                           int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    if (!c || !key || !out)
        return TRK_ERR_INVALID_ARG;
    const char *v = trk_model_config_param(c, key);
    if (!v) {
        *out = def;
        return TRK_OK;
    }
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno == ERANGE || n < lo || n > hi) {
        TRK_LOGE("model '%s': parameter '%s' = '%s' is not an integer in [%lld, %lld]", c->name,
                 key, v, (long long)lo, (long long)hi);
        return TRK_ERR_INVALID_ARG;
    }
    *out = n;
    return TRK_OK;
}

enum trk_status trk_model_config_param_bool(const struct trk_model_config *c, const char *key,
                                            bool def, bool *out)
{
    if (!c || !key || !out)
        return TRK_ERR_INVALID_ARG;
    const char *v = trk_model_config_param(c, key);
    if (!v) {
        *out = def;
        return TRK_OK;
    }
    if (!strcasecmp(v, "true") || !strcmp(v, "1")) {
        *out = true;
    } else if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
        *out = false;
    } else {
        TRK_LOGE("model '%s': parameter '%s' = '%s' is not a boolean (true, false, 1, 0)",
                 c->name, key, v);
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}
