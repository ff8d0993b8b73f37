/*
 * plot.h: --plot DIR, a heat map of every failing tensor's error, so that a bad tile, a wrong
 * mask or a wrong ring step shows at a glance. Written as DIR/<case>/<backend>/<tensor>.png:
 *   out, dqkv   rows x heads (each cell the worst of the head's head_dim columns)
 *   lse         rows x query heads (rows = samples x local length, or packed tokens)
 *   softmax     local query rows x global key positions, for the (sequence, head) of the worst
 *               element
 * Colours: the share of the tolerance used, from dark blue (0) to green (1); red beyond the
 * bound; white where the values disagree in a way no tolerance covers (non-finite, a dropout
 * sign, a masked zero); magenta where the backend never wrote the element.
 */
#ifndef CONF_PLOT_H
#define CONF_PLOT_H

#include <stdint.h>

#include "case.h"
#include "compare.h"
#include "error.h"
#include "run.h"

/* Heat maps of the failing tensors of a compared run (tensors as compare_run returned them). */
int plot_run(const char *dir, const char *label, const conf_case_t *c, const conf_run_t *run,
             const conf_compare_t *tensors, int num_tensors, conf_error_t *err);

/* A cell's colour: its share of the tolerance (>= 0), INFINITY for a disagreement no tolerance
 * covers, NAN for an element never written. */
void plot_colour(double cell, uint8_t rgb[3]);

/* The pixels per cell, down (*sy) and across (*sx), of a heat map of height x width cells:
 * small grids are enlarged to about 256 pixels per side. */
void plot_cell_pixels(int height, int width, int *sy, int *sx);

#endif /* CONF_PLOT_H */
