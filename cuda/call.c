/*
 * call.c: the plans and workspace of a CUDA call (call.h): a handle's cache of recent plans,
 * looked up by a key that serialises everything the items depend on, and its workspace.
 */
#include "call.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

#define CACHE_ENTRIES 16

typedef struct entry {
    int64_t *key; /* NULL: empty */
    size_t key_len;
    uint64_t last_use;
    pattn_cuda_plan_t plan;
} entry_t;

struct pattn_cuda_state {
    entry_t entries[CACHE_ENTRIES];
    uint64_t clock;
    void *workspace;
    size_t workspace_bytes;
};

void pattn_cuda_state_free(void *state)
{
    pattn_cuda_state_t *s = state;
    if (!s)
        return;
    /* The handle is going away: wait for its work, then free (errors cannot be reported). */
    cudaDeviceSynchronize();
    for (int i = 0; i < CACHE_ENTRIES; ++i) {
        if (s->entries[i].plan.dev)
            cudaFree(s->entries[i].plan.dev);
        free(s->entries[i].key);
    }
    if (s->workspace)
        cudaFree(s->workspace);
    free(s);
}

pattnResult_t pattn_cuda_call_begin(pattn_cuda_call_t *c, void **state_slot, cudaStream_t stream)
{
    memset(c, 0, sizeof *c);
    c->stream = stream;
    if (!state_slot)
        return pattnSuccess;
    if (!*state_slot && !(*state_slot = calloc(1, sizeof(pattn_cuda_state_t))))
        return pattn_error(pattnSystemError, "backend cuda: out of host memory for the handle's "
                                             "plan cache");
    c->state = *state_slot;
    return pattnSuccess;
}

/* Everything member k's items of steps 0..steps-1 depend on, as int64 words (malloc'ed). */
static int64_t *plan_key(const pattn_problem_t *p, int k, int steps,
                         const pattn_cuda_kernel_t *kernel, int every_tile, size_t *len)
{
    const size_t cu = p->packing ? (size_t)p->n * 2 * (p->P + 1) : 0;
    const size_t n = 17 + 2 * (size_t)p->n + cu;
    int64_t *key = malloc(n * sizeof *key);
    if (!key)
        return NULL;
    size_t at = 0;
    const int64_t head[17] = {(int64_t)(intptr_t)kernel, k, steps, every_tile, p->dtype, p->D,
                              p->r, p->Hq, p->Hkv, p->B, p->packing, p->P, p->is_causal, p->n,
                              p->me, p->split, p->deterministic};
    for (int i = 0; i < 17; ++i)
        key[at++] = head[i];
    for (int m = 0; m < p->n; ++m) {
        key[at++] = p->L[m];
        key[at++] = p->rows[m];
    }
    for (int m = 0; p->packing && m < p->n; ++m)
        for (int u = 0; u <= p->P; ++u) {
            key[at++] = p->cu_q[m][u];
            key[at++] = p->cu_k[m][u];
        }
    *len = at * sizeof *key;
    return key;
}

pattnResult_t pattn_cuda_call_plan(pattn_cuda_call_t *c, const pattn_problem_t *p, int k,
                                   int steps, const pattn_cuda_kernel_t *kernel, int every_tile,
                                   const pattn_cuda_plan_t **plan)
{
    if (!c->state) {
        if (c->num_owned == PATTN_CUDA_CALL_PLANS)
            return pattn_error(pattnInternalError, "backend cuda: a call owns at most %d plans",
                               PATTN_CUDA_CALL_PLANS);
        pattn_cuda_plan_t *own = &c->owned[c->num_owned++];
        *plan = own;
        return pattn_cuda_plan_build(p, k, steps, kernel, every_tile, c->stream, own);
    }
    pattn_cuda_state_t *s = c->state;
    size_t len;
    int64_t *key = plan_key(p, k, steps, kernel, every_tile, &len);
    if (!key)
        return pattn_error(pattnSystemError, "backend cuda: out of host memory (plan key)");
    entry_t *victim = &s->entries[0];
    for (int i = 0; i < CACHE_ENTRIES; ++i) {
        entry_t *e = &s->entries[i];
        if (e->key && e->key_len == len && !memcmp(e->key, key, len)) {
            free(key);
            e->last_use = ++s->clock;
            *plan = &e->plan;
            return pattnSuccess;
        }
        if (!e->key || (victim->key && e->last_use < victim->last_use))
            victim = e;
    }
    if (victim->key) { /* evict the least recently used: its items may still be in use */
        cudaError_t e = cudaStreamSynchronize(c->stream);
        if (e == cudaSuccess && victim->plan.dev)
            e = cudaFree(victim->plan.dev);
        free(victim->key);
        memset(victim, 0, sizeof *victim); /* emptied even after a failure: never freed twice */
        if (e != cudaSuccess) {
            free(key);
            return pattn_error(pattnCudaError, "backend cuda: evicting a cached plan: %s",
                               cudaGetErrorString(e));
        }
    }
    pattnResult_t r = pattn_cuda_plan_build(p, k, steps, kernel, every_tile, c->stream, &victim->plan);
    if (r != pattnSuccess) {
        pattn_cuda_plan_free(&victim->plan, c->stream);
        free(key);
        return r;
    }
    victim->key = key;
    victim->key_len = len;
    victim->last_use = ++s->clock;
    *plan = &victim->plan;
    return pattnSuccess;
}

pattnResult_t pattn_cuda_call_workspace(pattn_cuda_call_t *c, size_t bytes, void **ptr)
{
    if (!c->state) {
        if (c->workspace)
            return pattn_error(pattnInternalError, "backend cuda: one workspace per call");
        CUDA_CHECK(cudaMallocAsync(&c->workspace, bytes ? bytes : 1, c->stream));
        *ptr = c->workspace;
        return pattnSuccess;
    }
    pattn_cuda_state_t *s = c->state;
    if (s->workspace_bytes < bytes) {
        if (s->workspace) { /* the old one may be in use by the handle's earlier calls */
            cudaError_t e = cudaStreamSynchronize(c->stream);
            if (e == cudaSuccess)
                e = cudaFree(s->workspace);
            s->workspace = NULL; /* forgotten even after a failure: never freed twice */
            s->workspace_bytes = 0;
            if (e != cudaSuccess)
                return pattn_error(pattnCudaError, "backend cuda: releasing the workspace: %s",
                                   cudaGetErrorString(e));
        }
        CUDA_CHECK(cudaMalloc(&s->workspace, bytes));
        s->workspace_bytes = bytes;
    }
    *ptr = s->workspace;
    return pattnSuccess;
}

pattnResult_t pattn_cuda_call_end(pattn_cuda_call_t *c, pattnResult_t r)
{
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < c->num_owned; ++i) {
        cudaError_t ei = pattn_cuda_plan_free(&c->owned[i], c->stream);
        if (e == cudaSuccess)
            e = ei;
    }
    if (c->workspace) {
        cudaError_t ei = cudaFreeAsync(c->workspace, c->stream);
        if (e == cudaSuccess)
            e = ei;
    }
    c->num_owned = 0;
    c->workspace = NULL;
    if (r == pattnSuccess && e != cudaSuccess)
        return pattn_error(pattnCudaError, "backend cuda: releasing a call's memory: %s",
                           cudaGetErrorString(e));
    return r;
}
