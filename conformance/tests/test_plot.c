/*
 * test_plot.c: --plot's heat maps (plot.h, png.h). A reference run of a golden case with one
 * output element pushed far off and one left unwritten is drawn; the PNG is read back here
 * (signature, IHDR, the zlib stream of stored blocks, chunk CRCs checked against a constant
 * computed independently) and the cells of those two elements, and only they, carry the
 * "beyond the bound" and "never written" colours.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"
#include "compare.h"
#include "harness_util.h"
#include "plot.h"
#include "png.h"
#include "run.h"

#ifndef PATTN_SOURCE_DIR
#define PATTN_SOURCE_DIR "."
#endif

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct image {
    int width, height;
    uint8_t *rgb;
} image_t;

/* Reads an 8-bit RGB PNG whose IDAT holds stored deflate blocks (what png.c writes). */
static image_t read_png(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s was not written", path);
    static uint8_t file[1 << 22];
    size_t size = fread(file, 1, sizeof file, f);
    fclose(f);
    static const uint8_t SIGNATURE[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_assert(size > 8 && !memcmp(file, SIGNATURE, 8), "not a PNG");
    image_t im = {0, 0, NULL};
    uint8_t *z = malloc(size);
    size_t z_size = 0, at = 8;
    int ended = 0;
    while (at + 12 <= size && !ended) {
        uint32_t len = get32(file + at);
        const uint8_t *type = file + at + 4, *data = file + at + 8;
        cr_assert_eq(get32(data + len), png_crc32(0, type, len + 4), "chunk %.4s: bad CRC", type);
        if (!memcmp(type, "IHDR", 4)) {
            im.width = (int)get32(data);
            im.height = (int)get32(data + 4);
            cr_assert(data[8] == 8 && data[9] == 2, "8-bit RGB");
        } else if (!memcmp(type, "IDAT", 4)) {
            memcpy(z + z_size, data, len);
            z_size += len;
        } else if (!memcmp(type, "IEND", 4)) {
            cr_assert_eq(get32(data), 0xae426082u, "IEND's CRC is a known constant");
            ended = 1;
        }
        at += 12 + len;
    }
    cr_assert(ended && im.width > 0 && im.height > 0);
    cr_assert_eq((z[0] << 8 | z[1]) % 31, 0, "zlib header check");
    size_t row = (size_t)im.width * 3, p = 2, raw = 0;
    uint8_t *filtered = malloc((row + 1) * (size_t)im.height);
    for (int final = 0; !final;) {
        final = z[p] & 1;
        cr_assert_eq(z[p] >> 1 & 3, 0, "stored blocks");
        size_t n = (size_t)(z[p + 1] | z[p + 2] << 8);
        cr_assert_eq(n ^ 0xffff, (size_t)(z[p + 3] | z[p + 4] << 8));
        memcpy(filtered + raw, z + p + 5, n);
        raw += n;
        p += 5 + n;
    }
    cr_assert_eq(raw, (row + 1) * (size_t)im.height);
    im.rgb = malloc(row * (size_t)im.height);
    for (int y = 0; y < im.height; ++y) {
        cr_assert_eq(filtered[(row + 1) * (size_t)y], 0, "filter type none");
        memcpy(im.rgb + row * (size_t)y, filtered + (row + 1) * (size_t)y + 1, row);
    }
    free(filtered);
    free(z);
    return im;
}

/* The colour of cell (row, col) of a heat map with cells of sy x sx pixels. */
static const uint8_t *cell_pixel(const image_t *im, int sy, int sx, int row, int col)
{
    return im->rgb +
           ((size_t)(row * sy + sy / 2) * (size_t)im->width + (size_t)(col * sx + sx / 2)) * 3;
}

Test(plot, heat_map_marks_the_bad_and_the_unwritten_cells)
{
    const char *env = getenv("PATTN_DATA_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/mha_causal_fp32", env && *env ? env : PATTN_SOURCE_DIR "/data");
    conf_case_t c;
    conf_error_t err;
    cr_assert_eq(case_load(dir, "mha_causal_fp32", &c, &err), 0, "%s", err.text);
    conf_run_t run;
    run_case(&c, PATTN_BACKEND_REFERENCE, &run);
    cr_assert_eq(run.status, CONF_RUN_OK, "%s", run.message);
    conf_tensor_t *out = &run.outputs[0].tensor[CONF_OUT];
    int64_t D = c.cfg.head_dim, rows = out->shape[0], heads = out->shape[1] / D;
    cr_assert(rows > 40 && heads >= 2);
    out->values[3 * out->shape[1] + 1 * D + 5] += 1.0; /* row 3, head 1 */
    out->unwritten[40 * out->shape[1] + 0 * D + 2] = 1; /* row 40, head 0 */
    conf_tolerance_t tol =
        tolerance_apply(tolerance_default(c.cfg.dtype, c.cfg.p_dropout), &c.cfg.tolerance);
    conf_compare_t *res;
    int n;
    cr_assert_eq(compare_run(&c, &run, &tol, &res, &n), 0);
    char tmp[4096], path[4600];
    harness_tmpdir(tmp, sizeof tmp);
    cr_assert_eq(plot_run(tmp, "reference", &c, &run, res, n, &err), 0, "%s", err.text);
    snprintf(path, sizeof path, "%s/mha_causal_fp32/reference/out.0.png", tmp);
    image_t im = read_png(path);
    int sy, sx;
    plot_cell_pixels((int)rows, (int)heads, &sy, &sx);
    cr_assert_eq(im.width, heads * sx);
    cr_assert_eq(im.height, rows * sy);
    uint8_t beyond[3], unwritten[3];
    plot_colour(2.0, beyond);
    plot_colour(NAN, unwritten);
    cr_assert_eq(memcmp(cell_pixel(&im, sy, sx, 3, 1), beyond, 3), 0, "row 3 head 1 is not red");
    cr_assert_eq(memcmp(cell_pixel(&im, sy, sx, 40, 0), unwritten, 3), 0, "row 40 head 0: magenta");
    int marked = 0;
    for (int r = 0; r < rows; ++r)
        for (int h = 0; h < heads; ++h)
            marked += !memcmp(cell_pixel(&im, sy, sx, r, h), beyond, 3) ||
                      !memcmp(cell_pixel(&im, sy, sx, r, h), unwritten, 3);
    cr_assert_eq(marked, 2, "only the two damaged cells stand out");
    snprintf(path, sizeof path, "%s/mha_causal_fp32/reference/lse.0.png", tmp);
    cr_assert_not(case_is_file(path), "lse passed: no map for it");
    free(im.rgb);
    free(res);
    run_free(&run);
    case_free(&c);
    harness_remove_tree(tmp);
}
