/*
 * fuzz_case_folder.c: libFuzzer target for a whole case folder, end to end: the input is an
 * archive of files, [name index: 1 byte][length: 4 bytes little-endian][bytes], written into a
 * fresh folder, then loaded (case_load), run on the reference (run_case), compared
 * (compare_run) and dumped (dump_run). Every failure must come with a message; nothing may
 * crash, leak or touch memory outside its arrays.
 */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "case.h"
#include "compare.h"
#include "dump.h"
#include "fuzz_util.h"
#include "run.h"

static const char *const NAMES[] = {
    "case.txt",           "qkv.0.npy",          "qkv.1.npy",          "qkv.2.npy",
    "cu_seqlens_q.0.npy", "cu_seqlens_k.0.npy", "cu_seqlens_q.1.npy", "cu_seqlens_k.1.npy",
    "cu_seqlens_q.2.npy", "cu_seqlens_k.2.npy", "dout.0.npy",         "dout.1.npy",
    "dout.2.npy",         "out.0.npy",          "lse.0.npy",          "rng_state.0.npy",
    "softmax.0.npy",      "dqkv.0.npy",         "out.1.npy",          "lse.1.npy",
    "softmax.1.npy",      "dqkv.1.npy",         "out.2.npy",          "lse.2.npy"};
#define NUM_NAMES (sizeof NAMES / sizeof NAMES[0])
#define MAX_ELEMENTS (1 << 15) /* a larger case is loaded but not run */

/* Writes the archive's files into folder; returns 0, or -1 when the archive ends early. */
static int unpack(const unsigned char *data, size_t size, const char *folder)
{
    char path[600];
    while (size >= 5) {
        uint32_t len = data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                       (uint32_t)data[4] << 24;
        const char *name = NAMES[data[0] % NUM_NAMES];
        data += 5, size -= 5;
        if (len > size)
            len = (uint32_t)size;
        snprintf(path, sizeof path, "%s/%s", folder, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len)
            abort();
        fclose(f);
        data += len, size -= len;
    }
    return 0;
}

static int small_enough(const conf_case_t *c)
{
    for (int p = 0; p < c->cfg.num_pipelines; ++p)
        if (c->pipes[p].present && c->pipes[p].rows * c->pipes[p].cols > MAX_ELEMENTS)
            return 0;
    return c->cfg.num_pipelines <= 8;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_clear_temp();
    char folder[600], dump[600];
    snprintf(folder, sizeof folder, "%s", fuzz_temp_path("case"));
    snprintf(dump, sizeof dump, "%s", fuzz_temp_path("dump"));
    if (mkdir(folder, 0700) != 0)
        abort();
    unpack(data, size, folder);
    conf_case_t c;
    conf_error_t err = {{0}};
    if (case_load(folder, "fuzz", &c, &err)) {
        FUZZ_CHECK(err.text[0] != '\0', "case_load failed without a message");
        return 0;
    }
    if (small_enough(&c)) {
        conf_run_t run;
        run_case(&c, PATTN_BACKEND_REFERENCE, &run);
        FUZZ_CHECK(run.status == CONF_RUN_OK || run.message[0], "a failed run without a message");
        if (run.status == CONF_RUN_OK) {
            conf_tolerance_t tol = tolerance_apply(
                tolerance_default(c.cfg.dtype, c.cfg.p_dropout), &c.cfg.tolerance);
            conf_compare_t *results = NULL;
            int count = 0;
            FUZZ_CHECK(compare_run(&c, &run, &tol, &results, &count) == 0, "compare_run");
            free(results);
            if (dump_run(dump, &c, &run, &err))
                FUZZ_CHECK(err.text[0] != '\0', "dump_run failed without a message");
        }
        run_free(&run);
    }
    case_free(&c);
    return 0;
}
