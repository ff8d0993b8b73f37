/*
 * plot.c: the heat maps of --plot (plot.h): per failing tensor, a grid of cells holding the
 * worst element of each cell, by the same rules as compare.c, drawn into a PNG (png.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "png.h"

#define MAX_CELLS 1024 /* per side; larger grids are pooled (the worst element of each group) */
#define MIN_PIXELS 256 /* a small grid's cells are enlarged up to this many pixels per side */

/* The cell value of element i of got against its expectation (see plot_colour). */
static double element_cell(const conf_compare_t *cmp, conf_output_t which, const conf_tensor_t *got,
                           const npy_array_t *exp, int64_t i)
{
    double g = got->values[i], e = npy_get_f64(exp, i);
    if (which == CONF_SOFTMAX)
        e = (float)e;
    if (got->unwritten[i])
        return isnan(e) ? 0 : NAN;
    if (!isfinite(g) || !isfinite(e))
        return (isnan(g) && isnan(e)) || g == e ? 0 : INFINITY;
    if (which == CONF_SOFTMAX) {
        if (!signbit(g) != !signbit(e) || (fabs(g) < 1.17549435e-38) != (fabs(e) < 1.17549435e-38))
            return INFINITY;
        g = fabs(g);
        e = fabs(e);
    }
    double bound = cmp->atol + cmp->rtol * fabs(e), err = fabs(g - e);
    return bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
}

/* The worse of two cells: never written, then disagreements, then the larger share. */
static double worse(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

void plot_colour(double cell, uint8_t rgb[3])
{
    static const uint8_t UNWRITTEN[3] = {255, 0, 255}, MISMATCH[3] = {255, 255, 255},
                         BEYOND[3] = {230, 30, 30}, LOW[3] = {15, 25, 70}, HIGH[3] = {90, 210, 120};
    const uint8_t *fixed = isnan(cell) ? UNWRITTEN : isinf(cell) ? MISMATCH : cell > 1 ? BEYOND
                                                                                   : NULL;
    for (int k = 0; k < 3; ++k)
        rgb[k] = fixed ? fixed[k] : (uint8_t)(LOW[k] + cell * (HIGH[k] - LOW[k]) + 0.5);
}

static int cell_side(int cells)
{
    int s = MIN_PIXELS / (cells > 0 ? cells : 1);
    return s < 1 ? 1 : s > 64 ? 64 : s;
}

void plot_cell_pixels(int height, int width, int *sy, int *sx)
{
    *sy = cell_side(height);
    *sx = cell_side(width);
}

/* The grid of a tensor: height x width cells, element i in cell (row_of(i), col_of(i)). */
typedef struct grid {
    int64_t height, width;
    int64_t first, count; /* the elements drawn (softmax: one sequence and head) */
    int64_t row_span, col_span; /* elements per cell row and column (head_dim for out/dqkv) */
    int64_t cols;               /* the elements of one tensor row */
} grid_t;

static grid_t grid_of(const conf_case_t *c, conf_output_t which, const conf_tensor_t *t,
                      const conf_compare_t *cmp)
{
    grid_t g = {0, 0, 0, t->count, 1, 1, 1};
    if (which == CONF_OUT || which == CONF_DQKV) { /* (rows, heads * D) */
        g.cols = t->shape[1];
        g.col_span = c->cfg.head_dim;
        g.height = t->shape[0];
        g.width = g.cols / g.col_span;
    } else if (which == CONF_LSE) { /* (B, Hq, L) or (Hq, T): rows x heads, transposed below */
        int packed = t->ndim == 2;
        g.height = packed ? t->shape[1] : t->shape[0] * t->shape[2];
        g.width = packed ? t->shape[0] : t->shape[1];
    } else { /* softmax (U, Hq, Lq, Nk): the (u, h) slice of the worst element */
        int64_t slice = t->shape[2] * t->shape[3];
        g.first = cmp->worst >= 0 ? cmp->worst / slice * slice : 0;
        g.count = slice;
        g.height = t->shape[2];
        g.width = g.cols = t->shape[3];
    }
    return g;
}

/* The cell (row, column) of element i of a tensor drawn on grid g. */
static void cell_of(const grid_t *g, conf_output_t which, const conf_tensor_t *t, int64_t i,
                    int64_t *row, int64_t *col)
{
    if (which == CONF_LSE) {
        if (t->ndim == 2) { /* (Hq, T) */
            *col = i / t->shape[1];
            *row = i % t->shape[1];
        } else { /* (B, Hq, L): row b * L + t */
            int64_t L = t->shape[2], b = i / (t->shape[1] * L);
            *col = i / L % t->shape[1];
            *row = b * L + i % L;
        }
        return;
    }
    int64_t local = i - g->first;
    *row = local / g->cols;
    *col = local % g->cols / g->col_span;
}

static int draw(const char *path, const double *cells, int64_t height, int64_t width,
                conf_error_t *err)
{
    int64_t pool_h = (height + MAX_CELLS - 1) / MAX_CELLS, pool_w = (width + MAX_CELLS - 1) / MAX_CELLS;
    int h = (int)((height + pool_h - 1) / pool_h), w = (int)((width + pool_w - 1) / pool_w);
    int sy, sx;
    plot_cell_pixels(h, w, &sy, &sx);
    uint8_t *rgb = malloc((size_t)h * sy * (size_t)w * sx * 3 + 1);
    if (!rgb)
        return conf_fail(err, "%s: out of memory", path);
    for (int y = 0; y < h * sy; ++y)
        for (int x = 0; x < w * sx; ++x) {
            double v = 0;
            for (int64_t r = y / sy * pool_h; r < (y / sy + 1) * pool_h && r < height; ++r)
                for (int64_t q = x / sx * pool_w; q < (x / sx + 1) * pool_w && q < width; ++q)
                    v = worse(v, cells[r * width + q]);
            plot_colour(v, rgb + ((size_t)y * (size_t)(w * sx) + (size_t)x) * 3);
        }
    int rc = png_write_rgb(path, w * sx, h * sy, rgb, err);
    free(rgb);
    return rc;
}

static int plot_tensor(const char *path, const conf_case_t *c, conf_output_t which,
                       const conf_tensor_t *got, const npy_array_t *exp,
                       const conf_compare_t *cmp, conf_error_t *err)
{
    grid_t g = grid_of(c, which, got, cmp);
    if (g.height <= 0 || g.width <= 0)
        return 0;
    double *cells = calloc((size_t)(g.height * g.width), sizeof *cells);
    if (!cells)
        return conf_fail(err, "%s: out of memory", path);
    for (int64_t i = g.first; i < g.first + g.count; ++i) {
        int64_t row, col;
        cell_of(&g, which, got, i, &row, &col);
        double *cell = &cells[row * g.width + col];
        *cell = worse(*cell, element_cell(cmp, which, got, exp, i));
    }
    int rc = draw(path, cells, g.height, g.width, err);
    free(cells);
    return rc;
}

/* The output and pipeline a comparison's label ("dqkv.1") names; -1 when it names none. */
static int parse_label(const char *label, conf_output_t *which, int *pipeline)
{
    for (int w = 0; w < CONF_NUM_OUTPUTS; ++w) {
        const char *name = conf_output_name((conf_output_t)w);
        size_t n = strlen(name);
        if (!strncmp(label, name, n) && label[n] == '.') {
            *which = (conf_output_t)w;
            *pipeline = atoi(label + n + 1);
            return 0;
        }
    }
    return -1;
}

int plot_run(const char *dir, const char *label, const conf_case_t *c, const conf_run_t *run,
             const conf_compare_t *tensors, int num_tensors, conf_error_t *err)
{
    char folder[4400], path[4600];
    snprintf(folder, sizeof folder, "%s/%s/%s", dir, c->name, label);
    int made = 0;
    for (int i = 0; i < num_tensors; ++i) {
        const conf_compare_t *cmp = &tensors[i];
        conf_output_t which;
        int p;
        if (cmp->pass || !cmp->checked || cmp->problem[0] || parse_label(cmp->tensor, &which, &p) ||
            which == CONF_RNG_STATE || p < 0 || p >= run->num_pipelines)
            continue;
        if (!made++ && dump_make_folders(folder, err))
            return -1;
        snprintf(path, sizeof path, "%s/%s.png", folder, cmp->tensor);
        if (plot_tensor(path, c, which, &run->outputs[p].tensor[which], &c->pipes[p].expected[which],
                        cmp, err))
            return -1;
    }
    return 0;
}
