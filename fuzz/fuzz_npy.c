/*
 * fuzz_npy.c: libFuzzer target for the .npy reader (conformance/npy.c). Any bytes: a failure
 * leaves a message and no data; a success has the item count of its shape, data for every
 * item, and reads back the same after a write.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "npy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f)
        return 0;
    npy_array_t a;
    conf_error_t err = {{0}};
    int rc = npy_read_stream(f, "input.npy", &a, &err);
    fclose(f);
    if (rc) {
        FUZZ_CHECK(err.text[0] != '\0' && a.data == NULL, "a failure without a message");
        return 0;
    }
    int64_t count = 1;
    for (int d = 0; d < a.ndim; ++d)
        count *= a.shape[d];
    FUZZ_CHECK(count == a.count && (count == 0 || a.data), "count %lld for the shape",
               (long long)a.count);
    const char *path = fuzz_temp_path("roundtrip.npy");
    npy_array_t b;
    FUZZ_CHECK(npy_write(path, &a, &err) == 0, "write: %s", err.text);
    FUZZ_CHECK(npy_read(path, &b, &err) == 0, "read back: %s", err.text);
    size_t bytes = (size_t)a.count * npy_item_size(a.dtype);
    FUZZ_CHECK(b.dtype == a.dtype && b.count == a.count &&
                   (bytes == 0 || memcmp(a.data, b.data, bytes) == 0),
               "the round trip changed the array");
    npy_free(&a);
    npy_free(&b);
    return 0;
}
