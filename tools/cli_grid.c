/* The output grid and same-day mosaic options every command that reads a stack takes. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* n comma-separated numbers (at least min of them); false on junk. */
static int parse_numbers(const char *arg, double *v, int max) {
    const char *p = arg;
    for (int i = 0; i < max; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(p, &end);
        if (errno || end == p || (*end != ',' && *end != '\0')) {
            return -1;
        }
        if (*end == '\0') {
            return i + 1;
        }
        p = end + 1;
    }
    return -1;
}

int grid_opt(source_opts *so, int opt, const char *arg) {
    switch (opt) {
    case OPT_GRID:
        if (strncmp(arg, "like:", 5) != 0 || !arg[5]) {
            fprintf(stderr, "strata: --grid takes like:FILE, not '%s'\n", arg);
            return -1;
        }
        so->grid.like = arg + 5;
        return 1;
    case OPT_CRS:
        so->grid.crs = arg;
        return 1;
    case OPT_WARP_ERROR: {
        double e;
        if (parse_numbers(arg, &e, 1) != 1) {
            fprintf(stderr, "strata: --warp-error takes a number of pixels, not '%s'\n", arg);
            return -1;
        }
        so->grid.max_error = arg;
        return 1;
    }
    case OPT_BOUNDS_CRS:
        so->grid.bounds_crs = arg;
        return 1;
    case OPT_RESAMPLING: {
        strata_resampling r;
        if (strata_resampling_from_name(arg, &r) != STRATA_OK) {
            fprintf(stderr, "strata: --resampling: %s\n", strata_errmsg());
            return -1;
        }
        so->grid.resampling = arg;
        return 1;
    }
    case OPT_MOSAIC: {
        strata_mosaic m;
        if (strata_mosaic_from_name(arg, &m) != STRATA_OK) {
            fprintf(stderr, "strata: --mosaic: %s\n", strata_errmsg());
            return -1;
        }
        so->grid.mosaic = arg;
        return 1;
    }
    case OPT_MOSAIC_OP: {
        strata_mosaic_op m;
        if (strata_mosaic_op_from_name(arg, &m) != STRATA_OK) {
            fprintf(stderr, "strata: --mosaic-op: %s\n", strata_errmsg());
            return -1;
        }
        so->grid.mosaic_op = arg;
        return 1;
    }
    case OPT_RESOLUTION: {
        int n = parse_numbers(arg, so->grid.res, 2);
        if (n < 1) {
            fprintf(stderr, "strata: --resolution takes R or RX,RY, not '%s'\n", arg);
            return -1;
        }
        if (n == 1) {
            so->grid.res[1] = so->grid.res[0];
        }
        so->grid.has_res = true;
        return 1;
    }
    case OPT_BOUNDS:
        if (parse_numbers(arg, so->grid.bounds, 4) != 4) {
            fprintf(stderr, "strata: --bounds takes XMIN,YMIN,XMAX,YMAX, not '%s'\n", arg);
            return -1;
        }
        so->grid.has_bounds = true;
        return 1;
    default:
        return 0;
    }
}

/* A wrong combination of options is a usage error (exit 2), found before any file is read. */
static bool check_combination(const char *cmd, const source_opts *so) {
    const char *why = NULL;
    bool any_grid = so->grid.crs || so->grid.has_res || so->grid.has_bounds;
    if (so->grid.like && any_grid) {
        why = "--grid like:FILE takes no --crs, --resolution or --bounds";
    } else if ((so->grid.crs || so->grid.has_bounds) && !so->grid.has_res) {
        why = "--crs and --bounds need --resolution";
    } else if (so->grid.bounds_crs && !so->grid.has_bounds) {
        why = "--bounds-crs needs --bounds";
    } else if ((so->grid.resampling || so->grid.max_error) && !so->grid.like && !any_grid) {
        why = "--resampling and --warp-error need an output grid (--grid like:FILE or "
              "--resolution)";
    } else if (so->grid.mosaic_op && !so->grid.mosaic) {
        why = "--mosaic-op needs --mosaic";
    }
    if (why) {
        cli_error(cmd, "%s", why);
    }
    return why == NULL;
}

bool grid_from_opts(const source_opts *so, strata_grid_opts *g) {
    strata_grid_opts_init(g);
    if (!so->grid.like && !so->grid.has_res) {
        return false;
    }
    if (so->grid.max_error) {
        g->max_error = strtod(so->grid.max_error, NULL);
    }
    g->like = so->grid.like;
    g->crs = so->grid.crs;
    g->res_x = so->grid.res[0];
    g->res_y = so->grid.res[1];
    g->has_bounds = so->grid.has_bounds;
    memcpy(g->bounds, so->grid.bounds, sizeof g->bounds);
    g->bounds_crs = so->grid.bounds_crs;
    if (so->grid.resampling) {
        strata_resampling_from_name(so->grid.resampling, &g->resampling);
    }
    return true;
}

bool apply_grid(const char *cmd, strata_collection *c, source_opts *so) {
    if (!check_combination(cmd, so)) {
        so->fail_code = EXIT_USAGE;
        return false;
    }
    so->fail_code = EXIT_RUN;
    strata_grid_opts g;
    /* STAC collections were put on the grid as they were built. */
    if (grid_from_opts(so, &g) && strata_collection_resampling(c) < 0) {
        if (strata_collection_set_grid(c, &g) != STRATA_OK) {
            cli_fail(cmd);
            return false;
        }
    }
    if (so->grid.mosaic) {
        strata_mosaic by = STRATA_MOSAIC_NONE;
        strata_mosaic_op op = STRATA_MOSAIC_FIRST;
        strata_mosaic_from_name(so->grid.mosaic, &by);
        if (so->grid.mosaic_op) {
            strata_mosaic_op_from_name(so->grid.mosaic_op, &op);
        }
        if (strata_collection_mosaic(c, by, op) != STRATA_OK) {
            cli_fail(cmd);
            return false;
        }
    }
    return true;
}
