/* trkserve config — struct trk_model_config → Triton's model configuration JSON, the
 * form core's ModelConfigToJson() produces: protobuf JSON with preserve_proto_field_names
 * and always_print_primitive_fields (so empty repeated fields and maps print as [] and
 * {}), enums by name, int64/uint64 fields turned back into numbers, and sub-messages
 * that are not set left out. Fields are written in model_config.proto's order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static void put_key(struct trk_cfg_buf *b, const char *key)
{
    trk_cfg_buf_json_string(b, key);
    trk_cfg_buf_putn(b, ":", 1);
}

static void put_str_field(struct trk_cfg_buf *b, const char *key, const char *value)
{
    put_key(b, key);
    trk_cfg_buf_json_string(b, value ? value : "");
}

static void put_bool_field(struct trk_cfg_buf *b, const char *key, bool v)
{
    put_key(b, key);
    trk_cfg_buf_puts(b, v ? "true" : "false");
}

static void put_i64_array(struct trk_cfg_buf *b, const int64_t *v, uint32_t n)
{
    trk_cfg_buf_putn(b, "[", 1);
    for (uint32_t i = 0; i < n; i++)
        trk_cfg_buf_printf(b, "%s%lld", i ? "," : "", (long long)v[i]);
    trk_cfg_buf_putn(b, "]", 1);
}

/* ModelInput / ModelOutput */
static void put_io(struct trk_cfg_buf *b, const struct trk_model_io *io, bool is_input)
{
    trk_cfg_buf_putn(b, "{", 1);
    put_str_field(b, "name", io->name);
    trk_cfg_buf_putn(b, ",", 1);
    put_str_field(b, "data_type", trk_dtype_config_name(io->data_type));
    if (is_input)
        trk_cfg_buf_puts(b, ",\"format\":\"FORMAT_NONE\"");
    trk_cfg_buf_puts(b, ",\"dims\":");
    put_i64_array(b, io->dims, io->ndims);
    if (io->has_reshape) {
        trk_cfg_buf_puts(b, ",\"reshape\":{\"shape\":");
        put_i64_array(b, io->reshape, io->reshape_ndims);
        trk_cfg_buf_putn(b, "}", 1);
    }
    if (is_input) {
        trk_cfg_buf_puts(b, ",\"is_shape_tensor\":false,");
        put_bool_field(b, "allow_ragged_batch", io->allow_ragged_batch);
        trk_cfg_buf_putn(b, ",", 1);
        put_bool_field(b, "optional", io->optional);
        trk_cfg_buf_puts(b, ",\"is_non_linear_format_io\":false}");
    } else {
        trk_cfg_buf_puts(b, ",\"label_filename\":\"\",\"is_shape_tensor\":false,"
                            "\"is_non_linear_format_io\":false}");
    }
}

static void put_version_policy(struct trk_cfg_buf *b, const struct trk_version_policy *vp)
{
    trk_cfg_buf_puts(b, "\"version_policy\":{");
    switch (vp->kind) {
    case TRK_VERSION_POLICY_ALL:
        trk_cfg_buf_puts(b, "\"all\":{}");
        break;
    case TRK_VERSION_POLICY_SPECIFIC:
        trk_cfg_buf_puts(b, "\"specific\":{\"versions\":");
        put_i64_array(b, vp->versions, vp->nversions);
        trk_cfg_buf_putn(b, "}", 1);
        break;
    default:
        trk_cfg_buf_printf(b, "\"latest\":{\"num_versions\":%u}", vp->num_versions);
        break;
    }
    trk_cfg_buf_putn(b, "}", 1);
}

static void put_dynamic_batching(struct trk_cfg_buf *b, const struct trk_dynamic_batching *db)
{
    trk_cfg_buf_puts(b, "\"dynamic_batching\":{\"preferred_batch_size\":[");
    for (uint32_t i = 0; i < db->npreferred; i++)
        trk_cfg_buf_printf(b, "%s%d", i ? "," : "", (int)db->preferred_batch_size[i]);
    trk_cfg_buf_printf(b,
                       "],\"max_queue_delay_microseconds\":%llu,\"preserve_ordering\":%s,"
                       "\"priority_levels\":0,\"default_priority_level\":0",
                       (unsigned long long)db->max_queue_delay_microseconds,
                       db->preserve_ordering ? "true" : "false");
    if (db->has_default_queue_policy) {
        const struct trk_queue_policy *qp = &db->default_queue_policy;
        trk_cfg_buf_printf(b,
                           ",\"default_queue_policy\":{\"timeout_action\":\"%s\","
                           "\"default_timeout_microseconds\":%llu,"
                           "\"allow_timeout_override\":%s,\"max_queue_size\":%u}",
                           qp->timeout_action == TRK_TIMEOUT_ACTION_DELAY ? "DELAY" : "REJECT",
                           (unsigned long long)qp->default_timeout_microseconds,
                           qp->allow_timeout_override ? "true" : "false", qp->max_queue_size);
    }
    trk_cfg_buf_puts(b, ",\"priority_queue_policy\":{}}");
}

static void put_instance_group(struct trk_cfg_buf *b, const struct trk_instance_group *g)
{
    trk_cfg_buf_putn(b, "{", 1);
    put_str_field(b, "name", g->name);
    trk_cfg_buf_printf(b, ",\"kind\":\"%s\",\"count\":%u,\"gpus\":[",
                       trk_instance_kind_name(g->kind), g->count);
    for (uint32_t i = 0; i < g->ngpus; i++)
        trk_cfg_buf_printf(b, "%s%d", i ? "," : "", (int)g->gpus[i]);
    trk_cfg_buf_puts(b, "],\"secondary_devices\":[],\"profile\":[],\"passive\":false,"
                        "\"host_policy\":\"\"}");
}

enum trk_status trk_model_config_to_json(const struct trk_model_config *c, char **json)
{
    if (!json)
        return TRK_ERR_INVALID_ARG;
    *json = NULL;
    if (!c || !c->name)
        return TRK_ERR_INVALID_ARG;
    struct trk_cfg_buf b = {0};
    trk_cfg_buf_putn(&b, "{", 1);
    put_str_field(&b, "name", c->name);
    trk_cfg_buf_putn(&b, ",", 1);
    put_str_field(&b, "platform", c->platform);
    trk_cfg_buf_putn(&b, ",", 1);
    put_str_field(&b, "backend", c->backend);
    trk_cfg_buf_puts(&b, ",\"runtime\":\"\",");
    put_version_policy(&b, &c->version_policy);
    trk_cfg_buf_printf(&b, ",\"max_batch_size\":%d,\"input\":[", (int)c->max_batch_size);
    for (uint32_t i = 0; i < c->ninputs; i++) {
        if (i)
            trk_cfg_buf_putn(&b, ",", 1);
        put_io(&b, &c->inputs[i], true);
    }
    trk_cfg_buf_puts(&b, "],\"output\":[");
    for (uint32_t i = 0; i < c->noutputs; i++) {
        if (i)
            trk_cfg_buf_putn(&b, ",", 1);
        put_io(&b, &c->outputs[i], false);
    }
    trk_cfg_buf_puts(&b, "],\"batch_input\":[],\"batch_output\":[]");
    if (c->dynamic_batching.present) {
        trk_cfg_buf_putn(&b, ",", 1);
        put_dynamic_batching(&b, &c->dynamic_batching);
    }
    trk_cfg_buf_puts(&b, ",\"instance_group\":[");
    for (uint32_t i = 0; i < c->ninstance_groups; i++) {
        if (i)
            trk_cfg_buf_putn(&b, ",", 1);
        put_instance_group(&b, &c->instance_groups[i]);
    }
    trk_cfg_buf_puts(&b, "],\"default_model_filename\":\"\",\"cc_model_filenames\":{},"
                         "\"metric_tags\":{},\"parameters\":{");
    for (uint32_t i = 0; i < c->nparameters; i++) {
        if (i)
            trk_cfg_buf_putn(&b, ",", 1);
        put_key(&b, c->parameters[i].key);
        trk_cfg_buf_puts(&b, "{\"string_value\":");
        trk_cfg_buf_json_string(&b, c->parameters[i].value);
        trk_cfg_buf_putn(&b, "}", 1);
    }
    trk_cfg_buf_puts(&b, "},\"model_warmup\":[]}");
    *json = trk_cfg_buf_finish(&b);
    return *json ? TRK_OK : TRK_ERR_NO_MEMORY;
}
