/* strata anomaly: every timestep minus its group's climatology, as a Zarr cube. */
#include "cli.h"
#include "dist.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char ANOMALY_HELP[] =
    "usage: strata anomaly (--by KEY | --labels L1,L2,...|@FILE) --clim CLIM.zarr -o STORE\n"
    "                      [options] FILE...\n"
    "  Writes each timestep minus its group's value in CLIM.zarr (written by strata groupby\n"
    "  -o CLIM.zarr) as a (time, band, y, x) Zarr cube, in one pass over the files. The\n"
    "  climatology's grid, CRS, bands and a group for every label are checked first.\n"
    "  --by KEY        year, month, season, dayofyear, yearmonth or yearseason (needs times)\n"
    "  --labels L      one label per file, as a comma list or @FILE (one per line)\n"
    "  --clim STORE    the climatology store\n"
    "  --var VAR       its variable to subtract (default: mean)\n"
    "  -o STORE        the anomaly store (a folder)\n"
    "  --name VAR      the anomaly variable's name (default: anomaly)\n"
    "  --mode M        w (default): replace a store strata wrote; w-: fail if STORE exists\n"
    "  --zarr-version V, --codec C   as in 'strata to-zarr'\n"
    "  --times T, --time-pattern P   times of the files, as in 'strata groupby'\n"
    "  --threads N, --cache N, -q    as in 'strata to-zarr'\n";

enum {
    OPT_BY = OPT_FIRST_COMMAND,
    OPT_LABELS,
    OPT_CLIM,
    OPT_VAR,
    OPT_NAME,
    OPT_MODE,
    OPT_ZV,
    OPT_CODEC
};

typedef struct anomaly_args {
    source_opts so;
    strata_zarr_opts zo;
    const char *by, *labels, *clim, *var, *out;
    bool help;
} anomaly_args;

static int parse_option(void *ctx, int opt, const char *arg) {
    anomaly_args *a = ctx;
    const char *cmd = "anomaly";
    switch (opt) {
    case OPT_BY:
        a->by = arg;
        return 0;
    case OPT_LABELS:
        a->labels = arg;
        return 0;
    case OPT_CLIM:
        a->clim = arg;
        return 0;
    case OPT_VAR:
        a->var = arg;
        return 0;
    case OPT_NAME:
        a->zo.name = arg;
        return 0;
    case 'o':
        a->out = arg;
        return 0;
    case 'h':
        a->help = true;
        return 0;
    case OPT_MODE:
        if (strcmp(arg, "w") != 0 && strcmp(arg, "w-") != 0) {
            cli_error(cmd, "--mode takes w or w-, not '%s'", arg);
            return EXIT_USAGE;
        }
        a->zo.mode = arg[1] ? STRATA_ZARR_CREATE : STRATA_ZARR_OVERWRITE;
        return 0;
    case OPT_ZV:
        return zarr_version_opt(cmd, arg, &a->zo);
    case OPT_CODEC:
        return zarr_codec_opt(cmd, arg, &a->zo);
    default:
        return EXIT_USAGE;
    }
}

static int run(anomaly_args *a) {
    if (dist_size() > 1) {
        cli_error("anomaly", "runs in one process: run it without MPI");
        return EXIT_USAGE;
    }
    strata_collection *c = open_source("anomaly", &a->so);
    if (!c) {
        return source_fail_code(&a->so);
    }
    string_list labels = {0};
    int rc = cli_labels("anomaly", c, a->by, a->labels, &labels);
    if (!rc) {
        progress_line pl;
        progress_init(&pl, "anomaly", a->so.quiet);
        a->zo.run.progress = progress_cb;
        a->zo.run.progress_user = &pl;
        cli_catch_signals();
        strata_status st = strata_anomaly_to_zarr(c, (const char *const *)labels.items, a->clim,
                                                  a->var, a->out, &a->zo);
        cli_release_signals();
        progress_end(&pl);
        rc = st == STRATA_OK ? 0 : cli_fail("anomaly");
    }
    if (!rc && !a->so.quiet) {
        printf("wrote %s (Zarr v%d, %zu timesteps minus %s of %s)\n", a->out, a->zo.zarr_version,
               strata_collection_size(c), a->var ? a->var : "mean", a->clim);
    }
    sl_free(&labels);
    strata_collection_free(c);
    return rc;
}

int cmd_anomaly(int argc, char **argv) {
    static const struct option longopts[] = {SOURCE_LONG_OPTIONS,
                                             {"by", required_argument, NULL, OPT_BY},
                                             {"labels", required_argument, NULL, OPT_LABELS},
                                             {"clim", required_argument, NULL, OPT_CLIM},
                                             {"var", required_argument, NULL, OPT_VAR},
                                             {"name", required_argument, NULL, OPT_NAME},
                                             {"output", required_argument, NULL, 'o'},
                                             {"mode", required_argument, NULL, OPT_MODE},
                                             {"zarr-version", required_argument, NULL, OPT_ZV},
                                             {"codec", required_argument, NULL, OPT_CODEC},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    anomaly_args a;
    memset(&a, 0, sizeof a);
    strata_zarr_opts_init(&a.zo);
    int rc = parse_command_line(argc, argv, longopts, &a.so, parse_option, &a);
    a.zo.run.threads = a.so.threads;
    if (!rc && a.help) {
        fputs(ANOMALY_HELP, stdout);
    } else if (!rc && (!a.out || !a.out[0] || !a.clim || (!a.by == !a.labels))) {
        cli_error("anomaly", "needs --clim STORE, -o STORE and one of --by or --labels (see "
                             "strata anomaly --help)");
        rc = EXIT_USAGE;
    } else if (!rc) {
        rc = run(&a);
    }
    sl_free(&a.so.files);
    return rc;
}
