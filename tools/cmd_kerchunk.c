/* strata kerchunk: write a kerchunk reference index over NetCDF/HDF5/GeoTIFF files. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

static const char *const KERCHUNK_HELP =
    "usage: strata kerchunk -o REFS.json [--concat-dim DIM] [--var NAME] [--inline BYTES]\n"
    "                       [--absolute] FILE... (or @LIST)\n"
    "  Writes a kerchunk (version 1) reference file: the files' chunks as byte ranges, so\n"
    "  fsspec's reference filesystem + zarr / xarray read them as one Zarr store without\n"
    "  copying. NetCDF4/HDF5 (deflate, shuffle), NetCDF3 (classic, 64-bit offset, CDF-5)\n"
    "  and GeoTIFF (tiled or striped; none, DEFLATE or ZSTD, no predictor). Variables that\n"
    "  cannot be indexed are skipped with a warning; the concat coordinate must be strictly\n"
    "  monotonic (give the files in order).\n"
    "  -o, --output FILE   the reference file (written to a temporary name, then renamed)\n"
    "  --concat-dim DIM    concatenate the files along DIM (default: time); when the files\n"
    "                      have no such dimension, DIM is added with one step per file\n"
    "  --var NAME          only this variable and its coordinates (GeoTIFF: its name,\n"
    "                      default 'data')\n"
    "  --inline BYTES      inline chunks smaller than this, base64 (default 500; 0: never)\n"
    "  --absolute          write absolute paths (default: the paths as given)\n";

static bool parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        return false;
    }
    *out = (size_t)v;
    return true;
}

static void warn(void *data, const char *message) {
    (void)data;
    fprintf(stderr, "strata kerchunk: warning: %s\n", message);
}

static int run(const string_list *files, const char *out, const strata_kerchunk_opts *o) {
    if (!out || !out[0]) {
        cli_error("kerchunk", "no output: give -o REFS.json");
        return EXIT_USAGE;
    }
    if (files->n == 0) {
        cli_error("kerchunk", "no input files (give paths or @LIST)");
        return EXIT_USAGE;
    }
    if (strata_kerchunk((const char *const *)files->items, files->n, out, o) != STRATA_OK) {
        return cli_fail("kerchunk");
    }
    return 0;
}

int cmd_kerchunk(int argc, char **argv) {
    enum { OPT_DIM = OPT_FIRST_COMMAND, OPT_VAR, OPT_INLINE, OPT_ABS };
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                             {"concat-dim", required_argument, NULL, OPT_DIM},
                                             {"var", required_argument, NULL, OPT_VAR},
                                             {"inline", required_argument, NULL, OPT_INLINE},
                                             {"absolute", no_argument, NULL, OPT_ABS},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    strata_kerchunk_opts o;
    strata_kerchunk_opts_init(&o);
    o.warn = warn;
    string_list files = {0};
    const char *out = NULL;
    int opt, rc = EXIT_USAGE;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case OPT_DIM:
            o.concat_dim = optarg;
            break;
        case OPT_VAR:
            o.var = optarg;
            break;
        case OPT_ABS:
            o.absolute_paths = 1;
            break;
        case OPT_INLINE:
            if (!parse_size(optarg, &o.inline_threshold)) {
                cli_error("kerchunk", "--inline takes a byte count, not '%s'", optarg);
                goto done;
            }
            break;
        case 'h':
            fputs(KERCHUNK_HELP, stdout);
            rc = 0;
            goto done;
        default:
            fputs(KERCHUNK_HELP, stderr);
            goto done;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!sl_add_arg(&files, argv[i])) {
            rc = EXIT_RUN;
            goto done;
        }
    }
    rc = run(&files, out, &o);
done:
    sl_free(&files);
    return rc;
}
