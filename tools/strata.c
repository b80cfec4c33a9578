/* strata: the command-line tool. */
#include "cli.h"
#include "dist.h"

#include <gdal.h>
#include <stdlib.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"info", cmd_info, "describe a stack: shape, type, chunks, CRS, geotransform, nodata"},
    {"reduce", cmd_reduce, "reduce over time: mean, sum, min, max, std, var, count, median"},
    {"groupby", cmd_groupby, "reduce groups of timesteps (months, seasons, labels)"},
    {"to-zarr", cmd_to_zarr, "write the cube to a Zarr store (v2 or v3), in parallel"},
    {"anomaly", cmd_anomaly, "each timestep minus its group's climatology, as a Zarr cube"},
    {"kerchunk", cmd_kerchunk, "index NetCDF/HDF5/GeoTIFF files as kerchunk references"},
    {"stac", cmd_stac, "search a STAC API and keep the items: stac search URL -o ITEMS.json"},
    {"demo", cmd_demo, "make a sample stack and walk through every capability"},
    {"read-all", cmd_read_all, "read every pixel through strata (benchmark of the reader)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f,
            "strata %s: a lazy (time, band, row, col) raster cube\n\n"
            "usage: strata COMMAND [OPTIONS] FILE... (or @LIST, a file of paths)\n\n"
            "commands:\n",
            strata_version());
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(f, "\n'strata COMMAND --help' describes a command's options.\n");
}

/* The reader bypasses GDAL's block cache; what remains in it (writes) needs little, and a
 * library default of 5%% of RAM would hide memory growth. The user's setting wins. */
static void default_gdal_cache(void) {
    if (!getenv("GDAL_CACHEMAX")) {
        GDALSetCacheMax64((GIntBig)64 << 20);
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("strata %s (GDAL %s)\n", strata_version(), GDALVersionInfo("RELEASE_NAME"));
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            dist_init(&argc, &argv);
            GDALAllRegister();
            default_gdal_cache();
            int rc = commands[i].run(argc - 1, argv + 1);
            GDALDestroyDriverManager();
            dist_finalize();
            return rc;
        }
    }
    fprintf(stderr, "strata: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
