/* The kernel entry points of cuda_kernels.cu, shared by the CUDA and HIP modules. */
#ifndef TRK_CUDA_KERNELS_H
#define TRK_CUDA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Indexed by enum trk_kernel_id: the host-side handle of each __global__ function,
 * as cudaLaunchKernel / hipLaunchKernel and cudaFuncGetAttributes take it. */
extern const void *const trk_gpu_kernels[];

#ifdef __cplusplus
}
#endif
#endif
