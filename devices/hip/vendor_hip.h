/* The CUDA runtime names devices/cuda/cuda_device.c uses, mapped to HIP, so the same
 * host code builds the HIP module (as ggml-cuda/vendors/hip.h does). Included instead
 * of <cuda_runtime_api.h> when TRK_GPU_HIP is defined. Add a line here when the host
 * code starts using a new runtime call. */
#ifndef TRK_VENDOR_HIP_H
#define TRK_VENDOR_HIP_H

#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__ 1
#endif
#include <hip/hip_runtime_api.h>

/* types and flags */
#define cudaError_t hipError_t
#define cudaStream_t hipStream_t
#define cudaEvent_t hipEvent_t
#define cudaDeviceProp hipDeviceProp_t
#define cudaFuncAttributes hipFuncAttributes
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaEventDisableTiming hipEventDisableTiming
#define cudaHostAllocDefault hipHostMallocDefault
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice

/* error codes the host code tells apart */
#define cudaSuccess hipSuccess
#define cudaErrorMemoryAllocation hipErrorOutOfMemory
#define cudaErrorInvalidValue hipErrorInvalidValue
#define cudaErrorInvalidConfiguration hipErrorInvalidConfiguration
#define cudaErrorNotReady hipErrorNotReady
#define cudaErrorNoDevice hipErrorNoDevice
#define cudaErrorInsufficientDriver hipErrorInsufficientDriver
#define cudaErrorLaunchOutOfResources hipErrorLaunchOutOfResources
#define cudaErrorNoKernelImageForDevice hipErrorNoBinaryForGpu

/* calls */
#define cudaGetErrorName hipGetErrorName
#define cudaGetErrorString hipGetErrorString
#define cudaGetLastError hipGetLastError
#define cudaGetDeviceCount hipGetDeviceCount
#define cudaSetDevice hipSetDevice
#define cudaDriverGetVersion hipDriverGetVersion
#define cudaRuntimeGetVersion hipRuntimeGetVersion
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaFuncGetAttributes hipFuncGetAttributes
#define cudaMalloc hipMalloc
#define cudaFree hipFree
#define cudaHostAlloc hipHostMalloc
#define cudaFreeHost hipHostFree
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamDestroy hipStreamDestroy
#define cudaStreamSynchronize hipStreamSynchronize
#define cudaStreamWaitEvent hipStreamWaitEvent
#define cudaEventCreate hipEventCreate
#define cudaEventCreateWithFlags hipEventCreateWithFlags
#define cudaEventRecord hipEventRecord
#define cudaEventSynchronize hipEventSynchronize
#define cudaEventQuery hipEventQuery
#define cudaEventElapsedTime hipEventElapsedTime
#define cudaEventDestroy hipEventDestroy
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemsetAsync hipMemsetAsync
#define cudaLaunchKernel hipLaunchKernel

/* ROCm 5.2 declares hipLaunchHostFunc but does not export it: host functions go through
 * hipStreamAddCallback, whose callback also receives the stream and a status. */
#define TRK_GPU_HOST_FN(name, arg) void name(hipStream_t stream_, hipError_t status_, void *arg)
#define cudaLaunchHostFunc(stream, fn, arg) hipStreamAddCallback((stream), (fn), (arg), 0)

#endif
