/*
 * main.c: a user's first call of parallel_attn. Checks that the loaded library is the version
 * the header describes, then runs a causal fp32 forward with one KV head for two query heads
 * and checks what needs no reference: the first query sees only the first key, so its output
 * is exactly that key's V row, and its lse is scale * q.k.
 */
#include <math.h>
#include <stdio.h>

#include "parallel_attn.h"

#define L 5
#define D 8
#define HQ 2
#define COLS ((HQ + 2) * D)

int main(void)
{
    int version = 0;
    if (pattnGetVersion(&version) != pattnSuccess || version != PATTN_VERSION_CODE) {
        fprintf(stderr, "consumer: library version %d, header %d\n", version, PATTN_VERSION_CODE);
        return 1;
    }
    float qkv[L * COLS], out[L * HQ * D], lse[HQ * L];
    for (int i = 0; i < L * COLS; ++i)
        qkv[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    int64_t seq_lens[] = {L}, cp_groups[] = {0}, rng_state[2];
    pattnParams_t p = PATTN_PARAMS_INIT;
    p.rows = L;
    p.cols = COLS;
    p.head_dim = D;
    p.group_query_ratio = HQ;
    p.num_strategies = 1;
    p.num_pipelines = 1;
    p.seq_lens = seq_lens;
    p.cp_groups = cp_groups;
    pattnResult_t r = pattnForward(NULL, &p, NULL, qkv, out, lse, rng_state, NULL);
    if (r != pattnSuccess) {
        fprintf(stderr, "consumer: %s: %s\n", pattnGetErrorString(r), pattnGetLastError());
        return 1;
    }
    const float *k0 = qkv + HQ * D, *v0 = qkv + (HQ + 1) * D;
    double worst = 0;
    for (int h = 0; h < HQ; ++h) {
        double dot = 0;
        for (int d = 0; d < D; ++d) {
            worst = fmax(worst, fabs(out[h * D + d] - v0[d]));
            dot += (double)qkv[h * D + d] * k0[d];
        }
        worst = fmax(worst, fabs(lse[h * L] - dot / sqrt((double)D)));
    }
    printf("consumer: parallel_attn %d.%d.%d, first row error %.1e\n", version / 10000,
           version / 100 % 100, version % 100, worst);
    return worst < 1e-6 ? 0 : 1;
}
