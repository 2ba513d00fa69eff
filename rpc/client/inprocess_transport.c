/* The in-process transport, "inprocess:<model repository>": the server core runs in this
 * process and requests go straight to trk_server_infer, with no network and no copies of
 * the inputs. It is the "direct" side of the direct-vs-service comparison (trk perf
 * --compare-in-process). Connections to the same repository share one trk_server, so the
 * models load once however many threads call. */
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "trk/log.h"

#ifdef TRK_CLIENT_HAVE_INPROCESS
#include "trk/server.h"

struct shared_server {
    char *repo;
    struct trk_server *server;
    unsigned refs;
    struct shared_server *next;
};

static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_server *servers;

static enum trk_status inproc_open(const char *url, const struct trk_client_options *opt,
                                   void **conn, char *err, size_t errlen)
{
    *conn = NULL;
    if (strncmp(url, "inprocess:", 10) || !url[10]) {
        trk_client_errf(err, errlen, "'%s' is not inprocess:<model repository folder>", url);
        return TRK_ERR_INVALID_ARG;
    }
    const char *dir = url + 10;
    char real[PATH_MAX];
    if (!realpath(dir, real)) {
        trk_client_errf(err, errlen, "model repository '%s' does not exist", dir);
        return TRK_ERR_NOT_FOUND;
    }
    enum trk_status st = TRK_OK;
    pthread_mutex_lock(&servers_lock);
    struct shared_server *ss = servers;
    while (ss && strcmp(ss->repo, real))
        ss = ss->next;
    if (!ss) {
        ss = calloc(1, sizeof *ss);
        if (!ss || !(ss->repo = strdup(real))) {
            free(ss);
            st = TRK_ERR_NO_MEMORY;
            trk_client_errf(err, errlen, "out of memory");
            goto out;
        }
        struct trk_server_options so;
        trk_server_options_default(&so);
        so.model_repository = ss->repo;
        st = trk_server_create(&so, &ss->server, err, errlen);
        if (st != TRK_OK) {
            free(ss->repo);
            free(ss);
            goto out;
        }
        ss->next = servers;
        servers = ss;
    }
    ss->refs++;
    *conn = ss;
out:
    pthread_mutex_unlock(&servers_lock);
    return st;
}

static void inproc_close(void *conn)
{
    struct shared_server *ss = conn;
    if (!ss)
        return;
    pthread_mutex_lock(&servers_lock);
    bool last = --ss->refs == 0;
    if (last) {
        struct shared_server **pp = &servers;
        while (*pp != ss)
            pp = &(*pp)->next;
        *pp = ss->next;
    }
    pthread_mutex_unlock(&servers_lock);
    if (last) {
        trk_server_free(ss->server);
        free(ss->repo);
        free(ss);
    }
}

static enum trk_status inproc_infer(void *conn, const struct trk_client_request *req,
                                    struct trk_client_result *r)
{
    struct shared_server *ss = conn;
    r->wire_code = 0;
    if (!req->model || strlen(req->model) >= TRK_MODEL_NAME_MAX ||
        (req->id && strlen(req->id) >= TRK_REQUEST_ID_MAX) || (req->ninputs && !req->inputs) ||
        (req->noutputs && !req->outputs)) {
        r->status = TRK_ERR_INVALID_ARG;
        trk_client_errf(r->error, sizeof r->error,
                        "request without a model, with a name or id too long, or NULL inputs");
        return TRK_OK;
    }
    struct trk_infer_request *q = trk_infer_request_alloc(req->ninputs, req->noutputs);
    if (!q) {
        r->status = TRK_ERR_NO_MEMORY;
        trk_client_errf(r->error, sizeof r->error, "out of memory");
        return TRK_OK;
    }
    snprintf(q->model_name, sizeof q->model_name, "%s", req->model);
    q->model_version = req->version;
    snprintf(q->id, sizeof q->id, "%s", req->id ? req->id : "");
    enum trk_status st = TRK_OK;
    for (uint32_t i = 0; i < req->ninputs; i++) {
        if (!req->inputs[i]) {
            st = TRK_ERR_INVALID_ARG;
            trk_client_errf(r->error, sizeof r->error, "input %u is NULL", i);
            goto out;
        }
        q->inputs[i] = *req->inputs[i]; /* borrowed bytes: the call blocks until done */
        q->inputs[i].owns_data = false;
    }
    q->ninputs = req->ninputs;
    for (uint32_t i = 0; i < req->noutputs; i++) {
        const char *n = req->outputs[i] ? req->outputs[i] : "";
        if (strlen(n) >= TRK_TENSOR_NAME_MAX) {
            st = TRK_ERR_INVALID_ARG;
            trk_client_errf(r->error, sizeof r->error, "output name '%.64s...' is too long", n);
            goto out;
        }
        snprintf(q->requested[i], TRK_TENSOR_NAME_MAX, "%s", n);
    }
    q->nrequested = req->noutputs;
    st = trk_server_infer(ss->server, q);
    r->wire_code = trk_status_http_code(st);
    if (st != TRK_OK) {
        snprintf(r->error, sizeof r->error, "%s", q->error[0] ? q->error : trk_status_str(st));
        goto out;
    }
    snprintf(r->model_version, sizeof r->model_version, "%lld", (long long)q->served_version);
    snprintf(r->id, sizeof r->id, "%s", q->id);
    if (q->noutputs) {
        r->outputs = calloc(q->noutputs, sizeof *r->outputs);
        if (!r->outputs) {
            st = TRK_ERR_NO_MEMORY;
            trk_client_errf(r->error, sizeof r->error, "out of memory");
            goto out;
        }
        /* Take the tensors; the request frees its (now empty) array. */
        for (uint32_t i = 0; i < q->noutputs; i++) {
            r->outputs[i] = q->outputs[i];
            q->outputs[i] = NULL;
        }
        r->noutputs = q->noutputs;
    }
out:
    r->status = st;
    /* Inputs were borrowed: make sure the request does not free them. */
    for (uint32_t i = 0; i < q->ninputs; i++) {
        q->inputs[i].data = NULL;
        q->inputs[i].owns_data = false;
    }
    trk_infer_request_free(q);
    return TRK_OK;
}

static enum trk_status inproc_live(void *conn, bool *ok)
{
    *ok = trk_server_live(((struct shared_server *)conn)->server);
    return TRK_OK;
}

static enum trk_status inproc_ready(void *conn, bool *ok)
{
    *ok = trk_server_ready(((struct shared_server *)conn)->server);
    return TRK_OK;
}

static json_t *io_json(const struct trk_model_io *io, int32_t max_batch)
{
    json_t *o = json_object(), *shape = json_array();
    json_object_set_new(o, "name", json_string(io->name));
    json_object_set_new(o, "datatype", json_string(trk_dtype_name(io->data_type)));
    if (max_batch > 0)
        json_array_append_new(shape, json_integer(-1));
    for (uint32_t d = 0; d < io->ndims; d++)
        json_array_append_new(shape, json_integer(io->dims[d]));
    json_object_set_new(o, "shape", shape);
    return o;
}

char *trk_client_metadata_json(const struct trk_model_config *cfg, const int64_t *versions,
                               uint32_t nversions)
{
    json_t *root = json_object(), *vs = json_array(), *ins = json_array(), *outs = json_array();
    char buf[32];
    json_object_set_new(root, "name", json_string(cfg->name));
    for (uint32_t i = 0; i < nversions; i++) {
        snprintf(buf, sizeof buf, "%lld", (long long)versions[i]);
        json_array_append_new(vs, json_string(buf));
    }
    json_object_set_new(root, "versions", vs);
    json_object_set_new(root, "platform", json_string(trk_model_config_platform(cfg)));
    for (uint32_t i = 0; i < cfg->ninputs; i++)
        json_array_append_new(ins, io_json(&cfg->inputs[i], cfg->max_batch_size));
    for (uint32_t i = 0; i < cfg->noutputs; i++)
        json_array_append_new(outs, io_json(&cfg->outputs[i], cfg->max_batch_size));
    json_object_set_new(root, "inputs", ins);
    json_object_set_new(root, "outputs", outs);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static enum trk_status inproc_model_metadata(void *conn, const char *model, int64_t version,
                                             char **json, char *err, size_t errlen)
{
    struct shared_server *ss = conn;
    struct trk_model *m = NULL;
    *json = NULL;
    enum trk_status st = trk_server_model_acquire(ss->server, model, version, &m, err, errlen);
    if (st != TRK_OK)
        return st;
    int64_t versions[64];
    uint32_t n = trk_server_model_versions(ss->server, model, versions, 64);
    if (n > 64)
        n = 64;
    if (!n) { /* raced with an unload: report the one we hold */
        versions[0] = trk_model_version_get(m);
        n = 1;
    }
    *json = trk_client_metadata_json(trk_model_config_get(m), versions, n);
    trk_model_release(m);
    if (!*json) {
        trk_client_errf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    return TRK_OK;
}

static const struct trk_client_transport inproc_transport = {
    .scheme = "inprocess",
    .open = inproc_open,
    .close = inproc_close,
    .infer = inproc_infer,
    .live = inproc_live,
    .ready = inproc_ready,
    .model_metadata = inproc_model_metadata,
};

const struct trk_client_transport *trk_client_transport_inprocess(void)
{
    return &inproc_transport;
}

#else /* built without the server core */

const struct trk_client_transport *trk_client_transport_inprocess(void)
{
    return NULL;
}

#endif
