/* strata info: describe a stack. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

static const char *const INFO_HELP =
    "usage: strata info [--check] [--json] [--times T,...|@FILE] [--time-pattern P] FILE...\n"
    "  Shape (T, B, R, C), data type, chunks, EPSG, geotransform, cell size and nodata of a\n"
    "  stack. Opens the first file only, unless --check opens and checks every file.\n"
    "  --json  print the serialised collection (meta, chunks, paths, times) instead\n"
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
    int64_t t0, t1;
    if (strata_collection_time(c, 0, &t0) &&
        strata_collection_time(c, strata_collection_size(c) - 1, &t1)) {
        printf("times:        %lld .. %lld (UTC seconds)\n", (long long)t0, (long long)t1);
    }
}

int cmd_info(int argc, char **argv) {
    enum { OPT_CHECK = OPT_FIRST_COMMAND, OPT_JSON };
    static const struct option longopts[] = {SOURCE_LONG_OPTIONS,
                                             {"check", no_argument, NULL, OPT_CHECK},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    source_opts so = {0};
    bool check = false, json = false;
    int opt, rc = EXIT_USAGE;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        int used = source_opt(&so, opt, optarg);
        if (used < 0) {
            goto done;
        } else if (used) {
            continue;
        }
        switch (opt) {
        case OPT_CHECK:
            check = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
            fputs(INFO_HELP, stdout);
            rc = 0;
            goto done;
        default:
            fputs(INFO_HELP, stderr);
            goto done;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!sl_add_arg(&so.files, argv[i])) {
            rc = EXIT_RUN;
            goto done;
        }
    }
    strata_collection *c = open_source("info", &so);
    rc = EXIT_RUN;
    if (c && check && strata_collection_validate(c) != STRATA_OK) {
        cli_fail("info");
    } else if (c && json) {
        char *text = NULL;
        if (strata_collection_to_json(c, &text) == STRATA_OK) {
            printf("%s\n", text);
            rc = 0;
        } else {
            cli_fail("info");
        }
        strata_free(text);
    } else if (c) {
        print_info(c);
        if (check) {
            printf("check:        all %zu files match the template\n", strata_collection_size(c));
        }
        rc = 0;
    }
    strata_collection_free(c);
done:
    sl_free(&so.files);
    return rc;
}
