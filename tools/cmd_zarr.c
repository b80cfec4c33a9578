/* strata to-zarr: writes the stack as a Zarr cube that xarray, rioxarray and GDAL open. */
#include "cli.h"
#include "dist.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TO_ZARR_HELP[] =
    "usage: strata to-zarr -o STORE [options] FILE... | @LIST\n"
    "  Writes the files as one (time, band, y, x) variable of a Zarr store, with time, band,\n"
    "  y, x coordinates and a spatial_ref variable (CRS, geotransform), in parallel.\n"
    "\n"
    "  -o, --output STORE    the store (a folder)\n"
    "  --mode M              w (default): replace a store strata wrote, once the new one\n"
    "                        is complete; w-: fail if STORE exists; a: append later\n"
    "                        timesteps to a store strata wrote\n"
    "  --zarr-version V      2 (default; with consolidated .zmetadata) or 3\n"
    "  --chunks T,B,Y,X      chunk sizes (default: 1 timestep, 1 band, a tile of source blocks)\n"
    "  --codec C             blosc-lz4 (default), blosc-zstd, zstd, zlib, none\n"
    "  --name VAR            the variable's name (default: data)\n"
    "  --times T             ISO 8601 time per file (comma list or @FILE)\n"
    "  --time-pattern P      read times from file names, e.g. %Y%m%d\n"
    "  --threads N           worker threads (default: all cores)\n"
    "  --io-concurrency N    remote (http/https) sources: range requests in flight\n"
    "                        (default 64), apart from the threads\n"
    "  --cache N             open files kept per thread (default 64)\n"
    "  -q, --quiet           no progress line, no summary\n" GRID_HELP
    "  Instead of files:\n" SOURCE_STAC_HELP;

enum { OPT_MODE = OPT_FIRST_COMMAND, OPT_ZVERSION, OPT_CHUNKS, OPT_CODEC, OPT_NAME };

typedef struct zarr_args {
    source_opts so;
    strata_zarr_opts zo;
    const char *out;
    bool version_given;
    bool help;
} zarr_args;

static bool parse_mode(const char *arg, strata_zarr_mode *mode) {
    static const char *const names[] = {"w", "w-", "a"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(arg, names[i]) == 0) {
            *mode = (strata_zarr_mode)i;
            return true;
        }
    }
    return false;
}

static bool parse_chunks(const char *arg, strata_chunks *ch) {
    string_list l = {0};
    int v[4];
    bool ok = sl_split(&l, arg) && l.n == 4;
    for (size_t i = 0; ok && i < 4; i++) {
        ok = parse_int(l.items[i], &v[i]) && v[i] >= 1;
    }
    sl_free(&l);
    if (ok) {
        *ch = (strata_chunks){v[0], v[1], v[2], v[3]};
    }
    return ok;
}

static int parse_option(void *ctx, int opt, const char *arg) {
    zarr_args *a = ctx;
    const char *cmd = "to-zarr";
    switch (opt) {
    case 'o':
        a->out = arg;
        return 0;
    case 'h':
        a->help = true;
        return 0;
    case OPT_NAME:
        a->zo.name = arg;
        return 0;
    case OPT_MODE:
        if (!parse_mode(arg, &a->zo.mode)) {
            cli_error(cmd, "--mode takes w, w- or a, not '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    case OPT_ZVERSION:
        a->version_given = true;
        return zarr_version_opt(cmd, arg, &a->zo);
    case OPT_CHUNKS:
        if (!parse_chunks(arg, &a->zo.chunks)) {
            cli_error(cmd, "--chunks takes four sizes >= 1, T,B,Y,X, not '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    case OPT_CODEC:
        return zarr_codec_opt(cmd, arg, &a->zo);
    default:
        return EXIT_USAGE;
    }
}

static int parse_args(int argc, char **argv, zarr_args *a) {
    static const struct option longopts[] = {
        SOURCE_LONG_OPTIONS,
        {"output", required_argument, NULL, 'o'},
        {"mode", required_argument, NULL, OPT_MODE},
        {"zarr-version", required_argument, NULL, OPT_ZVERSION},
        {"chunks", required_argument, NULL, OPT_CHUNKS},
        {"codec", required_argument, NULL, OPT_CODEC},
        {"name", required_argument, NULL, OPT_NAME},
        {"help", no_argument, NULL, 'h'},
        {0}};
    memset(a, 0, sizeof *a);
    strata_zarr_opts_init(&a->zo);
    int rc = parse_command_line(argc, argv, longopts, &a->so, parse_option, a);
    if (rc) {
        return rc;
    }
    a->zo.run.threads = a->so.threads;
    a->zo.run.io_concurrency = a->so.io_concurrency;
    return 0;
}

/* Appending follows the store's version unless one was given. */
static void default_version(zarr_args *a) {
    if (a->zo.mode == STRATA_ZARR_APPEND && !a->version_given) {
        char path[4200];
        snprintf(path, sizeof path, "%s/zarr.json", a->out);
        if (access(path, F_OK) == 0) {
            a->zo.zarr_version = 3;
        }
    }
}

/* Under MPI: rank 0 applies the mode, every rank writes its share of the chunks, and once all
 * succeeded rank 0 writes the coordinates and metadata: the store opens only when complete. */
static bool zarr_step(const char *cmd, zarr_args *a, strata_collection *c, strata_zarr_step step,
                      bool every_rank) {
    strata_zarr_opts o = a->zo;
    o.step = step;
    o.partition.index = every_rank ? dist_rank() : 0;
    o.partition.count = every_rank ? dist_size() : 0;
    bool ok = (!every_rank && dist_rank() != 0) || strata_to_zarr(c, a->out, &o) == STRATA_OK;
    if (!ok && dist_rank() == 0) {
        cli_fail(cmd);
    }
    return dist_all_ok(ok, cmd, ok || dist_rank() == 0 ? NULL : strata_errmsg());
}

static int run_distributed(const char *cmd, zarr_args *a, strata_collection *c) {
    bool ok = zarr_step(cmd, a, c, STRATA_ZARR_STEP_PREPARE, false) &&
              zarr_step(cmd, a, c, STRATA_ZARR_STEP_CHUNKS, true) &&
              zarr_step(cmd, a, c, STRATA_ZARR_STEP_FINISH, false);
    if (ok && !a->so.quiet && dist_rank() == 0) {
        printf("wrote %s (Zarr v%d, %zu timesteps, codec %s, %d ranks)\n", a->out,
               a->zo.zarr_version, strata_collection_size(c), strata_codec_name(a->zo.codec),
               dist_size());
    }
    return ok ? 0 : EXIT_RUN;
}

static int run(const char *cmd, zarr_args *a) {
    strata_collection *c = open_shared_source(cmd, &a->so);
    if (!c) {
        return source_fail_code(&a->so);
    }
    default_version(a);
    if (dist_size() > 1) {
        int rc = run_distributed(cmd, a, c);
        strata_collection_free(c);
        return rc;
    }
    progress_line pl;
    progress_init(&pl, cmd, a->so.quiet);
    pl.c = c;
    a->zo.run.progress = progress_cb;
    a->zo.run.progress_user = &pl;
    cli_catch_signals();
    strata_status st = strata_to_zarr(c, a->out, &a->zo);
    cli_release_signals();
    progress_end(&pl);
    int rc = st == STRATA_OK ? 0 : cli_fail(cmd);
    if (!rc && !a->so.quiet) {
        printf("wrote %s (Zarr v%d, %zu timesteps, codec %s)\n", a->out, a->zo.zarr_version,
               strata_collection_size(c), strata_codec_name(a->zo.codec));
    }
    strata_collection_free(c);
    return rc;
}

int cmd_to_zarr(int argc, char **argv) {
    zarr_args a;
    int rc = parse_args(argc, argv, &a);
    if (!rc && a.help) {
        fputs(TO_ZARR_HELP, stdout);
    } else if (!rc && (!a.out || !a.out[0])) {
        cli_error("to-zarr", "needs -o STORE (see strata to-zarr --help)");
        rc = EXIT_USAGE;
    } else if (!rc) {
        rc = run("to-zarr", &a);
    }
    sl_free(&a.so.files);
    return rc;
}
