/* trkserve — the inference server program: a model repository served over KServe v2 /
 * Triton HTTP and gRPC plus Prometheus metrics. Options follow tritonserver's names. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trk/algorithm.h"
#include "trk/frontend.h"
#include "trk/log.h"
#include "trk/model_repository.h"
#include "trk/server.h"

#ifndef TRK_VERSION_STRING
#define TRK_VERSION_STRING "0.1.0"
#endif
#ifdef TRK_HAVE_HTTP
#define HAVE_HTTP 1
#else
#define HAVE_HTTP 0
#endif
#ifdef TRK_HAVE_GRPC
#define HAVE_GRPC 1
#else
#define HAVE_GRPC 0
#endif

#define MAX_LOAD_MODELS 256

struct options {
    const char *repo;
    long http_port, grpc_port, metrics_port;
    const char *http_addr, *grpc_addr, *metrics_addr;
    bool allow_http, allow_grpc, allow_metrics;
    bool allow_http_set, allow_grpc_set;
    bool strict_readiness;
    bool explicit_mode;
    const char *load[MAX_LOAD_MODELS];
    int nload;
    long exit_timeout_secs;
    long log_verbose;
    const char *tls_cert, *tls_key;
    const char *auth_token, *auth_token_file;
    uint64_t max_request_bytes;
    const char *device_path;
    bool check_config;
};

enum {
    OPT_REPO = 256, OPT_HTTP_PORT, OPT_GRPC_PORT, OPT_METRICS_PORT, OPT_HTTP_ADDR,
    OPT_GRPC_ADDR, OPT_METRICS_ADDR, OPT_ALLOW_HTTP, OPT_ALLOW_GRPC, OPT_ALLOW_METRICS,
    OPT_STRICT, OPT_CONTROL, OPT_LOAD, OPT_EXIT_TIMEOUT, OPT_LOG_VERBOSE, OPT_TLS_CERT,
    OPT_TLS_KEY, OPT_AUTH_TOKEN, OPT_AUTH_TOKEN_FILE, OPT_MAX_REQUEST, OPT_DEVICE_PATH,
    OPT_CHECK, OPT_VERSION,
};

static const struct option k_long[] = {
    {"model-repository", required_argument, NULL, OPT_REPO},
    {"model-store", required_argument, NULL, OPT_REPO},
    {"http-port", required_argument, NULL, OPT_HTTP_PORT},
    {"grpc-port", required_argument, NULL, OPT_GRPC_PORT},
    {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
    {"http-address", required_argument, NULL, OPT_HTTP_ADDR},
    {"grpc-address", required_argument, NULL, OPT_GRPC_ADDR},
    {"metrics-address", required_argument, NULL, OPT_METRICS_ADDR},
    {"allow-http", required_argument, NULL, OPT_ALLOW_HTTP},
    {"allow-grpc", required_argument, NULL, OPT_ALLOW_GRPC},
    {"allow-metrics", required_argument, NULL, OPT_ALLOW_METRICS},
    {"strict-readiness", required_argument, NULL, OPT_STRICT},
    {"model-control-mode", required_argument, NULL, OPT_CONTROL},
    {"load-model", required_argument, NULL, OPT_LOAD},
    {"exit-timeout-secs", required_argument, NULL, OPT_EXIT_TIMEOUT},
    {"log-verbose", required_argument, NULL, OPT_LOG_VERBOSE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"auth-token", required_argument, NULL, OPT_AUTH_TOKEN},
    {"auth-token-file", required_argument, NULL, OPT_AUTH_TOKEN_FILE},
    {"max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST},
    {"device-path", required_argument, NULL, OPT_DEVICE_PATH},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trkserve --model-repository DIR [options]\n"
            "Serves the models of DIR over the KServe v2 / Triton protocol.\n\n"
            "  --model-repository DIR       the model repository (required)\n"
            "  --http-port N                HTTP/REST port (default 8000; 0: any free port)\n"
            "  --grpc-port N                gRPC port (default 8001; 0: any free port)\n"
            "  --metrics-port N             Prometheus metrics port (default 8002; 0: any)\n"
            "  --http-address A             address to bind (default 127.0.0.1; 0.0.0.0: all)\n"
            "  --grpc-address A             (default 127.0.0.1)\n"
            "  --metrics-address A          (default 127.0.0.1)\n"
            "  --allow-http true|false      serve HTTP (default %s)\n"
            "  --allow-grpc true|false      serve gRPC (default %s)\n"
            "  --allow-metrics true|false   serve metrics (default %s)\n"
            "  --strict-readiness true|false  ready only when every model is READY (default true)\n"
            "  --model-control-mode none|explicit  none: load every model at start (default);\n"
            "                               explicit: load only --load-model ones and on request\n"
            "  --load-model NAME            with explicit mode: load NAME at start (repeatable)\n"
            "  --exit-timeout-secs N        on SIGTERM/SIGINT, wait up to N s for requests in\n"
            "                               flight (default 30)\n"
            "  --log-verbose N              0: info (default), 1: debug, 2: trace\n"
            "  --tls-cert FILE --tls-key FILE  serve HTTPS and gRPC over TLS (PEM files)\n"
            "  --auth-token TOKEN           require \"Authorization: Bearer TOKEN\" (not on\n"
            "                               health endpoints)\n"
            "  --auth-token-file FILE       the same, the token read from FILE's first line\n"
            "  --max-request-bytes N        largest request body (default 268435456) for models\n"
            "                               whose config sets no max_request_bytes\n"
            "  --device-path DIR            extra folder with device modules (default search)\n"
            "  --check-config               check every model's config and algorithm, print one\n"
            "                               line per model, exit 0 when all are OK, else 1\n"
            "  --help                       this text\n"
            "  --version                    print the version\n",
            HAVE_HTTP ? "true" : "false (not built)", HAVE_GRPC ? "true" : "false (not built)",
            HAVE_HTTP ? "true" : "false (not built)");
}

static int bad_option(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "trkserve: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(trkserve --help lists the options)\n");
    return 2;
}

static bool parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = false;
    else
        return false;
    return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->http_port = 8000;
    o->grpc_port = 8001;
    o->metrics_port = 8002;
    o->http_addr = o->grpc_addr = o->metrics_addr = "127.0.0.1";
    o->allow_http = HAVE_HTTP;
    o->allow_grpc = HAVE_GRPC;
    o->allow_metrics = HAVE_HTTP;
    o->strict_readiness = true;
    o->exit_timeout_secs = 30;
    opterr = 0;
    int c, idx;
    while ((c = getopt_long(argc, argv, ":h", k_long, &idx)) != -1) {
        long v;
        bool b;
        switch (c) {
        case OPT_REPO: o->repo = optarg; break;
        case OPT_HTTP_PORT:
        case OPT_GRPC_PORT:
        case OPT_METRICS_PORT:
            if (!parse_long(optarg, 0, 65535, &v))
                return bad_option("--%s: '%s' is not a port number (0-65535)", k_long[idx].name,
                                  optarg);
            if (c == OPT_HTTP_PORT)
                o->http_port = v;
            else if (c == OPT_GRPC_PORT)
                o->grpc_port = v;
            else
                o->metrics_port = v;
            break;
        case OPT_HTTP_ADDR: o->http_addr = optarg; break;
        case OPT_GRPC_ADDR: o->grpc_addr = optarg; break;
        case OPT_METRICS_ADDR: o->metrics_addr = optarg; break;
        case OPT_ALLOW_HTTP:
        case OPT_ALLOW_GRPC:
        case OPT_ALLOW_METRICS:
        case OPT_STRICT:
            if (!parse_bool(optarg, &b))
                return bad_option("--%s: '%s' is not true or false", k_long[idx].name, optarg);
            if (c == OPT_ALLOW_HTTP) {
                o->allow_http = b;
                o->allow_http_set = true;
            } else if (c == OPT_ALLOW_GRPC) {
                o->allow_grpc = b;
                o->allow_grpc_set = true;
            } else if (c == OPT_ALLOW_METRICS) {
                o->allow_metrics = b;
            } else {
                o->strict_readiness = b;
            }
            break;
        case OPT_CONTROL:
            if (!strcmp(optarg, "none"))
                o->explicit_mode = false;
            else if (!strcmp(optarg, "explicit"))
                o->explicit_mode = true;
            else
                return bad_option("--model-control-mode: '%s' is not none or explicit%s", optarg,
                                  strcmp(optarg, "poll") ? "" : " (poll is not supported)");
            break;
        case OPT_LOAD:
            if (o->nload == MAX_LOAD_MODELS)
                return bad_option("--load-model: more than %s models%s", "256", "");
            o->load[o->nload++] = optarg;
            break;
        case OPT_EXIT_TIMEOUT:
            if (!parse_long(optarg, 0, 86400, &o->exit_timeout_secs))
                return bad_option("--exit-timeout-secs: '%s' is not a number of seconds "
                                  "(0-86400)%s", optarg, "");
            break;
        case OPT_LOG_VERBOSE:
            if (!parse_long(optarg, 0, 100, &o->log_verbose))
                return bad_option("--log-verbose: '%s' is not a number >= 0%s", optarg, "");
            break;
        case OPT_TLS_CERT: o->tls_cert = optarg; break;
        case OPT_TLS_KEY: o->tls_key = optarg; break;
        case OPT_AUTH_TOKEN: o->auth_token = optarg; break;
        case OPT_AUTH_TOKEN_FILE: o->auth_token_file = optarg; break;
        case OPT_MAX_REQUEST: {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || n == 0 || optarg[0] == '-')
                return bad_option("--max-request-bytes: '%s' is not a positive number of "
                                  "bytes%s", optarg, "");
            o->max_request_bytes = n;
            break;
        }
        case OPT_DEVICE_PATH: o->device_path = optarg; break;
        case OPT_CHECK: o->check_config = true; break;
        case OPT_VERSION:
            printf("trkserve %s\n", TRK_VERSION_STRING);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            return bad_option("option %s needs a value%s", argv[optind - 1], "");
        default:
            return bad_option("unknown option '%s'%s", argv[optind - 1], "");
        }
    }
    if (optind < argc)
        return bad_option("unexpected argument '%s'%s", argv[optind], "");
    if (!o->repo)
        return bad_option("--model-repository DIR is required%s%s", "", "");
    if (o->nload && !o->explicit_mode)
        return bad_option("--load-model needs --model-control-mode explicit%s%s", "", "");
    if (!!o->tls_cert != !!o->tls_key)
        return bad_option("--tls-cert and --tls-key go together%s%s", "", "");
    if (o->auth_token && o->auth_token_file)
        return bad_option("give --auth-token or --auth-token-file, not both%s%s", "", "");
    if (o->allow_http_set && o->allow_http && !HAVE_HTTP)
        return bad_option("--allow-http true: this trkserve was built without the HTTP front "
                          "end (libmicrohttpd)%s%s", "", "");
    if (o->allow_grpc_set && o->allow_grpc && !HAVE_GRPC)
        return bad_option("--allow-grpc true: this trkserve was built without the gRPC front "
                          "end (gRPC C core, protobuf-c)%s%s", "", "");
    if (o->allow_metrics && !HAVE_HTTP)
        o->allow_metrics = false;
    return 0;
}

/* --check-config: the repository scan plus each algorithm's own check. */
static int check_config(const char *dir)
{
    struct trk_repository *r;
    enum trk_status st = trk_repository_scan(dir, &r);
    if (st != TRK_OK) {
        fprintf(stderr, "trkserve: cannot read the model repository '%s': %s\n", dir,
                trk_status_str(st));
        return 1;
    }
    uint32_t n = trk_repository_count(r), bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct trk_repository_model *m = trk_repository_model(r, i);
        if (m->state != TRK_MODEL_STATE_READY) {
            bad++;
            printf("%s: ERROR %s\n", m->name, m->reason);
            continue;
        }
        const struct trk_algorithm *a = trk_algorithm_find(m->config->algorithm);
        char err[TRK_ALGORITHM_ERR_MAX] = "";
        if (!a) {
            bad++;
            printf("%s: ERROR %s: unknown algorithm '%s'; this build has:", m->name,
                   m->config->path, m->config->algorithm);
            for (uint32_t k = 0; k < trk_algorithm_count(); k++)
                printf("%s %s", k ? "," : "", trk_algorithm_at(k)->name);
            printf("\n");
            continue;
        }
        if (a->check && a->check(m->config, err, sizeof err) != TRK_OK) {
            bad++;
            printf("%s: ERROR %s: %s\n", m->name, m->config->path, err);
            continue;
        }
        uint32_t nready = 0;
        for (uint32_t k = 0; k < m->nversions; k++)
            nready += m->versions[k].state == TRK_MODEL_STATE_READY;
        printf("%s: OK (algorithm %s, version%s ", m->name, m->config->algorithm,
               nready == 1 ? "" : "s");
        int listed = 0;
        for (uint32_t k = 0; k < m->nversions; k++)
            if (m->versions[k].state == TRK_MODEL_STATE_READY)
                printf("%s%" PRId64, listed++ ? ", " : "", m->versions[k].version);
        printf(")");
        for (uint32_t k = 0; k < m->nversions; k++)
            if (m->versions[k].state != TRK_MODEL_STATE_READY)
                printf("; version %" PRId64 " unavailable: %s", m->versions[k].version,
                       m->versions[k].reason);
        printf("\n");
    }
    printf("%u model%s, %u with errors\n", n, n == 1 ? "" : "s", bad);
    trk_repository_free(r);
    return bad ? 1 : 0;
}

static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "trkserve: --auth-token-file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char line[4096];
    char *tok = NULL;
    if (fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (l)
            tok = strdup(line);
    }
    fclose(f);
    if (!tok)
        fprintf(stderr, "trkserve: --auth-token-file %s: the first line is empty\n", path);
    return tok;
}

static uint32_t models_ready(struct trk_server *s)
{
    struct trk_repo_entry *e;
    uint32_t n, k = 0;
    if (trk_server_repository_index(s, true, &e, &n) != TRK_OK)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        k += i == 0 || strcmp(e[i].name, e[i - 1].name) != 0;
    free(e);
    return k;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!getenv("TRK_LOG_LEVEL"))
        trk_log_set_level(o.log_verbose >= 2 ? TRK_LOG_TRACE
                          : o.log_verbose == 1 ? TRK_LOG_DEBUG : TRK_LOG_INFO);
    if (o.check_config)
        return check_config(o.repo);

    char *token_buf = NULL;
    if (o.auth_token_file) {
        if (!(token_buf = read_token_file(o.auth_token_file)))
            return 2;
        o.auth_token = token_buf;
    }

    /* Signals are taken by sigwait below; every thread started from here inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct trk_server_options sopt;
    trk_server_options_default(&sopt);
    sopt.model_repository = o.repo;
    sopt.device_path = o.device_path;
    sopt.max_request_bytes = o.max_request_bytes;
    sopt.strict_readiness = o.strict_readiness;
    sopt.load_models = !o.explicit_mode;
    struct trk_server *s = NULL;
    char err[1024];
    if (trk_server_create(&sopt, &s, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "trkserve: %s\n", err);
        free(token_buf);
        return 1;
    }
    for (int i = 0; i < o.nload; i++)
        if (trk_server_model_load(s, o.load[i], err, sizeof err) != TRK_OK)
            fprintf(stderr, "trkserve: --load-model %s: %s\n", o.load[i], err);

    struct trk_listen_options base = {
        .tls_cert = o.tls_cert, .tls_key = o.tls_key, .auth_token = o.auth_token};
    (void)base; /* unused when no front end is built */
    char line[512];
    size_t len = 0;
    line[0] = '\0';
    rc = 0;
#if HAVE_HTTP
    struct trk_http *http = NULL;
    struct trk_metrics *metrics = NULL;
    if (o.allow_http) {
        struct trk_http_options hopt = {.listen = base, .max_body_bytes = o.max_request_bytes};
        hopt.listen.address = o.http_addr;
        hopt.listen.port = (uint16_t)o.http_port;
        if (trk_http_start(s, &hopt, &http, err, sizeof err) != TRK_OK) {
            fprintf(stderr, "trkserve: cannot serve HTTP on %s:%ld: %s\n", o.http_addr,
                    o.http_port, err);
            rc = 1;
            goto out;
        }
        len += (size_t)snprintf(line + len, sizeof line - len, "%sHTTP on %s:%u",
                                len ? ", " : "", o.http_addr, trk_http_port(http));
    }
#endif
#if HAVE_GRPC
    struct trk_grpc *grpc = NULL;
    if (o.allow_grpc) {
        struct trk_grpc_options gopt = {.listen = base};
        gopt.listen.address = o.grpc_addr;
        gopt.listen.port = (uint16_t)o.grpc_port;
        if (trk_grpc_start(s, &gopt, &grpc, err, sizeof err) != TRK_OK) {
            fprintf(stderr, "trkserve: cannot serve gRPC on %s:%ld: %s\n", o.grpc_addr,
                    o.grpc_port, err);
            rc = 1;
            goto out;
        }
        len += (size_t)snprintf(line + len, sizeof line - len, "%sgRPC on %s:%u",
                                len ? ", " : "", o.grpc_addr, trk_grpc_port(grpc));
    }
#endif
#if HAVE_HTTP
    if (o.allow_metrics) {
        struct trk_listen_options mopt = base;
        mopt.address = o.metrics_addr;
        mopt.port = (uint16_t)o.metrics_port;
        mopt.auth_token = NULL; /* Prometheus scrapes without a token, as Triton's */
        if (trk_metrics_start(s, &mopt, &metrics, err, sizeof err) != TRK_OK) {
            fprintf(stderr, "trkserve: cannot serve metrics on %s:%ld: %s\n", o.metrics_addr,
                    o.metrics_port, err);
            rc = 1;
            goto out;
        }
        len += (size_t)snprintf(line + len, sizeof line - len, "%smetrics on %s:%u",
                                len ? ", " : "", o.metrics_addr, trk_metrics_port(metrics));
    }
#endif
    printf("trkserve: %s; %u models ready\n", len ? line : "no listeners", models_ready(s));
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    TRK_LOGI("%s: draining (up to %ld s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             o.exit_timeout_secs);
    /* New requests are refused and readiness turns false; requests in flight finish. */
    trk_server_drain(s, (uint32_t)o.exit_timeout_secs * 1000u);
#if HAVE_HTTP || HAVE_GRPC
out:
#endif
#if HAVE_GRPC
    trk_grpc_stop(grpc);
#endif
#if HAVE_HTTP
    trk_metrics_stop(metrics);
    trk_http_stop(http);
#endif
    trk_server_free(s);
    free(token_buf);
    if (rc == 0)
        printf("trkserve: stopped\n");
    return rc;
}
