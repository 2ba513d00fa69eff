/* libFuzzer target: the HTTP infer request decoder (JSON + binary tensor extension,
 * gzip/deflate) and, for what it accepts, the response encoder. No network.
 * Input: byte 0 = flags (bits 0-1 Content-Encoding: identity, gzip, deflate, unknown;
 * bit 2: an Inference-Header-Content-Length is sent; bit 3: the body given is plain and
 * is compressed here first, so that the decoder behind the inflater is reached),
 * bytes 1-4 = the header length (little endian, reduced modulo body length + 1), then
 * the body. With $TRK_FUZZ_SEED_DIR set, writes seed inputs there and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_codec.h"
#include "trk/log.h"
#include "trk/model_config.h"
#include "trk/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_LIMIT (1u << 20)

static struct trk_model_config *g_cfg; /* a one-input model for raw binary requests */

static void quiet(enum trk_log_level level, const char *line, void *user)
{
    (void)level, (void)line, (void)user;
}

static void write_seed(const char *dir, const char *name, uint8_t flags, uint32_t hl,
                       const void *body, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(1);
    uint8_t head[5] = {flags, (uint8_t)hl, (uint8_t)(hl >> 8), (uint8_t)(hl >> 16),
                       (uint8_t)(hl >> 24)};
    fwrite(head, 1, 5, f);
    fwrite(body, 1, len, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    trk_log_set_sink(quiet, NULL);
    char err[256];
    const char *text = "name = \"m\"; algorithm = \"identity\"; max_batch_size = 4;\n"
                       "input = ( { name = \"X\"; data_type = \"TYPE_INT32\"; dims = [ -1, 2 ]; } );\n"
                       "output = ( { name = \"Y\"; data_type = \"TYPE_INT32\"; dims = [ -1, 2 ]; } );\n";
    if (trk_model_config_parse(text, NULL, &g_cfg, err, sizeof err) != TRK_OK)
        abort();
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (!dir || !*dir)
        return 0;
    const char *json = "{\"id\":\"1\",\"parameters\":{\"binary_data_output\":false,\"timeout\":9},"
                       "\"inputs\":[{\"name\":\"A\",\"shape\":[2,2],\"datatype\":\"FP32\","
                       "\"data\":[[1,2.5],[3,-4]]},{\"name\":\"B\",\"shape\":[2],\"datatype\":"
                       "\"BYTES\",\"data\":[\"x\",\"\"]},{\"name\":\"C\",\"shape\":[3],"
                       "\"datatype\":\"BOOL\",\"data\":[true,false,true]}],\"outputs\":[{\"name\":"
                       "\"C\",\"parameters\":{\"binary_data\":true}},{\"name\":\"A\"}]}";
    write_seed(dir, "json", 0, 0, json, strlen(json));
    write_seed(dir, "json_gzip", 1 | 8, 0, json, strlen(json));
    write_seed(dir, "json_deflate", 2 | 8, 0, json, strlen(json));
    char buf[512];
    const char *h = "{\"inputs\":[{\"name\":\"A\",\"shape\":[2],\"datatype\":\"INT64\","
                    "\"parameters\":{\"binary_data_size\":16}},{\"name\":\"S\",\"shape\":[1],"
                    "\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":7}}],"
                    "\"parameters\":{\"binary_data_output\":true}}";
    size_t hl = strlen(h);
    memcpy(buf, h, hl);
    memset(buf + hl, 1, 16);
    memcpy(buf + hl + 16, "\x03\0\0\0abc", 7);
    write_seed(dir, "binary", 4, (uint32_t)hl, buf, hl + 23);
    int32_t raw[4] = {1, 2, 3, 4};
    write_seed(dir, "raw", 4, 0, raw, sizeof raw);
    exit(0);
}

/* Answers the request as identity would, then encodes the response. */
static void encode_identity(struct trk_http_infer *inf)
{
    struct trk_infer_request *req = inf->req;
    uint32_t n = req->ninputs;
    if (req->nrequested && req->nrequested < n)
        n = req->nrequested;
    req->outputs = calloc(n ? n : 1, sizeof *req->outputs);
    if (!req->outputs)
        return;
    snprintf(req->model_name, sizeof req->model_name, "m");
    req->served_version = 1;
    for (uint32_t i = 0; i < n; i++) {
        struct trk_tensor *t = malloc(sizeof *t);
        if (!t)
            return;
        *t = req->inputs[i];
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        t->owns_data = true;
        if (!t->data) {
            free(t);
            return;
        }
        if (t->nbytes)
            memcpy(t->data, req->inputs[i].data, t->nbytes);
        req->outputs[req->noutputs++] = t;
    }
    char *body = NULL, err[512];
    size_t len = 0, hl = 0;
    if (trk_http_encode_infer(inf, &body, &len, &hl, err, sizeof err) == TRK_OK) {
        if (hl > len)
            abort();
        free(body);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    uint8_t flags = data[0];
    uint32_t hv = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                  (uint32_t)data[4] << 24;
    const char *body = (const char *)data + 5;
    size_t len = size - 5;
    enum trk_http_coding coding = (enum trk_http_coding)(flags & 3);
    char err[512];
    char *zipped = NULL, *plain = NULL;
    if (coding == TRK_HTTP_CODING_GZIP || coding == TRK_HTTP_CODING_DEFLATE) {
        size_t zl = 0, pl = 0;
        if (flags & 8) {
            if (trk_http_deflate(coding, body, len, &zipped, &zl) != TRK_OK)
                return 0;
            body = zipped;
            len = zl;
        }
        enum trk_status st = trk_http_inflate(coding, body, len, BODY_LIMIT, &plain, &pl, err,
                                              sizeof err);
        if (st != TRK_OK) {
            if ((flags & 8) && st != TRK_ERR_OVERFLOW)
                abort(); /* our own compression must round-trip */
            free(zipped);
            return 0;
        }
        body = plain;
        len = pl;
    } else if (coding == TRK_HTTP_CODING_UNKNOWN) {
        if (trk_http_content_coding("br") != TRK_HTTP_CODING_UNKNOWN)
            abort();
    }
    /* Decode from an exact-size heap copy so that reads past the body are caught. */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        goto out;
    if (len)
        memcpy(copy, body, len);
    int64_t hl = -1;
    if (flags & 4)
        hl = (int64_t)(hv % ((uint64_t)len + 1));
    struct trk_http_infer inf;
    if (trk_http_decode_infer(copy, len, hl, g_cfg, &inf, err, sizeof err) == TRK_OK) {
        encode_identity(&inf);
        trk_http_infer_fini(&inf);
    } else if (inf.req || inf.binary || !err[0]) {
        abort(); /* a failure leaves nothing behind and always says why */
    }
    free(copy);
out:
    free(plain);
    free(zipped);
    return 0;
}
