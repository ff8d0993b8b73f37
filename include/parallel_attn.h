/*
 * parallel_attn.h: the public C API of parallel_attn, a context-parallel multi-head attention
 * operator (Hetu's parallel_attn) with a CPU reference and a CUDA backend that must agree.
 *
 * The contract is SPEC.md: fused qkv in, output + softmax_lse + rng_state (+ optional softmax)
 * out, grouped-query attention, packed variable-length sequences, causal (bottom-right) or full
 * masks, FlashAttention-2-compatible dropout, several parallel strategies whose rings compute
 * exact attention over their joint sequence, and the backward (dqkv).
 *
 * Conventions (NCCL-style): every call returns a pattnResult_t; on failure a message naming
 * the parameter, its value and what was expected is available from pattnGetLastError() on the
 * calling thread, and no output has been touched. Parameters travel in a versioned struct
 * that must be initialised with PATTN_PARAMS_INIT. Pure C; usable from C++ and ctypes.
 *
 * Arrays: outputs must not overlap the inputs or each other (a backward's out, softmax_lse and
 * dout are inputs); every overlap among the arrays of one call is rejected with
 * pattnInvalidArgument before anything is computed. Inputs may share memory. A NaN or an
 * infinity in qkv or dout propagates into the outputs that depend on it (SPEC section 1).
 */
#ifndef PARALLEL_ATTN_H
#define PARALLEL_ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions the shared library exports; everything else in it is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define PATTN_API __attribute__((visibility("default")))
#else
#define PATTN_API
#endif

/* The library version (CMake reads these three lines) and, NCCL-style, one comparable code:
 * PATTN_VERSION_CODE is what this header describes, pattnGetVersion() what the loaded
 * library is. */
#define PATTN_VERSION_MAJOR 0
#define PATTN_VERSION_MINOR 1
#define PATTN_VERSION_PATCH 0
#define PATTN_VERSION(X, Y, Z) ((X) * 10000 + (Y) * 100 + (Z))
#define PATTN_VERSION_CODE                                                                         \
    PATTN_VERSION(PATTN_VERSION_MAJOR, PATTN_VERSION_MINOR, PATTN_VERSION_PATCH)
/* The layout version of pattnParams_t (its `version` field). */
#define PATTN_API_VERSION 1
/* Largest ring (context-parallel group) the API describes. */
#define PATTN_MAX_RING 64

/* ---------------------------------------------------------------- status codes */
typedef enum {
    pattnSuccess = 0,
    pattnInvalidArgument = 1, /* a parameter or array is wrong; the message names it */
    pattnUnsupported = 2,     /* valid, but the selected backend has no path for it */
    pattnSystemError = 3,     /* out of host memory, I/O */
    pattnCudaError = 4,       /* a CUDA call failed */
    pattnNcclError = 5,       /* an NCCL call failed */
    pattnTimeout = 6,         /* a ring peer did not answer in time */
    pattnMismatch = 7,        /* ring members disagree (generator state, lengths) */
    pattnInternalError = 8,
    pattnNumResults = 9
} pattnResult_t;

/* The version of the loaded library, PATTN_VERSION_CODE style (0.1.0 is 100). */
PATTN_API pattnResult_t pattnGetVersion(int *version);

/* Static text for a status code. */
PATTN_API const char *pattnGetErrorString(pattnResult_t result);
/* The detailed message of the last failed call on this thread ("" if none). */
PATTN_API const char *pattnGetLastError(void);

/* ---------------------------------------------------------------- enums */
typedef enum { PATTN_FP32 = 0, PATTN_FP16 = 1, PATTN_BF16 = 2 } pattnDtype_t;

/* How the caller laid a ring's tokens out (SPEC section 3). */
typedef enum {
    PATTN_SPLIT_CONTIGUOUS = 0, /* member k holds [P_k, P_k + L_k) */
    PATTN_SPLIT_SYM = 1         /* head chunk left to right, tail chunk right to left (zigzag) */
} pattnSplit_t;

typedef enum {
    PATTN_BACKEND_AUTO = 0,      /* device pointers select cuda, host pointers the reference */
    PATTN_BACKEND_REFERENCE = 1, /* plain C11 on the CPU */
    PATTN_BACKEND_CUDA = 2       /* CUDA kernels (+ NCCL ring) */
} pattnBackend_t;

PATTN_API const char *pattnDtypeName(pattnDtype_t dtype);
PATTN_API const char *pattnBackendName(pattnBackend_t backend);
/* Whether this build has the backend compiled in (the reference always). */
PATTN_API int pattnBackendAvailable(pattnBackend_t backend);
/* What runs behind a backend in this process, for logs (a static string): for the reference,
 * the BLAS that is loaded and which sgemm it calls. NULL for AUTO or a backend not built. */
PATTN_API const char *pattnBackendInfo(pattnBackend_t backend);

/* ---------------------------------------------------------------- parameters */
/*
 * One rank's call. Arrays named here are host memory. Shapes (SPEC section 1):
 *   qkv      (rows, cols), cols = (Hq + 2*Hkv) * head_dim, dtype
 *   out      (rows, Hq * head_dim), dtype
 *   lse      fp32, (B, Hq, L) or packed (Hq, T)
 *   softmax  fp32, (B or P, Hq, Lq_max, Nk_max) when return_softmax
 * fp16 and bf16 arrays hold IEEE binary16 / bfloat16 bit patterns (uint16_t).
 */
typedef struct pattnParams {
    size_t size;      /* sizeof(pattnParams_t): set by PATTN_PARAMS_INIT */
    uint32_t version; /* PATTN_API_VERSION: set by PATTN_PARAMS_INIT */

    pattnDtype_t dtype;
    int64_t rows; /* qkv rows on this rank: B * L, or T when packing */
    int64_t cols; /* qkv columns: (Hq + 2*Hkv) * head_dim */
    int64_t head_dim;
    int64_t group_query_ratio; /* r: query head h reads KV head h / r */

    /* Strategies x pipelines, row-major [num_strategies][num_pipelines]. */
    int num_strategies;
    int num_pipelines;
    const int64_t *seq_lens;  /* local sequence length (packed: local token count) */
    const int64_t *cp_groups; /* context-parallel group id: equal ids form one ring */
    int strategy;             /* active strategy */
    int pipeline;             /* this rank's pipeline index */
    pattnSplit_t split;

    /* Packing: B = 1, rows = T, sequences described by cumulative lengths. Without context
     * parallelism cu_seqlens_q/k have num_seqs + 1 entries and may differ; with a ring of n
     * members they are equal, (n, num_seqs + 1) row-major, row k = member k's pieces. */
    int packing;
    int num_seqs;
    const int32_t *cu_seqlens_q;
    const int32_t *cu_seqlens_k;
    int64_t max_seqlen_q;
    int64_t max_seqlen_k;

    double p_dropout;     /* 0 <= p < 1 */
    double softmax_scale; /* < 0 means 1/sqrt(head_dim) */
    int is_causal;        /* bottom-right aligned */
    int return_softmax;
    int deterministic; /* backward: bit-identical dqkv run to run */

    /* The most work a call may ask for, in FLOPs by FlashAttention's count (4 * head_dim * Hq
     * per query-key pair, masks not counted; backward 2.5 times that; every member for an
     * emulated ring): a larger call fails with pattnInvalidArgument naming max_flops.
     * 0 means PATTN_DEFAULT_MAX_FLOPS; INFINITY means no limit. */
    double max_flops;
} pattnParams_t;

/* 1e16 FLOPs: about 14 hours of the reference on 2 cores, 25 s of an H100. */
#define PATTN_DEFAULT_MAX_FLOPS 1e16

#define PATTN_PARAMS_INIT                                                                            \
    {                                                                                                \
        sizeof(pattnParams_t), PATTN_API_VERSION, PATTN_FP32, 0, 0, 0, 1, 0, 0, NULL, NULL, 0, 0,   \
            PATTN_SPLIT_CONTIGUOUS, 0, 0, NULL, NULL, 0, 0, 0.0, -1.0, 1, 0, 1, 0.0                  \
    }

/* The dropout generator state: a call with p > 0 uses it and advances offset by B * Hq * 32. */
typedef struct pattnGenerator {
    uint64_t seed;
    uint64_t offset;
} pattnGenerator_t;

/* Shapes and ring facts derived from valid parameters. */
typedef struct pattnShapes {
    int64_t num_q_heads, num_kv_heads;
    int64_t batch;                  /* B (1 when packing) */
    int64_t local_len;              /* L of this rank (packed: T) */
    int64_t out_cols;               /* Hq * head_dim */
    int64_t lse_dims[3];            /* (B, Hq, L) or (1, Hq, T) */
    int64_t softmax_dims[4];        /* (B or P, Hq, Lq_max, Nk_max) */
    int ring_size, ring_index;      /* this pipeline's ring under the active strategy */
    int ring_pipelines[PATTN_MAX_RING]; /* pipeline index of each ring member, in ring order */
    float scale;                    /* effective softmax scale */
} pattnShapes_t;

/* Validates params and fills shapes; fails with a message naming the first bad parameter. */
PATTN_API pattnResult_t pattnQueryShapes(const pattnParams_t *params, pattnShapes_t *shapes);

/* ---------------------------------------------------------------- handle */
typedef struct pattnHandle *pattnHandle_t;

PATTN_API pattnResult_t pattnCreate(pattnHandle_t *handle, pattnBackend_t backend);
PATTN_API pattnResult_t pattnDestroy(pattnHandle_t handle);
/* CUDA backend: the stream to run on (a cudaStream_t; NULL = legacy default stream). A handle
 * keeps the work items of its recent problems and a workspace on the device (freed by
 * pattnDestroy), so repeated calls of the same shapes build and upload nothing; use a handle
 * from one thread at a time, and synchronize its old stream before switching streams. */
PATTN_API pattnResult_t pattnSetStream(pattnHandle_t handle, void *cuda_stream);

/* ---------------------------------------------------------------- communicators (the GPU ring) */
/*
 * A ring of more than one member runs on the CUDA backend with a communicator: a world whose
 * ranks are the pipelines (rank = pipeline index, size = num_pipelines), so that every strategy's
 * rings are sets of its ranks and switching strategy needs no new communicator. Every member of
 * the active ring calls pattnForward / pattnBackward with its own shard, concurrently (one thread
 * or process per member), on the device its communicator was made for; each call exchanges K/V
 * blocks with its ring neighbours and returns once its outputs are complete.
 *
 * Transports: "local" (all ranks in this process, on one GPU or several: blocks move with
 * cudaMemcpyAsync; made by pattnCommInitLocal) and "nccl" (ncclSend/ncclRecv between processes or
 * GPUs: pattnCommInitRank with a unique id the caller distributes, or the caller's own
 * ncclComm_t; NCCL is loaded at run time, libnccl.so.2 or PATTN_NCCL_LIBRARY).
 *
 * Faults: at the start of every call the members compare their parameters and generator state;
 * a disagreement fails every member with pattnMismatch naming the member. A peer that does not
 * answer within the handle's timeout (pattnSetTimeout, default 60 s) fails the call with
 * pattnTimeout (pattnNcclError when NCCL reports the failure); the communicator is then broken:
 * every later ring call on it fails at once, while the handle still runs single-rank calls and
 * takes a new communicator (pattnSetComm).
 */
typedef struct pattnComm *pattnComm_t;

#define PATTN_UNIQUE_ID_BYTES 128
typedef struct pattnUniqueId {
    char internal[PATTN_UNIQUE_ID_BYTES]; /* an ncclUniqueId */
} pattnUniqueId_t;

/* An in-process world of nranks ranks; comms[r] is rank r's, to be used on device devices[r]
 * (devices NULL: every rank on the current device). */
PATTN_API pattnResult_t pattnCommInitLocal(pattnComm_t *comms, int nranks, const int *devices);
/* NCCL: a unique id on one rank, to be sent to the others; then every rank calls
 * pattnCommInitRank with it, on its own device (collective, like ncclCommInitRank). */
PATTN_API pattnResult_t pattnGetUniqueId(pattnUniqueId_t *id);
PATTN_API pattnResult_t pattnCommInitRank(pattnComm_t *comm, int nranks, const pattnUniqueId_t *id,
                                          int rank);
/* NCCL: wraps the caller's ncclComm_t (passed as void *); the caller keeps owning it (on a
 * timeout the library aborts it). */
PATTN_API pattnResult_t pattnCommFromNccl(pattnComm_t *comm, void *nccl_comm);
PATTN_API pattnResult_t pattnCommDestroy(pattnComm_t comm);
/* "local" or "nccl". */
PATTN_API const char *pattnCommTransport(pattnComm_t comm);

/* The communicator a handle's ring calls use (NULL: none; single-rank calls ignore it). */
PATTN_API pattnResult_t pattnSetComm(pattnHandle_t handle, pattnComm_t comm);
/* How long a ring call waits for a peer, in seconds (default 60). */
PATTN_API pattnResult_t pattnSetTimeout(pattnHandle_t handle, double seconds);

/* ---------------------------------------------------------------- the operator */
/*
 * Forward on one rank. handle may be NULL (AUTO backend, default stream). gen may be NULL when
 * p_dropout == 0. rng_state is host memory, [seed, offset]. softmax may be NULL unless
 * return_softmax. A ring of more than one member needs a backend with a communicator; on one
 * process use pattnForwardEmulated.
 */
PATTN_API pattnResult_t pattnForward(pattnHandle_t handle, const pattnParams_t *params,
                                     pattnGenerator_t *gen, const void *qkv, void *out,
                                     float *softmax_lse, int64_t *rng_state, float *softmax);

/* Backward on one rank: dout (rows, Hq*D) and what the forward returned, to dqkv (qkv's layout). */
PATTN_API pattnResult_t pattnBackward(pattnHandle_t handle, const pattnParams_t *params,
                                      const void *qkv, const void *out, const float *softmax_lse,
                                      const int64_t *rng_state, const void *dout, void *dqkv);

/* ---------------------------------------------------------------- emulated ring (reference) */
/*
 * Runs every member of the ring that params->pipeline belongs to (under params->strategy) in
 * this process, exactly as the distributed backend schedules it. Arrays are indexed by ring
 * index 0..n-1 (pattnQueryShapes gives n and the members' pipelines); params->rows is the
 * calling pipeline's row count and the others follow from seq_lens. gens[k] is member k's
 * generator (all must be equal; each is advanced). rng_states is n x 2. softmax may be NULL.
 */
typedef struct pattnStepObserver {
    /* Called after member `member` computed its partial for ring step `step` against the
     * K/V block of member `kv_member`: out_partial (rows, Hq*D) fp32, normalised, and
     * lse_partial in the lse layout (-inf where a row saw no key in this step). */
    void (*on_step)(void *user, int member, int step, int kv_member, const float *out_partial,
                    const float *lse_partial);
    void *user;
} pattnStepObserver_t;

PATTN_API pattnResult_t pattnForwardEmulated(const pattnParams_t *params, pattnGenerator_t *gens,
                                             const void *const *qkv, void *const *out,
                                             float *const *softmax_lse, int64_t *rng_states,
                                             float *const *softmax,
                                             const pattnStepObserver_t *observer);

PATTN_API pattnResult_t pattnBackwardEmulated(const pattnParams_t *params,
                                              const void *const *qkv, const void *const *out,
                                              const float *const *softmax_lse,
                                              const int64_t *rng_states, const void *const *dout,
                                              void *const *dqkv);

#ifdef __cplusplus
}
#endif

#endif /* PARALLEL_ATTN_H */
