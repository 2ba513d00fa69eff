/* The CUDA device module, and with TRK_GPU_HIP (devices/hip/vendor_hip.h maps the
 * names) the HIP one: host code in C on the vendor runtime's C API; the kernels are
 * the dialect bodies compiled by nvcc / hipcc in cuda_kernels.cu.
 *
 *  - Queues are non-blocking streams; events are vendor events (timed);
 *    queue_wait_event is a stream wait, so the host never blocks for it.
 *  - Buffers come from a caching allocator per device (after Patatrack's): a freed
 *    block is kept in its power-of-two size class and handed out again, so an event
 *    loop that allocates and frees the same sizes never calls cudaMalloc/cudaFree
 *    (both synchronise the device). Reuse needs no event: device.h requires every
 *    queue using a buffer to be finished before it is freed. The cache is released
 *    when cudaMalloc runs out of memory (then retried) and at device close.
 *  - Host transfers go through a pinned staging ring per queue, so they are
 *    asynchronous (a copy to or from pageable memory is not: D2H blocks the host).
 *    Lifetime contract, within trk/device.h's:
 *      write: src is copied into the ring before write() returns; the caller may
 *             reuse src at once (device.h allows us to read it until completion);
 *      read:  the data lands in the ring, then a host function on the stream copies
 *             it to dst; dst must stay valid, and is defined, only once the queue is
 *             finished or an event recorded after the read has completed.
 *    Ring space is recycled in FIFO order through one event per staged chunk;
 *    transfers larger than a chunk are pipelined chunk by chunk.
 *  - sgemm is cuBLAS (CUDA only), dlopen'ed at init so that the module, linked with
 *    the static cudart, loads wherever the driver is, toolkit or not; without
 *    libcublas the runtime uses the dialect sgemm kernel. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device_impl.h"

#include "cuda_kernels.h"

#ifdef TRK_GPU_HIP
#include "vendor_hip.h"
#define GPU_NAME "hip"
#else
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#define GPU_NAME "cuda"
#define GPU_HAVE_BLAS 1
#endif

#define BIN_MIN 9  /* 512 B: the smallest cached block (= TRK_ARG_OFFSET_ALIGN) */
#define BIN_MAX 30 /* 1 GiB: larger blocks are allocated and freed exactly */
#define STAGE_BYTES ((size_t)8 << 20)      /* pinned ring per queue, made on first use */
#define STAGE_CHUNK (STAGE_BYTES / 4)      /* 4 chunks in flight overlap memcpy and DMA */
#define STAGE_RECS 64                      /* staged chunks in flight per queue */
#define STAGE_ROUND(n) (((n) + 255) & ~(size_t)255) /* keeps every chunk 256-B aligned */
#define PREFERRED_BLOCK 256u

/* ---- errors: the one place vendor codes become trk_status ------------------------ */

#define GPU_TRY(call) gpu_status((call), #call, __func__)

static enum trk_status gpu_status(cudaError_t e, const char *call, const char *func)
{
    if (e == cudaSuccess)
        return TRK_OK;
    const char *hint = "";
    enum trk_status st = TRK_ERR_DEVICE;
    switch (e) {
    case cudaErrorMemoryAllocation:
        hint = "; free buffers or lower the batch size";
        st = TRK_ERR_NO_MEMORY;
        break;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidConfiguration:
        st = TRK_ERR_INVALID_ARG;
        break;
    case cudaErrorLaunchOutOfResources:
        hint = "; launch with at most props.max_block_size threads";
        st = TRK_ERR_INVALID_ARG;
        break;
    case cudaErrorNoKernelImageForDevice:
        hint = "; this GPU is not among the architectures the module was built for";
        st = TRK_ERR_UNSUPPORTED;
        break;
    case cudaErrorNotReady:
        st = TRK_ERR_UNAVAILABLE;
        break;
    default:
        break;
    }
    trk_log(TRK_LOG_ERROR, func, "%s: %s (%s)%s", call, cudaGetErrorName(e),
            cudaGetErrorString(e), hint);
    return st;
}

/* ---- cuBLAS, loaded once per process and never unloaded ---------------------------- */

#ifdef GPU_HAVE_BLAS
static struct {
    cublasStatus_t (*create)(cublasHandle_t *h);
    cublasStatus_t (*destroy)(cublasHandle_t h);
    cublasStatus_t (*set_stream)(cublasHandle_t h, cudaStream_t s);
    cublasStatus_t (*sgemm)(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const float *alpha, const float *a, int lda,
                            const float *b, int ldb, const float *beta, float *c, int ldc);
    const char *(*status_name)(cublasStatus_t s); /* optional */
    char why[160];
} blas;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* The pointers above must match cublas_api.h's prototypes, checked by the compiler. */
#define BLAS_SAME(fn, field) __builtin_types_compatible_p(__typeof__(&fn), __typeof__(blas.field))
_Static_assert(BLAS_SAME(cublasCreate_v2, create) && BLAS_SAME(cublasDestroy_v2, destroy) &&
                   BLAS_SAME(cublasSetStream_v2, set_stream) && BLAS_SAME(cublasSgemm_v2, sgemm),
               "cuBLAS entry points changed: update the blas table");

static void blas_load(void)
{
    char name[32];
    snprintf(name, sizeof name, "libcublas.so.%d", CUBLAS_VER_MAJOR);
    /* Kept open for the process: vendor libraries are not safe to unload. */
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(blas.why, sizeof blas.why, "%s", e ? e : name);
        return;
    }
    *(void **)&blas.create = dlsym(h, "cublasCreate_v2");
    *(void **)&blas.destroy = dlsym(h, "cublasDestroy_v2");
    *(void **)&blas.set_stream = dlsym(h, "cublasSetStream_v2");
    *(void **)&blas.sgemm = dlsym(h, "cublasSgemm_v2");
    *(void **)&blas.status_name = dlsym(h, "cublasGetStatusName");
    if (!blas.create || !blas.destroy || !blas.set_stream || !blas.sgemm) {
        snprintf(blas.why, sizeof blas.why, "%s lacks the cublas*_v2 entry points", name);
        blas.sgemm = NULL;
    }
}
#endif

/* ---- objects ------------------------------------------------------------------------ */

struct gpu_block {
    void *ptr;
    size_t cap;
    int bin; /* size class, or -1: not cached */
    struct gpu_block *next;
};

struct gpu_dev {
    int index;
    struct trk_device_props props;
    uint32_t kernel_max[TRK_KERNEL_COUNT]; /* threads per block each kernel accepts */
    pthread_mutex_t mu;                    /* the cache and the cuBLAS handle */
    struct gpu_block *cache[BIN_MAX + 1];
    size_t cached_bytes, cache_limit;
    uint64_t hits, misses;
#ifdef GPU_HAVE_BLAS
    cublasHandle_t blas;
#endif
};

struct stage_rec {
    size_t begin; /* first ring byte this chunk holds until ev completes */
    cudaEvent_t ev;
    void *dst; /* read: where the host function copies the chunk */
    const void *src;
    size_t size;
};

struct gpu_queue {
    struct gpu_dev *dev;
    cudaStream_t stream;
    char *ring;
    size_t head;
    struct stage_rec recs[STAGE_RECS];
    unsigned first, count;
};

struct gpu_module {
    struct trk_device_ops ops; /* gpu_ops, plus sgemm when cuBLAS is there */
};

/* The current device is per host thread: set it before any call that depends on it. */
static enum trk_status use_device(const struct gpu_dev *d)
{
    return GPU_TRY(cudaSetDevice(d->index));
}

static char *dev_ptr(const struct trk_buffer *b, size_t off)
{
    return (char *)((const struct gpu_block *)b->handle)->ptr + off;
}

/* ---- caching allocator --------------------------------------------------------------- */

static void cache_release(struct gpu_dev *d) /* d->mu held, or at close */
{
    for (int b = 0; b <= BIN_MAX; b++) {
        while (d->cache[b]) {
            struct gpu_block *blk = d->cache[b];
            d->cache[b] = blk->next;
            (void)GPU_TRY(cudaFree(blk->ptr));
            free(blk);
        }
    }
    d->cached_bytes = 0;
}

static enum trk_status gpu_buffer_alloc(void *devp, size_t size, void **handle)
{
    struct gpu_dev *d = devp;
    int bin = BIN_MIN;
    while (bin <= BIN_MAX && ((size_t)1 << bin) < size)
        bin++;
    if (bin > BIN_MAX)
        bin = -1;
    pthread_mutex_lock(&d->mu);
    struct gpu_block *blk = bin >= 0 ? d->cache[bin] : NULL;
    if (blk) {
        d->cache[bin] = blk->next;
        d->cached_bytes -= blk->cap;
        d->hits++;
    } else {
        d->misses++;
    }
    pthread_mutex_unlock(&d->mu);
    if (blk) {
        *handle = blk;
        return TRK_OK;
    }
    if (!(blk = calloc(1, sizeof *blk)))
        return TRK_ERR_NO_MEMORY;
    blk->bin = bin;
    blk->cap = bin >= 0 ? (size_t)1 << bin : size;
    enum trk_status st = use_device(d);
    if (st == TRK_OK) {
        cudaError_t e = cudaMalloc(&blk->ptr, blk->cap);
        if (e == cudaErrorMemoryAllocation) {
            pthread_mutex_lock(&d->mu);
            size_t had = d->cached_bytes;
            cache_release(d);
            pthread_mutex_unlock(&d->mu);
            if (had) {
                (void)cudaGetLastError();
                TRK_LOGI("%s:%d: out of memory for %zu bytes; released %zu cached bytes, "
                         "retrying", GPU_NAME, d->index, blk->cap, had);
                e = cudaMalloc(&blk->ptr, blk->cap);
            }
        }
        st = gpu_status(e, "cudaMalloc", __func__);
    }
    if (st != TRK_OK) {
        free(blk);
        return st;
    }
    *handle = blk;
    return TRK_OK;
}

static void gpu_buffer_free(void *devp, void *handle)
{
    struct gpu_dev *d = devp;
    struct gpu_block *blk = handle;
    pthread_mutex_lock(&d->mu);
    bool keep = blk->bin >= 0 && d->cached_bytes + blk->cap <= d->cache_limit;
    if (keep) {
        blk->next = d->cache[blk->bin];
        d->cache[blk->bin] = blk;
        d->cached_bytes += blk->cap;
    }
    pthread_mutex_unlock(&d->mu);
    if (!keep) {
        if (use_device(d) == TRK_OK)
            (void)GPU_TRY(cudaFree(blk->ptr));
        free(blk);
    }
}

/* ---- pinned staging ring ------------------------------------------------------------- */

/* Frees the oldest staged chunks: those already complete, or (wait) the oldest one. */
static enum trk_status stage_retire(struct gpu_queue *q, bool wait)
{
    while (q->count) {
        struct stage_rec *r = &q->recs[q->first];
        cudaError_t e = wait ? cudaEventSynchronize(r->ev) : cudaEventQuery(r->ev);
        if (e == cudaErrorNotReady)
            break;
        if (e != cudaSuccess)
            return gpu_status(e, wait ? "cudaEventSynchronize" : "cudaEventQuery", __func__);
        q->first = (q->first + 1) % STAGE_RECS;
        q->count--;
        if (wait)
            break;
    }
    if (!q->count)
        q->head = 0;
    return TRK_OK;
}

/* Reserves n contiguous ring bytes (n <= STAGE_CHUNK) at *pos, waiting for the oldest
 * chunks to complete when the ring is full. */
static enum trk_status stage_reserve(struct gpu_queue *q, size_t n, size_t *pos)
{
    enum trk_status st;
    if (!q->ring) {
        void *ring = NULL;
        if ((st = GPU_TRY(cudaHostAlloc(&ring, STAGE_BYTES, cudaHostAllocDefault))) != TRK_OK)
            return st;
        q->ring = ring;
    }
    n = STAGE_ROUND(n);
    if ((st = stage_retire(q, false)) != TRK_OK)
        return st;
    for (;;) {
        if (q->count == 0) {
            *pos = 0;
            return TRK_OK;
        }
        if (q->count < STAGE_RECS) {
            size_t tail = q->recs[q->first].begin;
            if (q->head > tail && STAGE_BYTES - q->head >= n) {
                *pos = q->head;
                return TRK_OK;
            }
            if (q->head > tail && tail >= n) {
                *pos = 0; /* wrap; the end of the ring stays unused this lap */
                return TRK_OK;
            }
            if (q->head < tail && tail - q->head >= n) {
                *pos = q->head;
                return TRK_OK;
            }
        }
        if ((st = stage_retire(q, true)) != TRK_OK)
            return st;
    }
}

/* The record the next stage_push will fill (valid after stage_reserve). */
static struct stage_rec *stage_next(struct gpu_queue *q)
{
    return &q->recs[(q->first + q->count) % STAGE_RECS];
}

/* Marks [pos, pos+n) busy until everything enqueued so far on the stream completes. */
static enum trk_status stage_push(struct gpu_queue *q, size_t pos, size_t n)
{
    struct stage_rec *r = stage_next(q);
    enum trk_status st = TRK_OK;
    if (!r->ev)
        st = GPU_TRY(cudaEventCreateWithFlags(&r->ev, cudaEventDisableTiming));
    if (st == TRK_OK)
        st = GPU_TRY(cudaEventRecord(r->ev, q->stream));
    if (st != TRK_OK) {
        /* The chunk is enqueued but untracked: let it finish before its bytes are reused. */
        (void)cudaStreamSynchronize(q->stream);
        return st;
    }
    r->begin = pos;
    q->count++;
    q->head = pos + STAGE_ROUND(n);
    return TRK_OK;
}

#ifndef TRK_GPU_HOST_FN
#define TRK_GPU_HOST_FN(name, arg) void name(void *arg)
#endif

/* Runs on the vendor runtime's callback thread once the D2H copy into the ring is done. */
static TRK_GPU_HOST_FN(stage_copy_out, p)
{
    const struct stage_rec *r = p;
    memcpy(r->dst, r->src, r->size);
}

/* ---- queues ---------------------------------------------------------------------------- */

static enum trk_status gpu_queue_create(void *devp, void **out)
{
    struct gpu_dev *d = devp;
    struct gpu_queue *q = calloc(1, sizeof *q);
    if (!q)
        return TRK_ERR_NO_MEMORY;
    q->dev = d;
    enum trk_status st = use_device(d);
    if (st == TRK_OK)
        st = GPU_TRY(cudaStreamCreateWithFlags(&q->stream, cudaStreamNonBlocking));
    if (st != TRK_OK) {
        free(q);
        return st;
    }
    *out = q;
    return TRK_OK;
}

static enum trk_status gpu_queue_finish(void *qp)
{
    struct gpu_queue *q = qp;
    enum trk_status st = GPU_TRY(cudaStreamSynchronize(q->stream));
    if (st == TRK_OK)
        st = stage_retire(q, false);
    return st;
}

static void gpu_queue_destroy(void *devp, void *qp)
{
    struct gpu_queue *q = qp;
    (void)use_device(devp);
    (void)GPU_TRY(cudaStreamSynchronize(q->stream));
    for (unsigned i = 0; i < STAGE_RECS; i++)
        if (q->recs[i].ev)
            (void)GPU_TRY(cudaEventDestroy(q->recs[i].ev));
    if (q->ring)
        (void)GPU_TRY(cudaFreeHost(q->ring));
    (void)GPU_TRY(cudaStreamDestroy(q->stream));
    free(q);
}

static enum trk_status gpu_write(void *qp, struct trk_buffer *dst, size_t off, const void *src,
                                 size_t size)
{
    struct gpu_queue *q = qp;
    char *d = dev_ptr(dst, off);
    const char *s = src;
    enum trk_status st = use_device(q->dev);
    while (st == TRK_OK && size) {
        size_t n = size < STAGE_CHUNK ? size : STAGE_CHUNK, pos = 0;
        if ((st = stage_reserve(q, n, &pos)) != TRK_OK)
            break;
        memcpy(q->ring + pos, s, n);
        st = GPU_TRY(cudaMemcpyAsync(d, q->ring + pos, n, cudaMemcpyHostToDevice, q->stream));
        if (st == TRK_OK)
            st = stage_push(q, pos, n);
        d += n;
        s += n;
        size -= n;
    }
    return st;
}

static enum trk_status gpu_read(void *qp, void *dst, struct trk_buffer *src, size_t off,
                                size_t size)
{
    struct gpu_queue *q = qp;
    const char *s = dev_ptr(src, off);
    char *d = dst;
    enum trk_status st = use_device(q->dev);
    while (st == TRK_OK && size) {
        size_t n = size < STAGE_CHUNK ? size : STAGE_CHUNK, pos = 0;
        if ((st = stage_reserve(q, n, &pos)) != TRK_OK)
            break;
        st = GPU_TRY(cudaMemcpyAsync(q->ring + pos, s, n, cudaMemcpyDeviceToHost, q->stream));
        if (st != TRK_OK)
            break;
        struct stage_rec *r = stage_next(q);
        r->dst = d;
        r->src = q->ring + pos;
        r->size = n;
        st = GPU_TRY(cudaLaunchHostFunc(q->stream, stage_copy_out, r));
        enum trk_status pst = stage_push(q, pos, n); /* the copy into the ring is enqueued */
        if (st == TRK_OK)
            st = pst;
        d += n;
        s += n;
        size -= n;
    }
    return st;
}

static enum trk_status gpu_copy(void *qp, struct trk_buffer *dst, size_t doff,
                                struct trk_buffer *src, size_t soff, size_t size)
{
    struct gpu_queue *q = qp;
    enum trk_status st = use_device(q->dev);
    if (st == TRK_OK)
        st = GPU_TRY(cudaMemcpyAsync(dev_ptr(dst, doff), dev_ptr(src, soff), size,
                                     cudaMemcpyDeviceToDevice, q->stream));
    return st;
}

static enum trk_status gpu_memset(void *qp, struct trk_buffer *b, size_t off, uint8_t byte,
                                  size_t size)
{
    struct gpu_queue *q = qp;
    enum trk_status st = use_device(q->dev);
    if (st == TRK_OK)
        st = GPU_TRY(cudaMemsetAsync(dev_ptr(b, off), byte, size, q->stream));
    return st;
}

static enum trk_status gpu_launch(void *qp, uint32_t kernel, uint32_t grid, uint32_t block,
                                  uint32_t nargs, const struct trk_arg *args)
{
    struct gpu_queue *q = qp;
    if (block > q->dev->kernel_max[kernel] || grid > INT32_MAX) {
        TRK_LOGE("kernel %s: grid %u x block %u exceeds what %s:%d runs (block <= %u, the "
                 "kernel's register limit; grid < 2^31)",
                 trk_kernel_info(kernel)->name, grid, block, GPU_NAME, q->dev->index,
                 q->dev->kernel_max[kernel]);
        return TRK_ERR_INVALID_ARG;
    }
    union {
        void *ptr;
        uint32_t u32;
        int32_t i32;
        float f32;
        uint64_t u64;
    } v[TRK_KERNEL_MAX_ARGS];
    void *argv[TRK_KERNEL_MAX_ARGS];
    for (uint32_t i = 0; i < nargs; i++) {
        switch (args[i].kind) {
        case TRK_ARG_BUF: v[i].ptr = dev_ptr(args[i].v.b.buf, args[i].v.b.offset); break;
        case TRK_ARG_U32: v[i].u32 = args[i].v.u32; break;
        case TRK_ARG_I32: v[i].i32 = args[i].v.i32; break;
        case TRK_ARG_F32: v[i].f32 = args[i].v.f32; break;
        case TRK_ARG_U64: v[i].u64 = args[i].v.u64; break;
        }
        argv[i] = &v[i];
    }
    dim3 g = {grid, 1, 1}, b = {block, 1, 1};
    enum trk_status st = use_device(q->dev);
    if (st == TRK_OK)
        st = GPU_TRY(cudaLaunchKernel(trk_gpu_kernels[kernel], g, b, argv, 0, q->stream));
    return st;
}

/* ---- events: the handle is the vendor event itself ------------------------------------ */

static enum trk_status gpu_event_record(void *qp, void **out)
{
    struct gpu_queue *q = qp;
    cudaEvent_t ev = NULL;
    enum trk_status st = use_device(q->dev);
    if (st == TRK_OK)
        st = GPU_TRY(cudaEventCreate(&ev));
    if (st == TRK_OK && (st = GPU_TRY(cudaEventRecord(ev, q->stream))) != TRK_OK)
        (void)cudaEventDestroy(ev);
    if (st == TRK_OK)
        *out = ev;
    return st;
}

static enum trk_status gpu_event_wait(void *ev)
{
    return GPU_TRY(cudaEventSynchronize((cudaEvent_t)ev));
}

static enum trk_status gpu_event_query(void *ev, bool *done)
{
    cudaError_t e = cudaEventQuery((cudaEvent_t)ev);
    *done = e == cudaSuccess;
    return e == cudaErrorNotReady ? TRK_OK : gpu_status(e, "cudaEventQuery", __func__);
}

static enum trk_status gpu_queue_wait_event(void *qp, void *ev)
{
    struct gpu_queue *q = qp;
    return GPU_TRY(cudaStreamWaitEvent(q->stream, (cudaEvent_t)ev, 0));
}

static enum trk_status gpu_event_elapsed_ms(void *a, void *b, double *ms)
{
    float f = 0;
    cudaError_t e = cudaEventElapsedTime(&f, (cudaEvent_t)a, (cudaEvent_t)b);
    if (e == cudaErrorNotReady)
        return TRK_ERR_UNAVAILABLE; /* as the CPU device: not complete yet */
    *ms = f;
    return gpu_status(e, "cudaEventElapsedTime", __func__);
}

static void gpu_event_free(void *ev)
{
    /* A pending event is released by the runtime once it completes. */
    (void)GPU_TRY(cudaEventDestroy((cudaEvent_t)ev));
}

/* ---- sgemm through cuBLAS -------------------------------------------------------------- */

#ifdef GPU_HAVE_BLAS
static enum trk_status blas_status(cublasStatus_t s, const char *call)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return TRK_OK;
    TRK_LOGE("%s: %s (cuBLAS status %d)", call, blas.status_name ? blas.status_name(s) : "error",
             (int)s);
    return s == CUBLAS_STATUS_ALLOC_FAILED ? TRK_ERR_NO_MEMORY
           : s == CUBLAS_STATUS_INVALID_VALUE ? TRK_ERR_INVALID_ARG
                                              : TRK_ERR_DEVICE;
}

/* Row-major C[m x n] = A[m x k] . op(B) is column-major C^T = op(B)^T . A^T: cuBLAS
 * gets the operands swapped, with the row-major leading dimensions unchanged. */
static enum trk_status gpu_sgemm(void *qp, const struct trk_sgemm_desc *d)
{
    struct gpu_queue *q = qp;
    struct gpu_dev *dev = q->dev;
    if (d->m > INT_MAX || d->n > INT_MAX || d->k > INT_MAX)
        return TRK_ERR_INVALID_ARG;
    int m = (int)d->m, n = (int)d->n, k = (int)d->k;
    int ldb = d->trans_b ? k : n, lda = k;
    const float one = 1.0f, zero = 0.0f;
    enum trk_status st = use_device(dev);
    if (st != TRK_OK)
        return st;
    pthread_mutex_lock(&dev->mu); /* one handle per device; its stream is per call */
    if (!dev->blas)
        st = blas_status(blas.create(&dev->blas), "cublasCreate");
    if (st == TRK_OK)
        st = blas_status(blas.set_stream(dev->blas, q->stream), "cublasSetStream");
    if (st == TRK_OK)
        st = blas_status(blas.sgemm(dev->blas, d->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    CUBLAS_OP_N, n, m, k, &one,
                                    (const float *)dev_ptr(d->b, d->b_off * 4),
                                    ldb > 0 ? ldb : 1,
                                    (const float *)dev_ptr(d->a, d->a_off * 4),
                                    lda > 0 ? lda : 1, &zero,
                                    (float *)dev_ptr(d->c, d->c_off * 4), n),
                         "cublasSgemm");
    pthread_mutex_unlock(&dev->mu);
    return st;
}
#endif

/* ---- device ------------------------------------------------------------------------------ */

static void gpu_get_props(void *devp, struct trk_device_props *p)
{
    *p = ((struct gpu_dev *)devp)->props;
}

static void gpu_close(void *devp)
{
    struct gpu_dev *d = devp;
    (void)use_device(d);
    TRK_LOGD("%s:%d: buffer cache: %llu hits, %llu misses, %zu bytes released", GPU_NAME,
             d->index, (unsigned long long)d->hits, (unsigned long long)d->misses,
             d->cached_bytes);
    cache_release(d);
#ifdef GPU_HAVE_BLAS
    if (d->blas)
        (void)blas_status(blas.destroy(d->blas), "cublasDestroy");
#endif
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static const struct trk_device_ops gpu_ops = {
    .get_props = gpu_get_props,
    .close = gpu_close,
    .buffer_alloc = gpu_buffer_alloc,
    .buffer_free = gpu_buffer_free,
    .queue_create = gpu_queue_create,
    .queue_destroy = gpu_queue_destroy,
    .queue_finish = gpu_queue_finish,
    .write = gpu_write,
    .read = gpu_read,
    .copy = gpu_copy,
    .memset = gpu_memset,
    .launch = gpu_launch,
    .event_record = gpu_event_record,
    .event_wait = gpu_event_wait,
    .event_query = gpu_event_query,
    .queue_wait_event = gpu_queue_wait_event,
    .event_elapsed_ms = gpu_event_elapsed_ms,
    .event_free = gpu_event_free,
};

static enum trk_status fill_props(struct gpu_dev *d)
{
    struct cudaDeviceProp dp;
    int drv = 0, rt = 0;
    enum trk_status st = GPU_TRY(cudaGetDeviceProperties(&dp, d->index));
    if (st != TRK_OK)
        return st;
    (void)cudaDriverGetVersion(&drv);
    (void)cudaRuntimeGetVersion(&rt);
    /* A kernel's thread limit depends on its registers: the device's max block size
     * is the smallest, so host code that respects it never fails a launch. */
    uint32_t max_block = dp.maxThreadsPerBlock > 0 ? (uint32_t)dp.maxThreadsPerBlock : 1;
    for (uint32_t k = 0; k < TRK_KERNEL_COUNT; k++) {
        struct cudaFuncAttributes fa;
        if ((st = GPU_TRY(cudaFuncGetAttributes(&fa, trk_gpu_kernels[k]))) != TRK_OK) {
#ifdef TRK_GPU_HIP
            TRK_LOGE("%s (%s) has no code for kernel %s: add it to TRK_HIP_ARCHITECTURES",
                     dp.name, dp.gcnArchName, trk_kernel_info(k)->name);
#else
            TRK_LOGE("%s (sm_%d%d) has no code for kernel %s: add %d%d to "
                     "CMAKE_CUDA_ARCHITECTURES and rebuild",
                     dp.name, dp.major, dp.minor, trk_kernel_info(k)->name, dp.major, dp.minor);
#endif
            return st;
        }
        d->kernel_max[k] = fa.maxThreadsPerBlock > 0 ? (uint32_t)fa.maxThreadsPerBlock : 1;
        if (d->kernel_max[k] < max_block)
            max_block = d->kernel_max[k];
    }
    struct trk_device_props *p = &d->props;
    snprintf(p->name, sizeof p->name, "%.127s", dp.name);
#ifdef TRK_GPU_HIP
    snprintf(p->vendor, sizeof p->vendor, "AMD");
    snprintf(p->driver, sizeof p->driver, "HIP %d.%d, %.40s", rt / 10000000, rt / 100000 % 100,
             dp.gcnArchName);
#else
    snprintf(p->vendor, sizeof p->vendor, "NVIDIA");
    snprintf(p->driver, sizeof p->driver, "CUDA driver %d.%d, runtime %d.%d, sm_%d%d%s",
             drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10, dp.major,
             dp.minor, blas.sgemm ? ", cuBLAS" : "");
#endif
    p->kind = TRK_DEVICE_KIND_GPU;
    p->global_mem = dp.totalGlobalMem;
    p->max_alloc = dp.totalGlobalMem;
    p->compute_units = dp.multiProcessorCount > 0 ? (uint32_t)dp.multiProcessorCount : 1;
    p->max_block_size = max_block;
    p->preferred_block = max_block < PREFERRED_BLOCK ? max_block : PREFERRED_BLOCK;
    p->shared_mem = (uint32_t)dp.sharedMemPerBlock;
    p->serial_blocks = false;
    /* Keep at most a quarter of the memory in freed blocks. */
    d->cache_limit = dp.totalGlobalMem / 4;
    return TRK_OK;
}

static enum trk_status gpu_device_open(void *mctx, uint32_t index,
                                       const struct trk_device_ops **ops, void **out)
{
    struct gpu_module *m = mctx;
    struct gpu_dev *d = calloc(1, sizeof *d);
    if (!d)
        return TRK_ERR_NO_MEMORY;
    d->index = (int)index;
    enum trk_status st = use_device(d);
    if (st == TRK_OK)
        st = fill_props(d);
    if (st != TRK_OK) {
        free(d);
        return st;
    }
    pthread_mutex_init(&d->mu, NULL);
    *ops = &m->ops;
    *out = d;
    return TRK_OK;
}

/* ---- module ------------------------------------------------------------------------------ */

/* Why there is no device, in words the user can act on. */
static void describe_absence(cudaError_t e, char *why, size_t len)
{
    int drv = 0, rt = 0;
    (void)cudaDriverGetVersion(&drv);
    (void)cudaRuntimeGetVersion(&rt);
    const char *name = e == cudaSuccess ? "0 devices" : cudaGetErrorName(e);
#ifdef TRK_GPU_HIP
    snprintf(why, len, "no AMD GPU / HIP runtime: %s (HIP %d.%d)%s", name, rt / 10000000,
             rt / 100000 % 100,
             access("/dev/kfd", F_OK) ? "; no /dev/kfd: the amdgpu kernel driver is not loaded"
                                      : "");
#else
    if (e == cudaErrorInsufficientDriver && drv == 0)
        snprintf(why, len, "CUDA driver not found (%s): %s; install the NVIDIA driver", name,
                 cudaGetErrorString(e));
    else if (e == cudaErrorInsufficientDriver)
        snprintf(why, len, "CUDA driver %d.%d is older than runtime %d.%d (%s): update the "
                 "NVIDIA driver", drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10, name);
    else if (e == cudaSuccess || e == cudaErrorNoDevice)
        snprintf(why, len, "no CUDA GPU (%s; driver %d.%d)", name, drv / 1000, drv % 1000 / 10);
    else
        snprintf(why, len, "CUDA unavailable (%s): %s", name, cudaGetErrorString(e));
#endif
}

static enum trk_status gpu_init(void **ctx, uint32_t *n, char *why, size_t why_len)
{
    *ctx = NULL;
    *n = 0;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        (void)cudaGetLastError();
        describe_absence(e, why, why_len);
        return TRK_OK;
    }
    struct gpu_module *m = calloc(1, sizeof *m);
    if (!m)
        return TRK_ERR_NO_MEMORY;
    m->ops = gpu_ops;
#ifdef GPU_HAVE_BLAS
    pthread_once(&blas_once, blas_load);
    if (blas.sgemm)
        m->ops.sgemm = gpu_sgemm;
    else
        TRK_LOGW("cuBLAS not loaded (%s): sgemm uses the dialect kernel; install libcublas "
                 "%d for the vendor path", blas.why, CUBLAS_VER_MAJOR);
#endif
    *ctx = m;
    *n = (uint32_t)count;
    return TRK_OK;
}

static void gpu_fini(void *ctx)
{
    free(ctx);
}

static const struct trk_module_ops gpu_module_ops = {
    .abi_version = TRK_DEVICE_ABI_VERSION,
    .name = GPU_NAME,
    .init = gpu_init,
    .device_open = gpu_device_open,
    .fini = gpu_fini,
};

/* The only exported symbol: everything else, the static cudart included, is hidden. */
__attribute__((visibility("default"))) const struct trk_module_ops *trk_device_module_entry(void);
const struct trk_module_ops *trk_device_module_entry(void)
{
    return &gpu_module_ops;
}
