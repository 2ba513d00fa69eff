/* trkserve — the kernel dialect: one kernel body, compiled as C (CPU device),
 * OpenCL C, CUDA and HIP. The rules are in runtime/DIALECT.md; read them before
 * writing a kernel.
 *
 * The including translation unit selects the target:
 *   __OPENCL_C_VERSION__  set by every OpenCL C compiler
 *   __CUDACC__ / __HIPCC__ set by nvcc / hipcc (HIP also needs TRK_DIALECT_HIP)
 *   otherwise             C for the CPU device: the kernel gets a hidden item
 *                         pointer; each block runs on ONE thread (block size 1).
 *
 * Vocabulary (every target):
 *   TRK_KERNEL(name, params...)      define a kernel listed in kernels.def (at the
 *                                    start of a line: see the OpenCL branch)
 *   TRK_DEVFN                        qualifier of a helper function
 *   TRK_GLOBAL                       address space of buffer pointers
 *   TRK_SHARED_PTR                   address space of pointers to block-shared arrays
 *   TRK_SHARED_ARRAY(T, name, n)     block-shared array, at kernel scope only
 *   TRK_GLOBAL_ID TRK_GLOBAL_SIZE TRK_BLOCK_ID TRK_NUM_BLOCKS TRK_THREAD_ID
 *   TRK_BLOCK_SIZE                   the item (all uint32_t)
 *   TRK_GRID_LOOP(i, n)              every i in [0,n) exactly once over the grid
 *   TRK_BLOCK_LOOP(i, n)             every i in [0,n) once over the block's threads
 *   TRK_BARRIER()                    block barrier (no-op on serial-block devices)
 *   TRK_ATOMIC_{ADD,MIN,MAX}_{U32,I32}(p, v), TRK_ATOMIC_CAS_U32(p, cmp, v),
 *   TRK_ATOMIC_ADD_F32(p, v), TRK_ATOMIC_ADD_U64(p, v)   global memory, return old
 *   TRK_SHARED_ATOMIC_{ADD,MIN,MAX}_U32(p, v)            block-shared memory
 *   TRK_LOAD_RELAXED_U32(p), TRK_STORE_RELAXED_U32(p, v)   global words other
 *                                    blocks write concurrently (no ordering implied)
 *   TRK_F32_BITS(x) TRK_BITS_F32(u)  reinterpret float <-> uint32_t
 * Math: write the C names (sqrtf, expf, tanhf, fabsf, fminf, fmaxf, logf, floorf,
 * atan2f, INFINITY); the OpenCL mapping supplies them. */
#ifndef TRK_DIALECT_H
#define TRK_DIALECT_H

/* ======================================================================= OpenCL */
#if defined(__OPENCL_C_VERSION__)
#define TRK_DIALECT_OPENCL 1
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
typedef uchar uint8_t;
typedef char int8_t;
typedef ushort uint16_t;
typedef short int16_t;
typedef uint uint32_t;
typedef int int32_t;
typedef ulong uint64_t;
typedef long int64_t;
#define UINT32_MAX 0xffffffffu
#define INT32_MAX 0x7fffffff
#define INT32_MIN (-INT32_MAX - 1)

/* No TRK_KERNEL here: OpenCL C 1.2 has no variadic macros (NVIDIA's compiler rejects
 * them), so devices/opencl/embed_kernels.cmake rewrites each "TRK_KERNEL(name," that
 * starts a line of a .kc file to "__kernel void name(". */
/* Inlined by the front end: PoCL 3.1 miscompiles helpers that contain barriers when
 * it inlines them itself (wrong rows in dense_layernorm_f32 at random, seen here). */
#define TRK_DEVFN static inline __attribute__((always_inline))
#define TRK_GLOBAL __global
#define TRK_SHARED_PTR __local
#define TRK_SHARED_ARRAY(T, name, n) __local T name[n]
#define TRK_GLOBAL_ID ((uint32_t)get_global_id(0))
#define TRK_GLOBAL_SIZE ((uint32_t)get_global_size(0))
#define TRK_BLOCK_ID ((uint32_t)get_group_id(0))
#define TRK_NUM_BLOCKS ((uint32_t)get_num_groups(0))
#define TRK_THREAD_ID ((uint32_t)get_local_id(0))
#define TRK_BLOCK_SIZE ((uint32_t)get_local_size(0))
#define TRK_BARRIER() barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)

#define TRK_ATOMIC_ADD_U32(p, v) atomic_add((p), (uint32_t)(v))
#define TRK_ATOMIC_ADD_I32(p, v) atomic_add((p), (int32_t)(v))
#define TRK_ATOMIC_MIN_U32(p, v) atomic_min((p), (uint32_t)(v))
#define TRK_ATOMIC_MAX_U32(p, v) atomic_max((p), (uint32_t)(v))
#define TRK_ATOMIC_MIN_I32(p, v) atomic_min((p), (int32_t)(v))
#define TRK_ATOMIC_MAX_I32(p, v) atomic_max((p), (int32_t)(v))
#define TRK_ATOMIC_CAS_U32(p, c, v) atomic_cmpxchg((p), (uint32_t)(c), (uint32_t)(v))
#define TRK_ATOMIC_ADD_U64(p, v) atom_add((p), (uint64_t)(v))
#define TRK_SHARED_ATOMIC_ADD_U32(p, v) atomic_add((p), (uint32_t)(v))
#define TRK_SHARED_ATOMIC_MIN_U32(p, v) atomic_min((p), (uint32_t)(v))
#define TRK_SHARED_ATOMIC_MAX_U32(p, v) atomic_max((p), (uint32_t)(v))
#define TRK_LOAD_RELAXED_U32(p) (*(volatile TRK_GLOBAL uint32_t *)(p))
#define TRK_STORE_RELAXED_U32(p, v) (*(volatile TRK_GLOBAL uint32_t *)(p) = (v))
#define TRK_F32_BITS(x) as_uint(x)
#define TRK_BITS_F32(u) as_float(u)
TRK_DEVFN float trk_atomic_add_f32_(volatile __global float *p, float v)
{
    volatile __global uint *u = (volatile __global uint *)p;
    uint old = *u, assumed;
    do {
        assumed = old;
        old = atomic_cmpxchg(u, assumed, as_uint(as_float(assumed) + v));
    } while (old != assumed);
    return as_float(old);
}
#define TRK_ATOMIC_ADD_F32(p, v) trk_atomic_add_f32_((p), (v))

#define sqrtf sqrt
#define expf exp
#define logf log
#define tanhf tanh
#define fabsf fabs
#define fminf fmin
#define fmaxf fmax
#define floorf floor
#define ceilf ceil
#define atan2f atan2
#define sinf sin
#define cosf cos
#define powf pow

/* ======================================================================= CUDA / HIP */
#elif defined(__CUDACC__) || defined(__HIPCC__)
#if defined(TRK_DIALECT_HIP)
#include <hip/hip_runtime.h>
#endif
#define TRK_DIALECT_CUDA 1
#include <stdint.h>
#include <math.h>
#define TRK_KERNEL(name, ...) extern "C" __global__ void name(__VA_ARGS__)
#define TRK_DEVFN static __device__ __forceinline__
#define TRK_GLOBAL
#define TRK_SHARED_PTR
#define TRK_SHARED_ARRAY(T, name, n) __shared__ T name[n]
#define TRK_GLOBAL_ID ((uint32_t)(blockIdx.x * blockDim.x + threadIdx.x))
#define TRK_GLOBAL_SIZE ((uint32_t)(gridDim.x * blockDim.x))
#define TRK_BLOCK_ID ((uint32_t)blockIdx.x)
#define TRK_NUM_BLOCKS ((uint32_t)gridDim.x)
#define TRK_THREAD_ID ((uint32_t)threadIdx.x)
#define TRK_BLOCK_SIZE ((uint32_t)blockDim.x)
#define TRK_BARRIER() __syncthreads()

#define TRK_ATOMIC_ADD_U32(p, v) atomicAdd((unsigned int *)(p), (unsigned int)(v))
#define TRK_ATOMIC_ADD_I32(p, v) atomicAdd((int *)(p), (int)(v))
#define TRK_ATOMIC_MIN_U32(p, v) atomicMin((unsigned int *)(p), (unsigned int)(v))
#define TRK_ATOMIC_MAX_U32(p, v) atomicMax((unsigned int *)(p), (unsigned int)(v))
#define TRK_ATOMIC_MIN_I32(p, v) atomicMin((int *)(p), (int)(v))
#define TRK_ATOMIC_MAX_I32(p, v) atomicMax((int *)(p), (int)(v))
#define TRK_ATOMIC_CAS_U32(p, c, v)                                                    \
    atomicCAS((unsigned int *)(p), (unsigned int)(c), (unsigned int)(v))
#define TRK_ATOMIC_ADD_U64(p, v)                                                       \
    atomicAdd((unsigned long long *)(p), (unsigned long long)(v))
#define TRK_ATOMIC_ADD_F32(p, v) atomicAdd((float *)(p), (float)(v))
#define TRK_SHARED_ATOMIC_ADD_U32(p, v) atomicAdd((unsigned int *)(p), (unsigned int)(v))
#define TRK_SHARED_ATOMIC_MIN_U32(p, v) atomicMin((unsigned int *)(p), (unsigned int)(v))
#define TRK_SHARED_ATOMIC_MAX_U32(p, v) atomicMax((unsigned int *)(p), (unsigned int)(v))
#define TRK_LOAD_RELAXED_U32(p) (*(volatile uint32_t *)(p))
#define TRK_STORE_RELAXED_U32(p, v) (*(volatile uint32_t *)(p) = (v))
#define TRK_F32_BITS(x) __float_as_uint(x)
#define TRK_BITS_F32(u) __uint_as_float(u)

/* ======================================================================= C (CPU) */
#else
#define TRK_DIALECT_C 1
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The item of one block on the CPU device: block size is always 1. */
struct trk_item {
    uint32_t block_id;
    uint32_t num_blocks;
};

#define TRK_KERNEL(name, ...)                                                          \
    static void trk_kernel_##name(const struct trk_item *trk_item_, __VA_ARGS__)
#define TRK_DEVFN static inline
#define TRK_GLOBAL
#define TRK_SHARED_PTR
#define TRK_SHARED_ARRAY(T, name, n) T name[n]
#define TRK_GLOBAL_ID (trk_item_->block_id)
#define TRK_GLOBAL_SIZE (trk_item_->num_blocks)
#define TRK_BLOCK_ID (trk_item_->block_id)
#define TRK_NUM_BLOCKS (trk_item_->num_blocks)
#define TRK_THREAD_ID ((uint32_t)0)
#define TRK_BLOCK_SIZE ((uint32_t)1)
#define TRK_BARRIER() ((void)0)

/* A grid-stride loop would make each CPU thread walk memory with a stride of the
 * grid; on the CPU the grid loop gives each block one contiguous chunk instead,
 * which is just another assignment of indices to threads. */
TRK_DEVFN uint32_t trk_cpu_chunk_begin_(const struct trk_item *it, uint32_t n)
{
    uint64_t per = ((uint64_t)n + it->num_blocks - 1) / it->num_blocks;
    uint64_t b = per * it->block_id;
    return (uint32_t)(b < n ? b : n);
}
TRK_DEVFN uint32_t trk_cpu_chunk_end_(const struct trk_item *it, uint32_t n)
{
    uint64_t per = ((uint64_t)n + it->num_blocks - 1) / it->num_blocks;
    uint64_t e = per * ((uint64_t)it->block_id + 1);
    return (uint32_t)(e < n ? e : n);
}
#define TRK_GRID_LOOP(i, n)                                                            \
    for (uint32_t i = trk_cpu_chunk_begin_(trk_item_, (n)),                            \
                  i##_end_ = trk_cpu_chunk_end_(trk_item_, (n));                       \
         i < i##_end_; ++i)

/* Blocks of one launch run concurrently on pool threads: global atomics are real. */
#define TRK_ATOMIC_ADD_U32(p, v) __atomic_fetch_add((p), (uint32_t)(v), __ATOMIC_RELAXED)
#define TRK_ATOMIC_ADD_I32(p, v) __atomic_fetch_add((p), (int32_t)(v), __ATOMIC_RELAXED)
#define TRK_ATOMIC_ADD_U64(p, v) __atomic_fetch_add((p), (uint64_t)(v), __ATOMIC_RELAXED)
TRK_DEVFN uint32_t trk_cpu_atomic_min_u32_(uint32_t *p, uint32_t v)
{
    uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old &&
           !__atomic_compare_exchange_n(p, &old, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
TRK_DEVFN uint32_t trk_cpu_atomic_max_u32_(uint32_t *p, uint32_t v)
{
    uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > old &&
           !__atomic_compare_exchange_n(p, &old, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
TRK_DEVFN int32_t trk_cpu_atomic_min_i32_(int32_t *p, int32_t v)
{
    int32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old &&
           !__atomic_compare_exchange_n(p, &old, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
TRK_DEVFN int32_t trk_cpu_atomic_max_i32_(int32_t *p, int32_t v)
{
    int32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > old &&
           !__atomic_compare_exchange_n(p, &old, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
TRK_DEVFN uint32_t trk_cpu_atomic_cas_u32_(uint32_t *p, uint32_t cmp, uint32_t v)
{
    __atomic_compare_exchange_n(p, &cmp, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return cmp; /* the old value, whether or not the swap happened */
}
TRK_DEVFN uint32_t trk_cpu_f32_bits_(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
TRK_DEVFN float trk_cpu_bits_f32_(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
TRK_DEVFN float trk_cpu_atomic_add_f32_(float *p, float v)
{
    uint32_t *u = (uint32_t *)(void *)p;
    uint32_t old = __atomic_load_n(u, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(u, &old, trk_cpu_f32_bits_(trk_cpu_bits_f32_(old) + v),
                                        1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return trk_cpu_bits_f32_(old);
}
/* Shared memory belongs to one block, which is one thread here: plain arithmetic. */
TRK_DEVFN uint32_t trk_cpu_plain_add_u32_(uint32_t *p, uint32_t v)
{
    uint32_t old = *p;
    *p = old + v;
    return old;
}
TRK_DEVFN uint32_t trk_cpu_plain_min_u32_(uint32_t *p, uint32_t v)
{
    uint32_t old = *p;
    *p = v < old ? v : old;
    return old;
}
TRK_DEVFN uint32_t trk_cpu_plain_max_u32_(uint32_t *p, uint32_t v)
{
    uint32_t old = *p;
    *p = v > old ? v : old;
    return old;
}
#define TRK_ATOMIC_MIN_U32(p, v) trk_cpu_atomic_min_u32_((p), (v))
#define TRK_ATOMIC_MAX_U32(p, v) trk_cpu_atomic_max_u32_((p), (v))
#define TRK_ATOMIC_MIN_I32(p, v) trk_cpu_atomic_min_i32_((p), (v))
#define TRK_ATOMIC_MAX_I32(p, v) trk_cpu_atomic_max_i32_((p), (v))
#define TRK_ATOMIC_CAS_U32(p, c, v) trk_cpu_atomic_cas_u32_((p), (c), (v))
#define TRK_ATOMIC_ADD_F32(p, v) trk_cpu_atomic_add_f32_((p), (v))
#define TRK_SHARED_ATOMIC_ADD_U32(p, v) trk_cpu_plain_add_u32_((p), (v))
#define TRK_SHARED_ATOMIC_MIN_U32(p, v) trk_cpu_plain_min_u32_((p), (v))
#define TRK_SHARED_ATOMIC_MAX_U32(p, v) trk_cpu_plain_max_u32_((p), (v))
#define TRK_LOAD_RELAXED_U32(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define TRK_STORE_RELAXED_U32(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define TRK_F32_BITS(x) trk_cpu_f32_bits_(x)
#define TRK_BITS_F32(u) trk_cpu_bits_f32_(u)
#endif

/* ======================================================================= all targets */
#if !defined(TRK_DIALECT_C)
#define TRK_GRID_LOOP(i, n) for (uint32_t i = TRK_GLOBAL_ID; i < (uint32_t)(n); i += TRK_GLOBAL_SIZE)
#endif
#define TRK_BLOCK_LOOP(i, n) for (uint32_t i = TRK_THREAD_ID; i < (uint32_t)(n); i += TRK_BLOCK_SIZE)

/* Portable float math shared by every kernel file (each .kc is its own OpenCL program,
 * so helpers that several files need live here). */
/* c ? a : b for c in {0, 1}, on the bits: GCC does not if-convert a float select
 * whose result feeds arithmetic (its default -ftrapping-math forbids it), which
 * would keep the activation loops below from vectorising. */
TRK_DEVFN float trk_select_f32(uint32_t c, float a, float b)
{
    uint32_t mask = 0u - c;
    return TRK_BITS_F32((TRK_F32_BITS(a) & mask) | (TRK_F32_BITS(b) & ~mask));
}

/* e^x within 3e-7 relative, in plain arithmetic so that the C build vectorises it
 * (libm's expf and tanhf are scalar calls: with them a 64-wide layer spent several
 * times longer in its activation than in its product) and every device rounds
 * alike. x = i ln2 + r with |r| <= ln2/2, a degree-6 Taylor polynomial, and 2^i
 * built in the exponent bits; the clamp keeps 2^i a normal float (e^88 ~ 1.7e38). */
TRK_DEVFN float trk_exp_f32(float x)
{
    x = trk_select_f32(x > 88.0f, 88.0f, x);
    x = trk_select_f32(x < -87.0f, -87.0f, x);
    float t = x * 1.44269504f;
    t = trk_select_f32(t == t, t, 0.0f); /* NaN would not convert; r carries it on */
    int32_t i = (int32_t)(t + trk_select_f32(t < 0.0f, -0.5f, 0.5f));
    float fi = (float)i;
    float r = x - fi * 0.693145752f - fi * 1.42860677e-6f; /* ln2 in two parts */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f +
              r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
    return p * TRK_BITS_F32((uint32_t)(i + 127) << 23);
}

/* tanh: an odd Taylor polynomial near 0, where 1 - 2/(e^2|x| + 1) would cancel. */
TRK_DEVFN float trk_tanh_f32(float x)
{
    float a = fabsf(x), x2 = x * x;
    float near0 = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f +
                  x2 * (62.0f / 2835.0f)))));
    float far = 1.0f - 2.0f / (trk_exp_f32(2.0f * a) + 1.0f);
    return trk_select_f32(a < 0.3f, near0, trk_select_f32(x < 0.0f, -far, far));
}


#endif /* TRK_DIALECT_H */
