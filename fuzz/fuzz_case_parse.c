/*
 * fuzz_case_parse.c: libFuzzer target for the case.txt parser (conformance/case_parse.c). Any
 * bytes: a failure leaves a message; a success has tables of its strategies and pipelines and
 * an active strategy among them.
 */
#include <string.h>

#include "case.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f)
        return 0;
    conf_case_config_t cfg;
    conf_error_t err = {{0}};
    int rc = case_parse_stream(f, "case.txt", &cfg, &err);
    fclose(f);
    if (rc) {
        FUZZ_CHECK(err.text[0] != '\0' && cfg.seq_lens == NULL, "a failure without a message");
        return 0;
    }
    FUZZ_CHECK(cfg.num_strategies >= 1 && cfg.num_pipelines >= 1 && cfg.seq_lens &&
                   cfg.cp_groups && cfg.strategy < cfg.num_strategies &&
                   cfg.active_pipelines >= 1 && cfg.active_pipelines <= cfg.num_pipelines,
               "tables %d x %d, strategy %d, %d active", cfg.num_strategies, cfg.num_pipelines,
               cfg.strategy, cfg.active_pipelines);
    for (int i = 0; i < cfg.num_strategies * cfg.num_pipelines; ++i)
        FUZZ_CHECK(cfg.seq_lens[i] >= 0, "seq_lens[%d] = %lld", i, (long long)cfg.seq_lens[i]);
    case_config_free(&cfg);
    return 0;
}
