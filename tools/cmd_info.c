/* strata info: describe a stack. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

static const char *const INFO_HELP =
    "usage: strata info [--check] [--json] [--times T,...|@FILE] [--time-pattern P] FILE...\n"
    "  Shape (T, B, R, C), data type, chunks, EPSG, geotransform, cell size and nodata of a\n"
    "  stack. Opens the first file only, unless --check opens and checks every file.\n"
    "  --json  print the serialised collection (meta, chunks, paths, times) instead\n" GRID_HELP
    "  Instead of files:\n" SOURCE_STAC_HELP;

static void print_nodata(const strata_meta *m) {
    printf("nodata:       ");
    for (int b = 0; b < strata_meta_bands(m); b++) {
        double v;
        if (strata_meta_nodata(m, b, &v)) {
            printf("%sband %d: %.17g", b ? ", " : "", b + 1, v);
        } else {
            printf("%sband %d: none", b ? ", " : "", b + 1);
        }
    }
    printf("\n");
}

static void print_info(const strata_collection *c) {
    const strata_meta *m = strata_collection_meta(c);
    double gt[6], cx, cy;
    int bx, by;
    strata_chunks ch;
    strata_meta_geotransform(m, gt);
    strata_meta_cell_size(m, &cx, &cy);
    strata_meta_block_size(m, &bx, &by);
    strata_collection_chunks(c, &ch);
    printf("files:        %zu\n", strata_collection_size(c));
    printf("shape:        (T=%zu, B=%d, R=%d, C=%d)\n", strata_collection_size(c),
           strata_meta_bands(m), strata_meta_rows(m), strata_meta_cols(m));
    printf("dtype:        %s\n", strata_dtype_name(strata_meta_dtype(m)));
    printf("chunks:       (%d, %d, %d, %d)\n", ch.t, ch.b, ch.y, ch.x);
    printf("source block: %d x %d\n", bx, by);
    printf("epsg:         %d\n", strata_meta_epsg(m));
    printf("geotransform: (%.17g, %.17g, %.17g, %.17g, %.17g, %.17g)\n", gt[0], gt[1], gt[2], gt[3],
           gt[4], gt[5]);
    printf("cell size:    %.17g x %.17g\n", cx, cy);
    print_nodata(m);
    printf("driver:       %s\n", strata_meta_driver(m));
    if (strata_collection_resampling(c) >= 0) {
        size_t files = 0;
        for (size_t t = 0; t < strata_collection_size(c); t++) {
            files += strata_collection_items(c, t) * strata_collection_sources(c);
        }
        printf("output grid:  %d x %d (rows x columns), %s resampling; %zu of %zu files warped\n",
               strata_meta_rows(m), strata_meta_cols(m),
               strata_resampling_name((strata_resampling)strata_collection_resampling(c)),
               strata_collection_warped(c), files);
    }
    int64_t t0, t1;
    if (strata_collection_time(c, 0, &t0) &&
        strata_collection_time(c, strata_collection_size(c) - 1, &t1)) {
        printf("times:        %lld .. %lld (UTC seconds)\n", (long long)t0, (long long)t1);
    }
}

typedef struct info_args {
    bool check, json, help;
} info_args;

enum { OPT_CHECK = OPT_FIRST_COMMAND, OPT_JSON };

static int info_option(void *ctx, int opt, const char *arg) {
    info_args *a = ctx;
    (void)arg;
    switch (opt) {
    case OPT_CHECK:
        a->check = true;
        return 0;
    case OPT_JSON:
        a->json = true;
        return 0;
    case 'h':
        a->help = true;
        return 0;
    default:
        fputs(INFO_HELP, stderr);
        return EXIT_USAGE;
    }
}

static int print_json(const strata_collection *c) {
    char *text = NULL;
    int rc = strata_collection_to_json(c, &text) == STRATA_OK ? 0 : cli_fail("info");
    if (!rc) {
        printf("%s\n", text);
    }
    strata_free(text);
    return rc;
}

int cmd_info(int argc, char **argv) {
    static const struct option longopts[] = {SOURCE_LONG_OPTIONS,
                                             {"check", no_argument, NULL, OPT_CHECK},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    source_opts so = {0};
    info_args a = {0};
    int rc = parse_command_line(argc, argv, longopts, &so, info_option, &a);
    if (!rc && a.help) {
        fputs(INFO_HELP, stdout);
    } else if (!rc) {
        strata_collection *c = open_source("info", &so);
        rc = c ? EXIT_RUN : source_fail_code(&so);
        if (c && a.check && strata_collection_validate(c) != STRATA_OK) {
            cli_fail("info");
        } else if (c && a.json) {
            rc = print_json(c);
        } else if (c) {
            print_info(c);
            if (a.check) {
                printf("check:        all %zu files match the template\n",
                       strata_collection_size(c));
            }
            rc = 0;
        }
        strata_collection_free(c);
    }
    sl_free(&so.files);
    return rc;
}
