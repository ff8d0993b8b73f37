/*
 * pattn_bench.c: pattn-bench, the forward (and --backward) benchmark. Walks the grid of the
 * command line (dtype x causal x head_dim x seqlen), times each row on one backend, checks its
 * output against the reference on a sample (#wrong), prints a table in the style of nccl-tests
 * with FlashAttention's TFLOP/s, and for the reference the rate of a cblas_sgemm of the same
 * FLOP count. See bench_options.c (or --help) for the flags.
 */
#include <math.h>
#include <stdio.h>

#include "bench_machine.h"
#include "bench_options.h"
#include "bench_report.h"
#include "bench_runner.h"

static bench_case_t make_case(const bench_options_t *opts, pattnDtype_t dtype, int causal,
                              int64_t head_dim, int64_t seqlen)
{
    bench_case_t c = {.dtype = dtype, .causal = causal, .seqlen = seqlen, .head_dim = head_dim,
                      .dropout = opts->dropout, .backward = opts->backward,
                      .deterministic = opts->deterministic, .ring = opts->ring};
    c.batch = opts->batch ? opts->batch : opts->tokens / seqlen;
    if (c.batch < 1)
        c.batch = 1;
    c.heads = opts->heads ? opts->heads : opts->hidden / head_dim;
    c.kv_heads = c.heads / opts->gqa;
    return c;
}

static void run_case(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                     bench_result_t *res)
{
    if (!bench_case_fits(c)) {
        bench_fail(res, pattnInvalidArgument, "too large: batch * seqlen * (heads + 2 * kv_heads) "
                   "* head_dim overflows the element counts");
        return;
    }
#ifdef PATTN_HAVE_CUDA
    if (opts->backend == PATTN_BACKEND_CUDA && opts->ring) {
        bench_run_ring(c, opts, seed, res);
        return;
    }
    if (opts->backend == PATTN_BACKEND_CUDA) {
        bench_run_cuda(c, opts, seed, res);
        return;
    }
#endif
    bench_run_reference(c, opts, seed, res);
}

int main(int argc, char **argv)
{
    bench_options_t opts;
    int rc = bench_parse_options(argc, argv, &opts);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!pattnBackendAvailable(opts.backend)) {
        fprintf(stderr, "pattn-bench: --backend %s: this build has no such backend (configure "
                        "with nvcc on PATH, PATTN_CUDA=ON)\n",
                pattnBackendName(opts.backend));
        return 2;
    }
    bench_machine_t machine;
    bench_machine_describe(&opts, &machine);
    bench_report_t report;
    if (bench_report_open(&report, &opts, argc, argv, &machine))
        return 2;
    uint64_t row = 0;
    for (int t = 0; t < opts.num_dtypes; ++t)
        for (int m = 0; m < opts.num_causal; ++m)
            for (int d = 0; d < opts.num_head_dims; ++d)
                for (int s = 0; s < opts.num_seqlens; ++s) {
                    bench_case_t c = make_case(&opts, opts.dtypes[t], opts.causal[m],
                                               opts.head_dims[d], opts.seqlens[s]);
                    bench_result_t res = {.status = pattnSuccess, .sgemm_gflops = NAN,
                                          .bwd_median_ms = NAN, .peak_rss_mib = NAN,
                                          .checked = -1, .ring_hidden = NAN};
                    run_case(&c, &opts, opts.seed + row++, &res);
                    bench_report_row(&report, &c, &res);
                }
    return bench_report_close(&report);
}
