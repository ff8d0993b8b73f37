/*
 * api.c: the public entry points. Validate (problem.c), check pointers and generator states,
 * pick a backend from the registry (backend.h), run it, then write rng_state and advance the
 * generator. Outputs are untouched when anything fails before the backend runs.
 */
#include <stdlib.h>

#include "backend.h"
#include "status.h"

#define BAD(...) pattn_error(pattnInvalidArgument, __VA_ARGS__)

struct pattnHandle {
    pattnBackend_t backend;
    void *stream;
    void *state;      /* the CUDA backend's caches (plans, workspace), created on first use */
    pattnComm_t comm; /* ring calls' communicator (pattnSetComm), or NULL */
    double timeout;   /* seconds a ring call waits for a peer */
};

#define PATTN_DEFAULT_TIMEOUT 60.0

int pattnBackendAvailable(pattnBackend_t backend)
{
    if (backend == PATTN_BACKEND_REFERENCE || backend == PATTN_BACKEND_AUTO)
        return 1;
#ifdef PATTN_HAVE_CUDA
    if (backend == PATTN_BACKEND_CUDA)
        return 1;
#endif
    return 0;
}

pattnResult_t pattnCreate(pattnHandle_t *handle, pattnBackend_t backend)
{
    if (!handle)
        return BAD("handle = NULL: expected a pointer to receive the handle");
    if (backend != PATTN_BACKEND_AUTO && backend != PATTN_BACKEND_REFERENCE &&
        backend != PATTN_BACKEND_CUDA)
        return BAD("backend = %d: expected PATTN_BACKEND_AUTO, _REFERENCE or _CUDA", (int)backend);
    if (!pattnBackendAvailable(backend))
        return pattn_error(pattnUnsupported,
                           "backend = %s: this build has no %s backend (configure with nvcc on "
                           "PATH to build it)",
                           pattnBackendName(backend), pattnBackendName(backend));
    struct pattnHandle *h = calloc(1, sizeof *h);
    if (!h)
        return pattn_error(pattnSystemError, "pattnCreate: out of host memory");
    h->backend = backend;
    h->timeout = PATTN_DEFAULT_TIMEOUT;
    *handle = h;
    pattn_clear_error();
    return pattnSuccess;
}

pattnResult_t pattnDestroy(pattnHandle_t handle)
{
#ifdef PATTN_HAVE_CUDA
    if (handle && handle->state)
        pattn_cuda_backend.state_free(handle->state);
#endif
    free(handle);
    return pattnSuccess;
}

pattnResult_t pattnSetStream(pattnHandle_t handle, void *cuda_stream)
{
    if (!handle)
        return BAD("handle = NULL: expected a handle from pattnCreate");
    handle->stream = cuda_stream;
    return pattnSuccess;
}

pattnResult_t pattnSetComm(pattnHandle_t handle, pattnComm_t comm)
{
    if (!handle)
        return BAD("handle = NULL: expected a handle from pattnCreate");
    handle->comm = comm;
    return pattnSuccess;
}

pattnResult_t pattnSetTimeout(pattnHandle_t handle, double seconds)
{
    if (!handle)
        return BAD("handle = NULL: expected a handle from pattnCreate");
    if (!(seconds > 0 && seconds <= 86400))
        return BAD("seconds = %g: expected a timeout in (0, 86400]", seconds);
    handle->timeout = seconds;
    return pattnSuccess;
}

pattnResult_t pattnQueryShapes(const pattnParams_t *params, pattnShapes_t *s)
{
    pattn_problem_t p;
    pattnResult_t r = pattn_problem_build(params, &p);
    if (r != pattnSuccess)
        return r;
    if (!s)
        return BAD("shapes = NULL: expected a pattnShapes_t to fill");
    s->num_q_heads = p.Hq;
    s->num_kv_heads = p.Hkv;
    s->batch = p.B;
    s->local_len = p.L[p.me];
    s->out_cols = p.out_cols;
    s->lse_dims[0] = p.packing ? 1 : p.B;
    s->lse_dims[1] = p.Hq;
    s->lse_dims[2] = p.L[p.me];
    s->softmax_dims[0] = pattn_num_units(&p);
    s->softmax_dims[1] = p.Hq;
    s->softmax_dims[2] = p.sm_lq;
    s->softmax_dims[3] = p.sm_nk;
    s->ring_size = p.n;
    s->ring_index = p.me;
    for (int k = 0; k < p.n; ++k)
        s->ring_pipelines[k] = p.pipelines[k];
    s->scale = p.scale;
    pattn_clear_error();
    return pattnSuccess;
}

/* The backend of a call: the ring backend when the handle has a communicator, else the handle's
 * choice, or for AUTO the one that owns qkv. */
static pattnResult_t pick_backend(pattnHandle_t handle, const void *qkv, const pattn_backend_t **be)
{
    pattnBackend_t want = handle ? handle->backend : PATTN_BACKEND_AUTO;
#ifdef PATTN_HAVE_CUDA
    if (handle && handle->comm) {
        if (want == PATTN_BACKEND_REFERENCE || !pattn_ring_backend.owns_pointer(qkv))
            return BAD("qkv: a handle with a communicator runs the GPU ring, which takes device "
                       "arrays (and a CUDA or AUTO handle)");
        *be = &pattn_ring_backend;
        return pattnSuccess;
    }
    if (want == PATTN_BACKEND_CUDA ||
        (want == PATTN_BACKEND_AUTO && pattn_cuda_backend.owns_pointer(qkv))) {
        *be = &pattn_cuda_backend;
        return pattnSuccess;
    }
#else
    (void)qkv;
    if (want == PATTN_BACKEND_CUDA)
        return pattn_error(pattnUnsupported, "backend = cuda: this build has no CUDA backend");
#endif
    *be = &pattn_reference_backend;
    return pattnSuccess;
}

static pattnResult_t check_generator(const pattn_problem_t *p, const pattnGenerator_t *gen,
                                     const char *name)
{
    if (p->p_dropout > 0 && !gen)
        return BAD("%s = NULL: expected the generator state {seed, offset} since p_dropout = %g",
                   name, p->p_dropout);
    return pattnSuccess;
}

static void finish_generator(const pattn_problem_t *p, pattnGenerator_t *gen, int64_t *rng_state)
{
    rng_state[0] = gen ? (int64_t)gen->seed : 0;
    rng_state[1] = gen ? (int64_t)gen->offset : 0;
    if (gen && p->p_dropout > 0)
        gen->offset += (uint64_t)(pattn_num_units(p) * p->Hq * 32);
}

static pattnResult_t run_supported(const pattn_backend_t *be, const pattn_problem_t *p,
                                   int backward, int emulated)
{
    if (backward ? be->backward == NULL : be->forward == NULL)
        return pattn_error(pattnUnsupported, "backend %s has no %s", be->name,
                           backward ? "backward" : "forward");
    return be->supports ? be->supports(p, backward, emulated) : pattnSuccess;
}

/* The backend of a one-rank call (pattnForward/pattnBackward) that has a path for p. */
static pattnResult_t pick_single_rank_backend(pattnHandle_t handle, const void *qkv,
                                              const pattn_problem_t *p, int backward,
                                              const pattn_backend_t **be)
{
    pattnResult_t r = pick_backend(handle, qkv, be);
    if (r != pattnSuccess)
        return r;
    if (p->n > 1 && *be == &pattn_reference_backend)
        return pattn_error(pattnUnsupported,
                           "pipeline %d is in a ring of %d members: the reference runs rings only "
                           "emulated in one process (%s)",
                           p->pipelines[p->me], p->n,
                           backward ? "pattnBackwardEmulated" : "pattnForwardEmulated");
    return run_supported(*be, p, backward, 0);
}

pattnResult_t pattnForward(pattnHandle_t handle, const pattnParams_t *params, pattnGenerator_t *gen,
                           const void *qkv, void *out, float *softmax_lse, int64_t *rng_state,
                           float *softmax)
{
    pattn_problem_t p;
    pattnResult_t r = pattn_problem_build(params, &p);
    if (r != pattnSuccess)
        return r;
    if (!qkv && p.rows[p.me] > 0)
        return BAD("qkv = NULL: expected (%lld, %lld) elements", (long long)p.rows[p.me],
                   (long long)p.qkv_cols);
    if (!out && p.rows[p.me] > 0)
        return BAD("out = NULL: expected (%lld, %lld) elements", (long long)p.rows[p.me],
                   (long long)p.out_cols);
    if (!softmax_lse && p.rows[p.me] > 0)
        return BAD("softmax_lse = NULL: expected %lld fp32 elements",
                   (long long)pattn_lse_elems(&p, p.me));
    if (!rng_state)
        return BAD("rng_state = NULL: expected 2 int64 in host memory");
    if (p.return_softmax && !softmax)
        return BAD("softmax = NULL: expected (%lld, %lld, %lld, %lld) fp32 elements since "
                   "return_softmax = 1",
                   (long long)pattn_num_units(&p), (long long)p.Hq, (long long)p.sm_lq,
                   (long long)p.sm_nk);
    if ((r = check_generator(&p, gen, "gen")) != pattnSuccess)
        return r;
    const pattn_backend_t *be;
    if ((r = pick_single_rank_backend(handle, qkv, &p, 0, &be)) != pattnSuccess)
        return r;
    pattn_rng_t rng = {gen ? gen->seed : 0, gen ? gen->offset : 0};
    const void *qkvs[1] = {qkv};
    void *outs[1] = {out};
    float *lses[1] = {softmax_lse}, *sms[1] = {softmax};
    pattn_fwd_io_t io = {qkvs,
                         outs,
                         lses,
                         p.return_softmax ? sms : NULL,
                         NULL,
                         handle ? handle->stream : NULL,
                         handle ? &handle->state : NULL,
                         handle ? handle->comm : NULL,
                         handle ? handle->timeout : PATTN_DEFAULT_TIMEOUT};
    if ((r = be->forward(&p, rng, &io)) != pattnSuccess)
        return r;
    finish_generator(&p, gen, rng_state);
    pattn_clear_error();
    return pattnSuccess;
}

static pattnResult_t check_rng_state(const pattn_problem_t *p, const int64_t *rng_state,
                                     const char *name)
{
    if (p->p_dropout > 0 && !rng_state)
        return BAD("%s = NULL: expected the forward's [seed, offset] since p_dropout = %g", name,
                   p->p_dropout);
    return pattnSuccess;
}

pattnResult_t pattnBackward(pattnHandle_t handle, const pattnParams_t *params, const void *qkv,
                            const void *out, const float *softmax_lse, const int64_t *rng_state,
                            const void *dout, void *dqkv)
{
    pattn_problem_t p;
    pattnResult_t r = pattn_problem_build(params, &p);
    if (r != pattnSuccess)
        return r;
    int64_t rows = p.rows[p.me];
    const struct {
        const void *ptr;
        const char *name;
    } need[] = {{qkv, "qkv"}, {out, "out"}, {softmax_lse, "softmax_lse"}, {dout, "dout"},
                {dqkv, "dqkv"}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; ++i)
        if (!need[i].ptr && rows > 0)
            return BAD("%s = NULL: expected an array for %lld rows", need[i].name,
                       (long long)rows);
    if ((r = check_rng_state(&p, rng_state, "rng_state")) != pattnSuccess)
        return r;
    const pattn_backend_t *be;
    if ((r = pick_single_rank_backend(handle, qkv, &p, 1, &be)) != pattnSuccess)
        return r;
    pattn_rng_t rng = {rng_state ? (uint64_t)rng_state[0] : 0,
                       rng_state ? (uint64_t)rng_state[1] : 0};
    const void *q[1] = {qkv}, *o[1] = {out}, *d[1] = {dout};
    const float *l[1] = {softmax_lse};
    void *g[1] = {dqkv};
    pattn_bwd_io_t io = {q,
                         o,
                         l,
                         d,
                         g,
                         handle ? handle->stream : NULL,
                         handle ? &handle->state : NULL,
                         handle ? handle->comm : NULL,
                         handle ? handle->timeout : PATTN_DEFAULT_TIMEOUT};
    if ((r = be->backward(&p, rng, &io)) != pattnSuccess)
        return r;
    pattn_clear_error();
    return pattnSuccess;
}

/* Checks the per-member pointer arrays of an emulated call. */
static pattnResult_t check_members(const pattn_problem_t *p, const void *const *arr,
                                   const char *name)
{
    if (!arr)
        return BAD("%s = NULL: expected an array of %d pointers, one per ring member", name, p->n);
    for (int k = 0; k < p->n; ++k)
        if (!arr[k] && p->rows[k] > 0)
            return BAD("%s[%d] = NULL: expected member %d's array (pipeline %d, %lld rows)", name,
                       k, k, p->pipelines[k], (long long)p->rows[k]);
    return pattnSuccess;
}

pattnResult_t pattnForwardEmulated(const pattnParams_t *params, pattnGenerator_t *gens,
                                   const void *const *qkv, void *const *out,
                                   float *const *softmax_lse, int64_t *rng_states,
                                   float *const *softmax, const pattnStepObserver_t *observer)
{
    pattn_problem_t p;
    pattnResult_t r = pattn_problem_build(params, &p);
    if (r != pattnSuccess)
        return r;
    if ((r = check_members(&p, qkv, "qkv")) != pattnSuccess ||
        (r = check_members(&p, (const void *const *)out, "out")) != pattnSuccess ||
        (r = check_members(&p, (const void *const *)softmax_lse, "softmax_lse")) != pattnSuccess)
        return r;
    if (p.return_softmax &&
        (r = check_members(&p, (const void *const *)softmax, "softmax")) != pattnSuccess)
        return r;
    if (!rng_states)
        return BAD("rng_states = NULL: expected %d x 2 int64, one [seed, offset] per member", p.n);
    if ((r = check_generator(&p, gens, "gens")) != pattnSuccess)
        return r;
    if (gens)
        for (int k = 1; k < p.n; ++k)
            if (gens[k].seed != gens[0].seed || gens[k].offset != gens[0].offset)
                return pattn_error(
                    pattnMismatch,
                    "gens[%d] = {seed %llu, offset %llu} differs from gens[0] = {seed %llu, "
                    "offset %llu}: every member of a ring must pass the same generator state",
                    k, (unsigned long long)gens[k].seed, (unsigned long long)gens[k].offset,
                    (unsigned long long)gens[0].seed, (unsigned long long)gens[0].offset);
    const pattn_backend_t *be = &pattn_reference_backend;
    if ((r = run_supported(be, &p, 0, 1)) != pattnSuccess)
        return r;
    pattn_rng_t rng = {gens ? gens[0].seed : 0, gens ? gens[0].offset : 0};
    pattn_fwd_io_t io = {qkv,  out,  softmax_lse, p.return_softmax ? softmax : NULL, observer,
                         NULL, NULL, NULL,        PATTN_DEFAULT_TIMEOUT};
    if ((r = be->forward(&p, rng, &io)) != pattnSuccess)
        return r;
    for (int k = 0; k < p.n; ++k)
        finish_generator(&p, gens ? &gens[k] : NULL, rng_states + 2 * k);
    pattn_clear_error();
    return pattnSuccess;
}

pattnResult_t pattnBackwardEmulated(const pattnParams_t *params, const void *const *qkv,
                                    const void *const *out, const float *const *softmax_lse,
                                    const int64_t *rng_states, const void *const *dout,
                                    void *const *dqkv)
{
    pattn_problem_t p;
    pattnResult_t r = pattn_problem_build(params, &p);
    if (r != pattnSuccess)
        return r;
    if ((r = check_members(&p, qkv, "qkv")) != pattnSuccess ||
        (r = check_members(&p, out, "out")) != pattnSuccess ||
        (r = check_members(&p, (const void *const *)softmax_lse, "softmax_lse")) !=
            pattnSuccess ||
        (r = check_members(&p, dout, "dout")) != pattnSuccess ||
        (r = check_members(&p, (const void *const *)dqkv, "dqkv")) != pattnSuccess)
        return r;
    if ((r = check_rng_state(&p, rng_states, "rng_states")) != pattnSuccess)
        return r;
    if (rng_states && p.p_dropout > 0)
        for (int k = 1; k < p.n; ++k)
            if (rng_states[2 * k] != rng_states[0] || rng_states[2 * k + 1] != rng_states[1])
                return pattn_error(pattnMismatch,
                                   "rng_states[%d] = [%lld, %lld] differs from rng_states[0] = "
                                   "[%lld, %lld]: every member must pass the forward's state",
                                   k, (long long)rng_states[2 * k],
                                   (long long)rng_states[2 * k + 1], (long long)rng_states[0],
                                   (long long)rng_states[1]);
    const pattn_backend_t *be = &pattn_reference_backend;
    if ((r = run_supported(be, &p, 1, 1)) != pattnSuccess)
        return r;
    pattn_rng_t rng = {rng_states ? (uint64_t)rng_states[0] : 0,
                       rng_states ? (uint64_t)rng_states[1] : 0};
    pattn_bwd_io_t io = {qkv, out, softmax_lse, dout, dqkv, NULL, NULL, NULL, PATTN_DEFAULT_TIMEOUT};
    if ((r = be->backward(&p, rng, &io)) != pattnSuccess)
        return r;
    pattn_clear_error();
    return pattnSuccess;
}
