/* trk infer: one inference request to a KServe v2 / Triton server (trkserve or Triton),
 * or to the server core in this process, and its outputs printed or written as JSON.
 * Inputs come from --input specs, an event file (model inputs matched to event columns
 * by name) or, for anything left, the model's metadata (zeros or random data). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trk_tool.h"

int trk_cmd_infer(int argc, char **argv);

#ifndef TRK_HAVE_CLIENT

int trk_cmd_infer(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "trk infer: this trk was built without the client library (trkclient: "
                    "needs libcurl and jansson)\n");
    return 1;
}

#else

#include "trk/client.h"
#include "trk/event.h"
#include "trk/evfile.h"

#define MAX_URLS 64
#define MAX_SPECS 256

static void usage(FILE *out)
{
    fprintf(out,
        "usage: trk infer -m MODEL [-u URL ...] [options]\n"
        "\n"
        "Sends one inference request and prints each output's name, datatype, shape and\n"
        "first values (or the whole answer as JSON).\n"
        "\n"
        "server:\n"
        "  -u, --url URL          server; repeat for several (load balancing, failover).\n"
        "                         http://HOST:PORT, https://, grpc://HOST:PORT, grpcs://,\n"
        "                         or inprocess:REPOSITORY (run the model in this process).\n"
        "                         HOST:PORT alone takes the scheme from -i. Default:\n"
        "                         localhost:8000 (http) / localhost:8001 (grpc)\n"
        "  -i, --protocol P       http (default) or grpc\n"
        "  -m, --model NAME       model (required)\n"
        "  -x, --model-version V  version (default: the server's choice)\n"
        "      --timeout MS       per request, connect included (default: none)\n"
        "      --compression ALG  gzip or deflate for the request and response\n"
        "      --token TOKEN      send 'Authorization: Bearer TOKEN'\n"
        "      --ca-file PEM      CA bundle for https/grpcs; --insecure: no verification\n"
        "      --tensor-format F  binary (default) or json: how HTTP carries tensors\n"
        "\n"
        "inputs (model inputs not given get data from the model metadata):\n"
        "      --input NAME:DTYPE:SHAPE:DATA\n"
        "                         DTYPE as FP32, INT64, ...; SHAPE d1,d2,... (empty: a\n"
        "                         scalar); DATA zero, random, or @FILE (raw little-endian\n"
        "                         bytes, exactly the size the shape implies)\n"
        "      --shape NAME:d1,d2 extents of a dynamic input generated from metadata\n"
        "      --input-data D     zero or random (default) for generated inputs\n"
        "      --seed N           random data seed (default 1)\n"
        "      --event FILE       event file (.trkev): inputs named like an event column\n"
        "                         take that column\n"
        "      --event-index N    which event (default 0)\n"
        "      --id ID            request id (echoed by the server)\n"
        "      --output NAME      ask for this output only; repeat for several\n"
        "\n"
        "output:\n"
        "  -n, --values N         values printed per output (default 8)\n"
        "      --json             print the answer as JSON with every value\n"
        "  -o, --out FILE         write the answer as JSON to FILE\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 answered, 1 the request failed, 2 usage error.\n");
}

/* "host:port" -> "<scheme>://host:port" by protocol; full URLs stay. malloc'd. */
static char *normalise_url(const char *u, const char *proto)
{
    char *s = NULL;
    if (strstr(u, "://") || !strncmp(u, "inprocess:", 10))
        s = strdup(u);
    else if (asprintf(&s, "%s://%s", proto, u) < 0)
        s = NULL;
    return s;
}

static int parse_dims(const char *s, int64_t *dims, uint32_t *nd)
{
    *nd = 0;
    while (*s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || errno || *nd == TRK_TENSOR_MAX_DIMS || (*end && *end != ','))
            return -1;
        dims[(*nd)++] = v;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap)
            break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* --input NAME:DTYPE:SHAPE:DATA into an owned tensor; prints why on failure and sets
 * *exit_code to 2 for a malformed spec, 1 otherwise. */
static struct trk_tensor *input_from_spec(const char *spec, uint64_t *seed, int *exit_code)
{
    *exit_code = 1;
    char *s = strdup(spec), *f[4] = {0};
    struct trk_tensor *t = NULL;
    if (!s)
        return NULL;
    char *p = s;
    for (int i = 0; i < 4; i++) {
        f[i] = p;
        p = i < 3 ? strchr(p, ':') : NULL;
        if (i < 3) {
            if (!p)
                goto bad;
            *p++ = 0;
        }
    }
    enum trk_dtype dt = trk_dtype_from_name(f[1]);
    int64_t dims[TRK_TENSOR_MAX_DIMS];
    uint32_t nd;
    if (!*f[0] || strlen(f[0]) >= TRK_TENSOR_NAME_MAX || dt == TRK_DTYPE_INVALID ||
        parse_dims(f[2], dims, &nd))
        goto bad;
    if (f[3][0] == '@') {
        size_t len = 0;
        void *data = read_file(f[3] + 1, &len);
        if (!data) {
            fprintf(stderr, "trk infer: --input %s: cannot read %s: %s\n", f[0], f[3] + 1,
                    strerror(errno));
            goto out;
        }
        size_t numel;
        size_t es = trk_dtype_size(dt);
        if (trk_shape_numel(nd, dims, &numel) != TRK_OK || (es && numel * es != len)) {
            char sh[128];
            trk_shape_format(nd, dims, sh, sizeof sh);
            fprintf(stderr,
                    "trk infer: --input %s: %s holds %zu bytes but %s %s needs %zu\n", f[0],
                    f[3] + 1, len, f[1], sh, es * numel);
            free(data);
            goto out;
        }
        t = calloc(1, sizeof *t);
        if (!t) {
            free(data);
            goto out;
        }
        snprintf(t->name, sizeof t->name, "%s", f[0]);
        t->dtype = dt;
        t->ndim = nd;
        memcpy(t->shape, dims, nd * sizeof *dims);
        t->data = data; /* BYTES: the file holds the length-prefixed form */
        t->nbytes = len;
        t->owns_data = true;
    } else if (!strcmp(f[3], "zero") || !strcmp(f[3], "random")) {
        if (dt == TRK_DTYPE_BYTES) {
            t = calloc(1, sizeof *t);
            if (!t)
                goto out;
            snprintf(t->name, sizeof t->name, "%s", f[0]);
            t->dtype = dt;
            t->ndim = nd;
            memcpy(t->shape, dims, nd * sizeof *dims);
        } else if (trk_tensor_alloc(f[0], dt, nd, dims, &t) != TRK_OK) {
            fprintf(stderr, "trk infer: --input %s: cannot allocate it\n", f[0]);
            goto out;
        }
        if (trk_client_tensor_fill(t, !strcmp(f[3], "random"), seed) != TRK_OK) {
            trk_tensor_free(t);
            t = NULL;
            fprintf(stderr, "trk infer: --input %s: cannot fill it\n", f[0]);
        }
    } else {
        goto bad;
    }
    goto out;
bad:
    *exit_code = 2;
    fprintf(stderr,
            "trk infer: --input '%s': give NAME:DTYPE:SHAPE:DATA, e.g. INPUT0:FP32:16:random "
            "or X:INT32:2,3:@x.bin (DTYPE one of BOOL UINT8..UINT64 INT8..INT64 FP16 FP32 "
            "FP64 BYTES)\n",
            spec);
out:
    free(s);
    return t;
}

/* One element as text (JSON-compatible for numbers). */
static void print_value(FILE *out, enum trk_dtype dt, const unsigned char *p)
{
    switch (dt) {
    case TRK_DTYPE_BOOL: fputs(*p ? "true" : "false", out); break;
    case TRK_DTYPE_UINT8: fprintf(out, "%u", *p); break;
    case TRK_DTYPE_INT8: fprintf(out, "%d", *(const int8_t *)p); break;
    case TRK_DTYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); fprintf(out, "%u", v); break; }
    case TRK_DTYPE_INT16: { int16_t v; memcpy(&v, p, 2); fprintf(out, "%d", v); break; }
    case TRK_DTYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); fprintf(out, "%" PRIu32, v); break; }
    case TRK_DTYPE_INT32: { int32_t v; memcpy(&v, p, 4); fprintf(out, "%" PRId32, v); break; }
    case TRK_DTYPE_UINT64: { uint64_t v; memcpy(&v, p, 8); fprintf(out, "%" PRIu64, v); break; }
    case TRK_DTYPE_INT64: { int64_t v; memcpy(&v, p, 8); fprintf(out, "%" PRId64, v); break; }
    case TRK_DTYPE_FP16: {
        uint16_t h;
        memcpy(&h, p, 2);
        int e = (h >> 10) & 31, m = h & 1023;
        double v = e == 0 ? m * 0x1p-24 : e == 31 ? (m ? 0.0 / 0.0 : 1.0 / 0.0)
                                                  : (1024 + m) * (double)(1 << e) * 0x1p-25;
        fprintf(out, "%.6g", (h & 0x8000) ? -v : v);
        break;
    }
    case TRK_DTYPE_FP32: { float v; memcpy(&v, p, 4); fprintf(out, "%.9g", v); break; }
    case TRK_DTYPE_FP64: { double v; memcpy(&v, p, 8); fprintf(out, "%.17g", v); break; }
    default: fputs("?", out);
    }
}

static void print_string(FILE *out, const unsigned char *s, uint32_t len)
{
    fputc('"', out);
    for (uint32_t i = 0; i < len; i++) {
        unsigned char ch = s[i];
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* The values of t (at most max; SIZE_MAX: all), comma-separated. */
static void print_values(FILE *out, const struct trk_tensor *t, size_t max)
{
    size_t numel = 0;
    if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK)
        return;
    if (t->dtype == TRK_DTYPE_BYTES) {
        const unsigned char *p = t->data, *end = p + t->nbytes;
        for (size_t i = 0; i < numel && i < max; i++) {
            uint32_t l;
            if (end - p < 4 || (memcpy(&l, p, 4), (size_t)(end - p - 4) < l))
                break;
            fputs(i ? ", " : "", out);
            print_string(out, p + 4, l);
            p += 4 + l;
        }
    } else {
        size_t es = trk_dtype_size(t->dtype);
        for (size_t i = 0; i < numel && i < max && (i + 1) * es <= t->nbytes; i++) {
            fputs(i ? ", " : "", out);
            print_value(out, t->dtype, (const unsigned char *)t->data + i * es);
        }
    }
    if (numel > max)
        fprintf(out, ", ... (%zu values)", numel);
}

static void write_json(FILE *out, const char *model, const struct trk_client_result *r)
{
    fprintf(out, "{\"model_name\":");
    print_string(out, (const unsigned char *)model, (uint32_t)strlen(model));
    fprintf(out, ",\"model_version\":");
    print_string(out, (const unsigned char *)r->model_version, (uint32_t)strlen(r->model_version));
    if (r->id[0]) {
        fprintf(out, ",\"id\":");
        print_string(out, (const unsigned char *)r->id, (uint32_t)strlen(r->id));
    }
    fprintf(out, ",\"outputs\":[");
    for (uint32_t i = 0; i < r->noutputs; i++) {
        const struct trk_tensor *t = r->outputs[i];
        char sh[256];
        trk_shape_format(t->ndim, t->shape, sh, sizeof sh);
        fprintf(out, "%s\n{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":%s,\"data\":[",
                i ? "," : "", t->name, trk_dtype_name(t->dtype), sh);
        print_values(out, t, SIZE_MAX);
        fprintf(out, "]}");
    }
    fprintf(out, "]}\n");
}

/* Whether the metadata JSON lists an input called `name` (a light scan of the "inputs"
 * array: brackets counted outside strings, then "name": "<name>" looked for in it). */
static bool meta_has_input(const char *meta, const char *name)
{
    const char *p = strstr(meta, "\"inputs\"");
    if (!p || !(p = strchr(p, '[')))
        return false;
    const char *start = p, *end = NULL;
    int depth = 0;
    bool in_str = false;
    for (; *p && !end; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = false;
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']' && --depth == 0) {
            end = p;
        }
    }
    if (!end)
        return false;
    size_t nl = strlen(name);
    for (const char *q = start; (q = strstr(q, "\"name\"")) && q < end; q += 6) {
        const char *v = q + 6;
        while (*v == ' ' || *v == ':')
            v++;
        if (*v == '"' && !strncmp(v + 1, name, nl) && v[1 + nl] == '"')
            return true;
    }
    return false;
}

/* Event columns named like a model input (and not given with --input) become inputs
 * (borrowed from ev). */
static void add_event_inputs(const char *meta, const struct trk_event *ev,
                             struct trk_tensor **inputs, uint32_t *ninputs, const char *model,
                             const char *path)
{
    uint32_t matched = 0;
    for (uint32_t i = 0; i < ev->ntensors && *ninputs < MAX_SPECS; i++) {
        struct trk_tensor *col = ev->tensors[i];
        bool have = false;
        for (uint32_t k = 0; k < *ninputs && !have; k++)
            have = !strcmp(inputs[k]->name, col->name);
        if (have || !meta_has_input(meta, col->name))
            continue;
        inputs[(*ninputs)++] = col;
        matched++;
    }
    if (!matched)
        fprintf(stderr, "trk infer: warning: no input of '%s' matches a column of %s\n", model,
                path);
}

int trk_cmd_infer(int argc, char **argv)
{
    enum {
        O_TIMEOUT = 256, O_COMPRESSION, O_TOKEN, O_CA, O_INSECURE, O_FORMAT, O_INPUT, O_SHAPE,
        O_INPUT_DATA, O_SEED, O_EVENT, O_EVENT_INDEX, O_ID, O_OUTPUT, O_JSON
    };
    static const struct option longopts[] = {
        {"url", required_argument, 0, 'u'},       {"protocol", required_argument, 0, 'i'},
        {"model", required_argument, 0, 'm'},     {"model-version", required_argument, 0, 'x'},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"compression", required_argument, 0, O_COMPRESSION},
        {"token", required_argument, 0, O_TOKEN}, {"ca-file", required_argument, 0, O_CA},
        {"insecure", no_argument, 0, O_INSECURE},
        {"tensor-format", required_argument, 0, O_FORMAT},
        {"input", required_argument, 0, O_INPUT}, {"shape", required_argument, 0, O_SHAPE},
        {"input-data", required_argument, 0, O_INPUT_DATA},
        {"seed", required_argument, 0, O_SEED},   {"event", required_argument, 0, O_EVENT},
        {"event-index", required_argument, 0, O_EVENT_INDEX},
        {"id", required_argument, 0, O_ID},       {"output", required_argument, 0, O_OUTPUT},
        {"values", required_argument, 0, 'n'},    {"json", no_argument, 0, O_JSON},
        {"out", required_argument, 0, 'o'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *url_args[MAX_URLS], *proto = "http", *model = NULL, *event_path = NULL;
    const char *id = NULL, *out_path = NULL, *input_specs[MAX_SPECS], *shapes[MAX_SPECS];
    const char *outputs[MAX_SPECS];
    uint32_t nurl = 0, ninspec = 0, nshapes = 0, noutputs = 0;
    int64_t version = -1;
    size_t event_index = 0, nvalues = 8;
    uint64_t seed = 1;
    bool random = true, json = false;
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "u:i:m:x:n:o:h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'u':
            if (nurl == MAX_URLS) {
                fprintf(stderr, "trk infer: at most %d -u\n", MAX_URLS);
                return 2;
            }
            url_args[nurl++] = optarg;
            break;
        case 'i':
            if (strcmp(optarg, "http") && strcmp(optarg, "grpc")) {
                fprintf(stderr, "trk infer: -i %s: use http or grpc\n", optarg);
                return 2;
            }
            proto = optarg;
            break;
        case 'm': model = optarg; break;
        case 'x':
            version = strtoll(optarg, &end, 10);
            if (*end || version < 1) {
                fprintf(stderr, "trk infer: -x %s: give a version number >= 1\n", optarg);
                return 2;
            }
            break;
        case O_TIMEOUT:
            opt.timeout_ms = (uint32_t)strtoul(optarg, &end, 10);
            if (*end) {
                fprintf(stderr, "trk infer: --timeout %s: give milliseconds\n", optarg);
                return 2;
            }
            break;
        case O_COMPRESSION:
            if (strcmp(optarg, "gzip") && strcmp(optarg, "deflate")) {
                fprintf(stderr, "trk infer: --compression %s: use gzip or deflate\n", optarg);
                return 2;
            }
            opt.compression = optarg;
            break;
        case O_TOKEN: opt.auth_token = optarg; break;
        case O_CA: opt.ca_file = optarg; break;
        case O_INSECURE: opt.insecure = true; break;
        case O_FORMAT:
            if (strcmp(optarg, "binary") && strcmp(optarg, "json")) {
                fprintf(stderr, "trk infer: --tensor-format %s: use binary or json\n", optarg);
                return 2;
            }
            opt.binary = !strcmp(optarg, "binary");
            break;
        case O_INPUT:
        case O_SHAPE:
        case O_OUTPUT:
            if (ninspec == MAX_SPECS || nshapes == MAX_SPECS || noutputs == MAX_SPECS) {
                fprintf(stderr, "trk infer: too many --input/--shape/--output\n");
                return 2;
            }
            if (c == O_INPUT)
                input_specs[ninspec++] = optarg;
            else if (c == O_SHAPE)
                shapes[nshapes++] = optarg;
            else
                outputs[noutputs++] = optarg;
            break;
        case O_INPUT_DATA:
            if (strcmp(optarg, "zero") && strcmp(optarg, "random")) {
                fprintf(stderr, "trk infer: --input-data %s: use zero or random\n", optarg);
                return 2;
            }
            random = !strcmp(optarg, "random");
            break;
        case O_SEED: seed = strtoull(optarg, NULL, 10); break;
        case O_EVENT: event_path = optarg; break;
        case O_EVENT_INDEX:
            event_index = strtoull(optarg, &end, 10);
            if (*end || optarg[0] == '-') {
                fprintf(stderr, "trk infer: --event-index %s: give a number >= 0\n", optarg);
                return 2;
            }
            break;
        case O_ID: id = optarg; break;
        case 'n':
            nvalues = strtoull(optarg, &end, 10);
            if (*end || optarg[0] == '-') {
                fprintf(stderr, "trk infer: -n %s: give a number >= 0\n", optarg);
                return 2;
            }
            break;
        case O_JSON: json = true; break;
        case 'o': out_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trk infer: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!model) {
        fprintf(stderr, "trk infer: -m MODEL is required (trk infer --help)\n");
        return 2;
    }

    int rc = 1;
    char *urls[MAX_URLS] = {0};
    struct trk_client *client = NULL;
    struct trk_tensor *inputs[MAX_SPECS] = {0}, **gen = NULL;
    uint32_t ninputs = 0, ngen = 0;
    struct trk_evfile *ef = NULL;
    struct trk_event ev;
    trk_event_init(&ev, 0);
    char *meta = NULL, err[TRK_CLIENT_ERR_MAX];
    struct trk_client_result res;
    memset(&res, 0, sizeof res);

    for (uint32_t i = 0; i < ninspec; i++) {
        if (!(inputs[ninputs] = input_from_spec(input_specs[i], &seed, &rc)))
            goto done;
        ninputs++;
    }
    rc = 1;
    if (!nurl)
        url_args[nurl++] = !strcmp(proto, "grpc") ? "localhost:8001" : "localhost:8000";
    for (uint32_t i = 0; i < nurl; i++)
        if (!(urls[i] = normalise_url(url_args[i], proto)))
            goto done;
    if (trk_client_create((const char *const *)urls, nurl, &opt, &client, err, sizeof err) !=
        TRK_OK) {
        fprintf(stderr, "trk infer: %s\n", err);
        goto done;
    }
    if (event_path) {
        enum trk_status st = trk_evfile_open(event_path, &ef);
        if (st != TRK_OK) {
            fprintf(stderr, "trk infer: --event %s: %s\n", event_path, trk_status_str(st));
            goto done;
        }
        if (event_index >= trk_evfile_count(ef)) {
            fprintf(stderr, "trk infer: --event-index %zu: %s holds %zu events\n", event_index,
                    event_path, trk_evfile_count(ef));
            goto done;
        }
        if ((st = trk_evfile_read(ef, event_index, &ev)) != TRK_OK) {
            fprintf(stderr, "trk infer: %s event %zu: %s\n", event_path, event_index,
                    trk_status_str(st));
            goto done;
        }
    }
    /* The model's inputs: explicit ones first, then event columns by name, then data
     * generated from metadata. The shapes of what we have go to the generator so that it
     * does not ask for --shape of an input it will not generate. */
    enum trk_status mst = trk_client_model_metadata(client, model, version, &meta, err,
                                                    sizeof err);
    if (mst != TRK_OK) {
        if (!ninputs) {
            fprintf(stderr, "trk infer: cannot get the metadata of model '%s': %s\n", model,
                    err);
            goto done;
        }
        fprintf(stderr, "trk infer: warning: no metadata for '%s' (%s); sending the --input "
                        "tensors only\n", model, err);
    } else {
        /* inputs given explicitly or found in the event are not generated */
        const char **skip = calloc(ninputs + ev.ntensors + 1, sizeof *skip);
        if (!skip)
            goto done;
        uint32_t nskip = 0;
        for (uint32_t i = 0; i < ninputs; i++)
            skip[nskip++] = inputs[i]->name;
        for (uint32_t i = 0; i < ev.ntensors; i++)
            skip[nskip++] = ev.tensors[i]->name;
        enum trk_status st = trk_client_inputs_from_metadata(
            meta, nshapes, shapes, 1, random, seed, skip, nskip, &gen, &ngen, err, sizeof err);
        free(skip);
        if (st != TRK_OK) {
            fprintf(stderr, "trk infer: model '%s': %s\n", model, err);
            goto done;
        }
        for (uint32_t g = 0; g < ngen && ninputs < MAX_SPECS; g++)
            inputs[ninputs++] = gen[g]; /* borrowed from gen */
        if (event_path)
            add_event_inputs(meta, &ev, inputs, &ninputs, model, event_path);
    }

    struct trk_client_request req = {.model = model, .version = version, .id = id,
                                     .ninputs = ninputs,
                                     .inputs = (const struct trk_tensor *const *)inputs,
                                     .noutputs = noutputs, .outputs = outputs};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum trk_status st = trk_client_infer(client, &req, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
    if (st != TRK_OK) {
        if (res.wire_code)
            fprintf(stderr, "trk infer: %s answered %d: %s\n", urls[res.server_index],
                    res.wire_code, res.error);
        else
            fprintf(stderr, "trk infer: %s (%s)\n", res.error, trk_status_str(st));
        goto done;
    }
    if (json) {
        write_json(stdout, model, &res);
    } else {
        printf("model %s version %s answered by %s in %.3f ms%s%s\n", model, res.model_version,
               urls[res.server_index], ms, res.id[0] ? ", id " : "", res.id);
        for (uint32_t i = 0; i < res.noutputs; i++) {
            const struct trk_tensor *t = res.outputs[i];
            char sh[256];
            trk_shape_format(t->ndim, t->shape, sh, sizeof sh);
            printf("  %s %s %s (%zu bytes): ", t->name, trk_dtype_name(t->dtype), sh,
                   t->nbytes);
            print_values(stdout, t, nvalues);
            printf("\n");
        }
    }
    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (!f) {
            fprintf(stderr, "trk infer: cannot write %s: %s\n", out_path, strerror(errno));
            goto done;
        }
        write_json(f, model, &res);
        if (fclose(f) != 0) {
            fprintf(stderr, "trk infer: writing %s failed: %s\n", out_path, strerror(errno));
            goto done;
        }
    }
    rc = 0;
done:
    trk_client_result_fini(&res);
    for (uint32_t i = 0; i < ninspec; i++)
        trk_tensor_free(inputs[i]);
    trk_client_tensors_free(gen, ngen);
    trk_event_fini(&ev);
    trk_evfile_close(ef);
    free(meta);
    trk_client_free(client);
    for (uint32_t i = 0; i < nurl; i++)
        free(urls[i]);
    return rc;
}

#endif
