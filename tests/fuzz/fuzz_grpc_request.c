/* libFuzzer target: a gRPC ModelInferRequest body as the server receives it, through the
 * protobuf-c decoder and the conversion into a trk_infer_request (rpc/grpc/grpc_convert.c).
 * No network and no server: decoding and conversion must refuse bad input with a
 * message, never crash or leak. With $TRK_FUZZ_SEED_DIR set, writes a few valid
 * requests there as seeds and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !__has_include("grpc_service.pb-c.h") /* a build without trkproto/trkgrpc */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
#else
#include "grpc_convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void write_seed(const char *dir, const char *name, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return;
    protobuf_c_message_pack(m, buf);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
    }
    free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (!dir)
        return 0;
    Inference__ModelInferRequest q = INFERENCE__MODEL_INFER_REQUEST__INIT;
    Inference__ModelInferRequest__InferInputTensor in =
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    Inference__ModelInferRequest__InferInputTensor *ins[1] = {&in};
    Inference__ModelInferRequest__InferRequestedOutputTensor out =
        INFERENCE__MODEL_INFER_REQUEST__INFER_REQUESTED_OUTPUT_TENSOR__INIT;
    Inference__ModelInferRequest__InferRequestedOutputTensor *outs[1] = {&out};
    Inference__InferParameter timeout = INFERENCE__INFER_PARAMETER__INIT;
    Inference__ModelInferRequest__ParametersEntry pe =
        INFERENCE__MODEL_INFER_REQUEST__PARAMETERS_ENTRY__INIT;
    Inference__ModelInferRequest__ParametersEntry *pes[1] = {&pe};
    float f[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2};
    ProtobufCBinaryData raw[1] = {{sizeof(f), (uint8_t *)f}};
    q.model_name = "identity";
    q.model_version = "1";
    q.id = "seed";
    q.n_inputs = 1;
    q.inputs = ins;
    q.n_outputs = 1;
    q.outputs = outs;
    in.name = "INPUT0";
    in.datatype = "FP32";
    in.n_shape = 2;
    in.shape = shape;
    out.name = "OUTPUT0";
    timeout.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    timeout.int64_param = 1000;
    pe.key = "timeout";
    pe.value = &timeout;
    q.n_parameters = 1;
    q.parameters = pes;
    q.n_raw_input_contents = 1;
    q.raw_input_contents = raw;
    write_seed(dir, "raw_fp32", &q.base);

    Inference__InferTensorContents c = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    ProtobufCBinaryData b[4] = {{1, (uint8_t *)"a"}, {0, NULL}, {2, (uint8_t *)"bc"}, {1, (uint8_t *)"d"}};
    q.n_raw_input_contents = 0;
    in.contents = &c;
    c.n_fp32_contents = 4;
    c.fp32_contents = f;
    write_seed(dir, "typed_fp32", &q.base);
    in.datatype = "BYTES";
    c.n_fp32_contents = 0;
    c.n_bytes_contents = 4;
    c.bytes_contents = b;
    write_seed(dir, "typed_bytes", &q.base);
    exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Inference__ModelInferRequest *msg = inference__model_infer_request__unpack(NULL, size, data);
    if (!msg)
        return 0;
    struct trk_infer_request *req = NULL;
    char err[TRK_SERVER_ERR_MAX];
    if (trk_grpc_request_from_proto(msg, &req, err, sizeof(err)) == TRK_OK) {
        /* touch every byte the request claims, as the server would */
        volatile uint8_t sink = 0;
        for (uint32_t i = 0; i < req->ninputs; i++) {
            const uint8_t *p = req->inputs[i].data;
            for (size_t k = 0; k < req->inputs[i].nbytes; k++)
                sink ^= p[k];
        }
        (void)sink;
        trk_infer_request_free(req);
    } else if (req || !err[0]) {
        abort(); /* a refusal must say why and hand nothing back */
    }
    inference__model_infer_request__free_unpacked(msg, NULL);
    return 0;
}
#endif
