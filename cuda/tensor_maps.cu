/*
 * tensor_maps.cu: tensor maps through the driver's cuTensorMapEncodeTiled (found once through
 * the runtime, so the library needs no -lcuda) and the SM count (tensor_maps.h).
 */
#include "tensor_maps.h"

#include <cudaTypedefs.h>

#include "smem_limit.cuh"

namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_fn()
{
    static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void *p = nullptr;
        cudaDriverEntryPointQueryResult q;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                             &q) != cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            p = nullptr;
        cudaGetLastError();
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
    }();
    return fn;
}

} // namespace

extern "C" cudaError_t pattn_cuda_tile_map(CUtensorMap *map, const void *base, int elem_bytes,
                                           uint64_t cols, uint64_t rows, int64_t row_bytes,
                                           int box_rows)
{
    const PFN_cuTensorMapEncodeTiled_v12000 encode = encode_fn();
    if (!encode || rows == 0 || row_bytes <= 0 || (elem_bytes != 2 && elem_bytes != 4))
        return cudaErrorInvalidValue;
    const cuuint64_t dims[2] = {cols, rows};
    const cuuint64_t strides[1] = {(cuuint64_t)row_bytes};
    const cuuint32_t box[2] = {(cuuint32_t)(128 / elem_bytes), (cuuint32_t)box_rows};
    const cuuint32_t elem_strides[2] = {1, 1};
    const CUtensorMapDataType type =
        elem_bytes == 2 ? CU_TENSOR_MAP_DATA_TYPE_UINT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
    const CUresult r =
        encode(map, type, 2, const_cast<void *>(base), dims, strides, box,
               elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
               CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}

extern "C" cudaError_t pattn_cuda_sm_count(int *sms)
{
    static int known[pattn::MAX_DEVICES];
    int device;
    cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess)
        return e;
    if (device >= 0 && device < pattn::MAX_DEVICES && known[device]) {
        *sms = known[device];
        return cudaSuccess;
    }
    e = cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device);
    if (e == cudaSuccess && device >= 0 && device < pattn::MAX_DEVICES)
        known[device] = *sms; /* idempotent: racing threads write the same value */
    return e;
}
