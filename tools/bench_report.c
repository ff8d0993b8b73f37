/*
 * bench_report.c: the table, the JSON rows and the summary line of pattn-bench.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_report.h"

#include <math.h>
#include <string.h>
#include <time.h>

#ifndef PATTN_GIT_COMMIT
#define PATTN_GIT_COMMIT "unknown"
#endif

static const char COLUMNS[] = "#   backend dtype causal  batch  seqlen heads kv_heads head_dim "
                              "dropout    time_ms     min_ms  TFLOP/s   #wrong  sgemm_GF/s  ratio "
                              "peak_MiB\n";

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; ++s) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* A JSON number, or null for NaN (not measured). */
static void json_number(FILE *f, const char *key, double v)
{
    if (isnan(v))
        fprintf(f, ", \"%s\": null", key);
    else
        fprintf(f, ", \"%s\": %.6g", key, v);
}

/* , "key": "value" */
static void json_field(FILE *f, const char *key, const char *value)
{
    fprintf(f, ", \"%s\": ", key);
    json_string(f, value);
}

static void json_header(FILE *f, const bench_options_t *opts, const bench_machine_t *machine)
{
    char version[32], stamp[32];
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    snprintf(version, sizeof version, "%d.%d", PATTN_VERSION_MAJOR, PATTN_VERSION_MINOR);
    fprintf(f, "{\"tool\": \"pattn-bench\"");
    json_field(f, "version", version);
    fprintf(f, ", \"api\": %d", PATTN_API_VERSION);
    json_field(f, "commit", PATTN_GIT_COMMIT);
    json_field(f, "timestamp", stamp);
    json_field(f, "backend", pattnBackendName(opts->backend));
    json_field(f, "machine", machine->line);
    json_field(f, "card", machine->card);
    json_field(f, "driver", machine->driver);
    json_field(f, "cpu", machine->cpu);
    fprintf(f, ", \"pass\": \"%s\", \"deterministic\": %d, \"timing\": \"%s\", \"check\": %d, "
               "\"seed\": %llu, \"warmup\": %d, \"iters\": %d, \"rows\": [",
            opts->backward ? "forward+backward" : "forward", opts->deterministic,
            opts->hide_launch ? "gpu (launch hidden)" : "end to end", opts->check,
            (unsigned long long)opts->seed, opts->warmup, opts->iters);
}

int bench_report_open(bench_report_t *report, const bench_options_t *opts, int argc, char **argv,
                      const bench_machine_t *machine)
{
    *report = (bench_report_t){.opts = opts, .ratio_min = INFINITY};
    fputs("# pattn-bench", stdout);
    for (int i = 1; i < argc; ++i)
        printf(" %s", argv[i]);
    printf("\n# parallel_attn %d.%d, commit %s\n# %s\n", PATTN_VERSION_MAJOR, PATTN_VERSION_MINOR,
           PATTN_GIT_COMMIT, machine->line);
    printf("# seed %llu, warmup %d, iters %d (time = median), %s, TFLOP/s = %s4*B*L*L*Hq*D "
           "(/2 causal) / time\n",
           (unsigned long long)opts->seed, opts->warmup, opts->iters,
           opts->backward ? "forward + backward" : "forward", opts->backward ? "3.5 x " : "");
    printf("# #wrong: %s\n", opts->check ? "elements of the last output beyond the conformance "
                                          "tolerance against the reference, on a sample"
                                        : "not checked (-c 0)");
    fputs(COLUMNS, stdout);
    fflush(stdout);
    if (!opts->json_path)
        return 0;
    if (!(report->json = fopen(opts->json_path, "w"))) {
        perror(opts->json_path);
        return 2;
    }
    json_header(report->json, opts, machine);
    return 0;
}

static void print_row(const bench_report_t *report, const bench_case_t *c,
                      const bench_result_t *res)
{
    printf("%11s %5s %6d %6lld %7lld %5lld %8lld %8lld %7.3g", pattnBackendName(report->opts->backend),
           pattnDtypeName(c->dtype), c->causal, (long long)c->batch, (long long)c->seqlen,
           (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim, c->dropout);
    if (res->status != pattnSuccess) {
        printf("  %s\n", res->message);
    } else {
        double tflops = bench_case_tflops(c, res);
        printf(" %10.3f %10.3f %8.4f", res->median_ms, res->min_ms, tflops);
        if (res->checked < 0)
            printf(" %8s", "N/A");
        else
            printf(" %8lld", (long long)res->wrong);
        if (isnan(res->sgemm_gflops))
            printf(" %11s %6s", "-", "-");
        else
            printf(" %11.1f %6.2f", res->sgemm_gflops, tflops * 1e3 / res->sgemm_gflops);
        if (isnan(res->peak_rss_mib))
            printf(" %8s", "-");
        else
            printf(" %8.0f", res->peak_rss_mib);
        if (!isnan(res->bwd_median_ms))
            printf("  bwd %.3f ms %.1f TFLOP/s", res->bwd_median_ms, bench_case_bwd_tflops(c, res));
        if (c->ring > 1)
            printf("  ring %d: steps %.3f ms, transfers %.3f ms %.1f GB/s, hidden %.0f%%",
                   c->ring, res->ring_compute_ms, res->ring_hop_ms,
                   res->ring_hop_ms > 0 ? res->ring_bytes / res->ring_hop_ms * 1e-6 : 0.0,
                   100.0 * res->ring_hidden);
        printf("\n");
    }
    fflush(stdout);
}

static void json_row(bench_report_t *report, const bench_case_t *c, const bench_result_t *res)
{
    FILE *f = report->json;
    fprintf(f, "%s\n  {\"backend\": \"%s\", \"dtype\": \"%s\", \"causal\": %d, \"batch\": %lld, "
               "\"seqlen\": %lld, \"heads\": %lld, \"kv_heads\": %lld, \"head_dim\": %lld",
            report->json_rows++ ? "," : "", pattnBackendName(report->opts->backend),
            pattnDtypeName(c->dtype), c->causal, (long long)c->batch, (long long)c->seqlen,
            (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim);
    json_number(f, "dropout", c->dropout);
    fprintf(f, ", \"flops\": %.0f", bench_case_flops(c));
    const char *status = res->status == pattnSuccess       ? "ok"
                         : res->status == pattnUnsupported ? "unsupported"
                                                           : "failed";
    fprintf(f, ", \"status\": \"%s\"", status);
    if (res->status != pattnSuccess) {
        fputs(", \"error\": ", f);
        json_string(f, res->message);
    } else {
        json_number(f, "time_ms", res->median_ms);
        json_number(f, "min_ms", res->min_ms);
        double tflops = bench_case_tflops(c, res);
        json_number(f, "tflops", tflops);
        json_number(f, "bwd_time_ms", res->bwd_median_ms);
        json_number(f, "bwd_tflops", bench_case_bwd_tflops(c, res));
        if (c->ring > 1) {
            fprintf(f, ", \"ring\": %d, \"ring_steps\": %d", c->ring, res->ring_steps);
            json_number(f, "ring_compute_ms", res->ring_compute_ms);
            json_number(f, "ring_transfer_ms", res->ring_hop_ms);
            json_number(f, "ring_bytes", res->ring_bytes);
            json_number(f, "ring_gbps", res->ring_hop_ms > 0 ? res->ring_bytes / res->ring_hop_ms * 1e-6 : NAN);
            json_number(f, "ring_hidden", res->ring_hidden);
        }
        json_number(f, "sgemm_gflops", res->sgemm_gflops);
        json_number(f, "ratio", tflops * 1e3 / res->sgemm_gflops);
        json_number(f, "peak_rss_mib", res->peak_rss_mib);
        if (res->checked >= 0)
            fprintf(f, ", \"checked\": %lld, \"wrong\": %lld", (long long)res->checked,
                    (long long)res->wrong);
        else
            fprintf(f, ", \"checked\": null, \"wrong\": null");
    }
    fputc('}', f);
}

void bench_report_row(bench_report_t *report, const bench_case_t *c, const bench_result_t *res)
{
    ++report->rows;
    print_row(report, c, res);
    if (report->json)
        json_row(report, c, res);
    if (res->status == pattnUnsupported) {
        ++report->unsupported;
        return;
    }
    if (res->status != pattnSuccess) {
        ++report->failed;
        return;
    }
    ++report->ok;
    if (res->checked >= 0) {
        report->checked += res->checked;
        report->wrong += res->wrong;
        report->wrong_rows += res->wrong > 0;
    }
    double tflops = bench_case_tflops(c, res);
    report->tflops_sum += tflops;
    report->tflops_best = fmax(report->tflops_best, tflops);
    if (!isnan(res->sgemm_gflops)) {
        double ratio = tflops * 1e3 / res->sgemm_gflops;
        ++report->ratio_count;
        report->ratio_sum += ratio;
        report->ratio_min = fmin(report->ratio_min, ratio);
    }
    if (!isnan(res->peak_rss_mib))
        report->peak_rss_max = fmax(report->peak_rss_max, res->peak_rss_mib);
}

int bench_report_close(bench_report_t *report)
{
    int status = report->failed || !report->ok || report->wrong;
    if (report->opts->check)
        printf("# Out of bounds values : %lld %s (%d rows wrong, %lld values checked)\n",
               (long long)report->wrong, report->wrong ? "FAILED" : "OK", report->wrong_rows,
               (long long)report->checked);
    printf("# Summary: %d rows: %d ok, %d failed, %d unsupported", report->rows, report->ok,
           report->failed, report->unsupported);
    if (report->ok)
        printf(" | TFLOP/s mean %.4f, best %.4f", report->tflops_sum / report->ok,
               report->tflops_best);
    if (report->ratio_count)
        printf(" | ratio to sgemm min %.2f, mean %.2f", report->ratio_min,
               report->ratio_sum / report->ratio_count);
    if (report->peak_rss_max > 0)
        printf(" | peak RSS max %.0f MiB", report->peak_rss_max);
    printf(" | %s\n", status ? "FAILED" : "OK");
    if (report->json) {
        fprintf(report->json, "\n], \"ok\": %d, \"failed\": %d, \"unsupported\": %d, "
                "\"wrong\": %lld}\n", report->ok, report->failed, report->unsupported,
                (long long)report->wrong);
        if (ferror(report->json) | fclose(report->json)) {
            perror(report->opts->json_path);
            return 2;
        }
    }
    return status;
}
