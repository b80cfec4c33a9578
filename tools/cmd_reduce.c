/* strata reduce and strata groupby. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const REDUCE_HELP =
    "usage: strata reduce --op OP[,OP...] -o OUT [options] FILE...\n"
    "  Reduces the stack over time into (band, row, col) GeoTIFFs, in one pass.\n"
    "  --op OPS        mean, sum, min, max, std, var, count, median, and quantiles as\n"
    "                  pQ with Q in [0, 100] (p10, p2.5: q = Q/100), comma separated\n"
    "  -o OUT          output GeoTIFF; with several ops it must contain {op} (a quantile's\n"
    "                  {op} is its pQ)\n"
    "  --quantile-method M  linear (default), lower, higher, nearest or midpoint, as numpy\n"
    "  --memory MB     median and quantiles keep every value of a tile: tiles shrink until\n"
    "                  those values fit MB MiB (default 256)\n"
    "  --skipna        ignore missing values (nodata and NaN): the default\n"
    "  --no-skipna     any missing value makes the pixel missing\n"
    "  --ddof N        std/var divisor is n - N (default 0)\n"
    "  --dtype T       float32 or float64: on-disk type of mean, std, var and median;\n"
    "                  int64: sums of integers as Int64 (default Float64)\n"
    "  --compress C    zstd (default, level 1), deflate (level 1: for readers\n"
    "                  outside GDAL), lzw or none\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  --io-concurrency N  remote (http/https) sources: range requests in flight\n"
    "                  (default 64), apart from the threads\n"
    "  --cache N       open files kept per thread (default 64)\n"
    "  --quiet         no progress line\n" GRID_HELP "  Instead of files:\n" SOURCE_STAC_HELP;

static const char *const GROUPBY_HELP =
    "usage: strata groupby (--by KEY | --labels L1,L2,...|@FILE) --op OP[,OP...] -o OUTDIR\n"
    "                      [--times T1,T2,...|@FILE | --time-pattern PATTERN] [options] FILE...\n"
    "  Reduces each group of timesteps in one pass over the data. Writes OUTDIR/<label>.tif\n"
    "  (one op) or OUTDIR/<label>_<op>.tif (several), and OUTDIR/index.json; or, with\n"
    "  -o STORE.zarr or --format zarr, one Zarr store: a variable (KEY, band, y, x) per op,\n"
    "  the labels as coordinate KEY (--by) or 'group' (--labels).\n"
    "  --format F      gtiff (default) or zarr (the default when -o ends in .zarr)\n"
    "  --zarr-version V, --codec C, --mode M   the store's, as in 'strata to-zarr'\n"
    "  --by KEY        year, month, season, dayofyear, yearmonth or yearseason (needs times)\n"
    "  --labels L      one label per file, as a comma list or @FILE (one per line)\n"
    "  --times T       ISO 8601 time per file (comma list or @FILE)\n"
    "  --time-pattern  read times from file names, e.g. %Y%m%d\n"
    "  other options as in 'strata reduce'\n";

enum {
    OPT_OP = OPT_FIRST_COMMAND,
    OPT_SKIPNA,
    OPT_NO_SKIPNA,
    OPT_DDOF,
    OPT_DTYPE,
    OPT_BY,
    OPT_LABELS,
    OPT_COMPRESS,
    OPT_QUANTILE_METHOD,
    OPT_MEMORY,
    OPT_FORMAT,
    OPT_ZVERSION,
    OPT_CODEC,
    OPT_MODE
};

enum { MAX_QUANTILES = 64 };

typedef struct reduce_args {
    const char *cmd;
    source_opts so;
    strata_op ops[STRATA_OP_COUNT_OF_OPS];
    size_t nops;
    double q[MAX_QUANTILES]; /* the pQ ops, as STRATA_OP_QUANTILE */
    size_t nq;
    strata_reduce_opts ro;
    const char *out;
    const char *by;
    const char *labels;
    const char *format; /* NULL: from the output's name */
    strata_zarr_opts zo;
    bool help;
} reduce_args;

/* A quantile op "pQ", Q a number in [0, 100]. */
static bool parse_quantile(const char *s, double *q) {
    char *end;
    if (s[0] != 'p' || !s[1] || !strchr("0123456789.", s[1])) {
        return false;
    }
    double v = strtod(s + 1, &end);
    if (*end || !(v >= 0 && v <= 100)) {
        return false;
    }
    *q = v / 100;
    return true;
}

/* The op list: names (see strata_op_from_name) and pQ quantiles, duplicates dropped. */
static int parse_op_list(reduce_args *a, const char *arg) {
    string_list l = {0};
    int rc = sl_split(&l, arg) ? 0 : EXIT_USAGE;
    a->nops = a->nq = 0;
    for (size_t i = 0; !rc && i < l.n; i++) {
        const char *name = l.items[i];
        strata_op op = STRATA_OP_QUANTILE;
        double q;
        if (name[0] == 'p' && strchr("0123456789.", name[1] ? name[1] : 'x')) {
            if (!parse_quantile(name, &q)) {
                cli_error(a->cmd, "quantile op '%s' needs a number in [0, 100] after p", name);
                rc = EXIT_USAGE;
                break;
            }
            bool dup = false;
            for (size_t k = 0; k < a->nq; k++) {
                dup = dup || a->q[k] == q;
            }
            if (!dup && a->nq == MAX_QUANTILES) {
                cli_error(a->cmd, "at most %d quantiles", MAX_QUANTILES);
                rc = EXIT_USAGE;
                break;
            }
            if (!dup) {
                a->q[a->nq++] = q;
            }
        } else if (strata_op_from_name(name, &op) != STRATA_OK || op == STRATA_OP_QUANTILE) {
            cli_error(a->cmd,
                      "unknown op '%s' (expected mean, sum, min, max, std, var, count, "
                      "median or pQ, a quantile: p10, p50, p2.5)",
                      name);
            rc = EXIT_USAGE;
            break;
        }
        bool dup = false;
        for (size_t k = 0; k < a->nops; k++) {
            dup = dup || a->ops[k] == op;
        }
        if (!dup) {
            a->ops[a->nops++] = op;
        }
    }
    sl_free(&l);
    a->ro.kernel.quantiles = a->q;
    a->ro.kernel.nquantiles = a->nq;
    return rc;
}

/* Files a run writes per group: one per op, one per quantile. */
static size_t outputs_per_group(const reduce_args *a) {
    size_t n = a->nq;
    for (size_t i = 0; i < a->nops; i++) {
        n += a->ops[i] != STRATA_OP_QUANTILE;
    }
    return n;
}

/* Output i of a group (in the order of outputs_per_group): its op name and path. */
static const char *output_at(const reduce_args *a, const strata_result *r, size_t g, size_t i,
                             char *name, size_t len) {
    for (size_t k = 0; k < a->nops; k++) {
        if (a->ops[k] == STRATA_OP_QUANTILE) {
            continue;
        }
        if (i-- == 0) {
            snprintf(name, len, "%s", strata_op_name(a->ops[k]));
            return strata_result_path(r, g, a->ops[k]);
        }
    }
    strata_quantile_name(a->q[i], name, len);
    return strata_result_quantile_path(r, g, i);
}

static int parse_option(void *ctx, int opt, const char *arg) {
    reduce_args *a = ctx;
    const char *cmd = a->cmd;
    switch (opt) {
    case OPT_OP:
        return parse_op_list(a, arg);
    case OPT_QUANTILE_METHOD:
        if (strata_quantile_method_from_name(arg, &a->ro.kernel.quantile_method) != STRATA_OK) {
            cli_error(cmd,
                      "--quantile-method takes linear, lower, higher, nearest or midpoint, "
                      "not '%s'",
                      arg);
            return EXIT_USAGE;
        }
        return 0;
    case OPT_MEMORY: {
        int mb;
        if (!parse_int(arg, &mb) || mb < 1) {
            cli_error(cmd, "--memory takes a number of MiB >= 1, not '%s'", arg);
            return EXIT_USAGE;
        }
        a->ro.kernel.memory_mb = (size_t)mb;
        return 0;
    }
    case OPT_SKIPNA:
        a->ro.kernel.skipna = 1;
        return 0;
    case OPT_NO_SKIPNA:
        a->ro.kernel.skipna = 0;
        return 0;
    case OPT_DDOF:
        if (!parse_int(arg, &a->ro.kernel.ddof)) {
            cli_error(cmd, "--ddof takes a non-negative integer, not '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    case OPT_DTYPE: {
        strata_dtype t = strata_dtype_from_name(arg);
        if (t == STRATA_INT64) {
            a->ro.output.sum_dtype = t;
        } else if (t == STRATA_FLOAT32 || t == STRATA_FLOAT64) {
            a->ro.output.float_dtype = t;
        } else {
            cli_error(cmd, "--dtype takes float32, float64 or int64, not '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    }
    case 'o':
        a->out = arg;
        return 0;
    case OPT_BY:
        a->by = arg;
        return 0;
    case OPT_LABELS:
        a->labels = arg;
        return 0;
    case OPT_COMPRESS:
        if (strata_codec_from_name(arg, &a->ro.output.codec) != STRATA_OK ||
            !strata_codec_for_gtiff(a->ro.output.codec)) {
            cli_error(cmd, "--compress takes zstd, deflate, lzw or none, not '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    case OPT_FORMAT:
        if (strcmp(arg, "gtiff") != 0 && strcmp(arg, "zarr") != 0) {
            cli_error(cmd, "--format takes gtiff or zarr, not '%s'", arg);
            return EXIT_USAGE;
        }
        a->format = arg;
        return 0;
    case OPT_ZVERSION:
        return zarr_version_opt(cmd, arg, &a->zo);
    case OPT_CODEC:
        return zarr_codec_opt(cmd, arg, &a->zo);
    case OPT_MODE:
        if (strcmp(arg, "w") != 0 && strcmp(arg, "w-") != 0) {
            cli_error(cmd, "--mode takes w or w- (a groupby store is written whole), not '%s'",
                      arg);
            return EXIT_USAGE;
        }
        a->zo.mode = arg[1] ? STRATA_ZARR_CREATE : STRATA_ZARR_OVERWRITE;
        return 0;
    case 'h':
        a->help = true;
        return 0;
    default:
        return EXIT_USAGE;
    }
}

static int parse_args(const char *cmd, int argc, char **argv, reduce_args *a) {
    static const struct option longopts[] = {
        SOURCE_LONG_OPTIONS,
        {"op", required_argument, NULL, OPT_OP},
        {"skipna", no_argument, NULL, OPT_SKIPNA},
        {"no-skipna", no_argument, NULL, OPT_NO_SKIPNA},
        {"ddof", required_argument, NULL, OPT_DDOF},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"output", required_argument, NULL, 'o'},
        {"by", required_argument, NULL, OPT_BY},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"compress", required_argument, NULL, OPT_COMPRESS},
        {"quantile-method", required_argument, NULL, OPT_QUANTILE_METHOD},
        {"memory", required_argument, NULL, OPT_MEMORY},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"zarr-version", required_argument, NULL, OPT_ZVERSION},
        {"codec", required_argument, NULL, OPT_CODEC},
        {"mode", required_argument, NULL, OPT_MODE},
        {"help", no_argument, NULL, 'h'},
        {0}};
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    strata_reduce_opts_init(&a->ro);
    strata_zarr_opts_init(&a->zo);
    int rc = parse_command_line(argc, argv, longopts, &a->so, parse_option, a);
    if (rc) {
        return rc;
    }
    a->ro.run.threads = a->so.threads;
    a->ro.run.io_concurrency = a->so.io_concurrency;
    return 0;
}

/* Under MPI: every rank computes its share of the tiles in memory, rank 0 assembles them and
 * writes the files. The outputs appear only once every rank succeeded. */
static int run_distributed(const char *cmd, reduce_args *a, strata_collection *c,
                           const char *const *labels, const char *pattern, strata_result **out) {
    a->ro.partition.index = dist_rank();
    a->ro.partition.count = dist_size();
    strata_status st = labels ? strata_groupby(c, labels, a->ops, a->nops, &a->ro, out)
                              : strata_reduce(c, a->ops, a->nops, &a->ro, out);
    if (!dist_all_ok(st == STRATA_OK, cmd, strata_errmsg()) ||
        !dist_merge_result(*out, a->ops, a->nops)) {
        return EXIT_RUN;
    }
    int rc = 0;
    if (dist_rank() == 0 && strata_result_to_gtiff(*out, c, &a->ro, pattern) != STRATA_OK) {
        rc = cli_fail(cmd);
    }
    return dist_all_ok(rc == 0, cmd, NULL) ? 0 : EXIT_RUN;
}

static int run_job(const char *cmd, reduce_args *a, strata_collection *c, const char *const *labels,
                   const char *pattern, strata_result **out) {
    if (dist_size() > 1) {
        return run_distributed(cmd, a, c, labels, pattern, out);
    }
    progress_line pl;
    progress_init(&pl, cmd, a->so.quiet);
    pl.c = c;
    a->ro.run.progress = progress_cb;
    a->ro.run.progress_user = &pl;
    cli_catch_signals();
    strata_status st = strata_reduce_to_gtiff(c, labels, a->ops, a->nops, &a->ro, pattern, out);
    cli_release_signals();
    progress_end(&pl);
    return st == STRATA_OK ? 0 : cli_fail(cmd);
}

int cmd_reduce(int argc, char **argv) {
    reduce_args a;
    int rc = parse_args("reduce", argc, argv, &a);
    if (!rc && a.help) {
        fputs(REDUCE_HELP, stdout);
    } else if (!rc && (a.nops == 0 || !a.out || !a.out[0])) {
        cli_error("reduce", "needs --op and -o OUT (see strata reduce --help)");
        rc = EXIT_USAGE;
    } else if (!rc && outputs_per_group(&a) > 1 && !strstr(a.out, "{op}")) {
        cli_error("reduce", "several ops need {op} in the output name, e.g. -o out_{op}.tif");
        rc = EXIT_USAGE;
    } else if (!rc) {
        strata_collection *c = open_shared_source("reduce", &a.so);
        strata_result *r = NULL;
        rc = c ? run_job("reduce", &a, c, NULL, a.out, &r) : source_fail_code(&a.so);
        for (size_t i = 0; !rc && i < outputs_per_group(&a); i++) {
            char name[64];
            if (!a.so.quiet && dist_rank() == 0) {
                printf("wrote %s\n", output_at(&a, r, 0, i, name, sizeof name));
            }
        }
        strata_result_free(r);
        strata_collection_free(c);
    }
    sl_free(&a.so.files);
    return rc;
}

/* ---- groupby ------------------------------------------------------------------------ */

/* jansson takes UTF-8 only: what it refuses, index.json cannot hold. */
static bool utf8_valid(const char *s) {
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* Why label s cannot name a file, or NULL when it can. */
static const char *label_problem(const char *s) {
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return "holds a control character";
        }
        blank = blank && *p == ' ';
    }
    if (!s[0] || blank) {
        return "is empty or only spaces";
    }
    if (s[0] == '.' || strchr(s, '/')) {
        return "starts with '.' or holds '/'";
    }
    return utf8_valid(s) ? NULL : "is not valid UTF-8 (index.json cannot hold it)";
}

/* Labels given on the command line, or derived from times with --by. */
static int group_labels(reduce_args *a, strata_collection *c, string_list *labels) {
    int rc = cli_labels("groupby", c, a->by, a->labels, labels);
    if (rc) {
        return rc;
    }
    if (a->by) {
        a->ro.groups.sort = 1; /* labels from times sort as dates do */
    }
    for (size_t t = 0; t < labels->n; t++) {
        const char *why = label_problem(labels->items[t]);
        if (why) {
            cli_error("groupby", "label '%s' of timestep %zu (%s) cannot name a file: it %s",
                      labels->items[t], t, strata_collection_path(c, t), why);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* index.json is written last, under a temporary name: its presence means the run ended. */
static int write_index(const reduce_args *a, const char *dir, const strata_result *r) {
    json_t *groups = json_array(), *ops = json_array();
    char name[64];
    for (size_t i = 0; i < outputs_per_group(a); i++) {
        output_at(a, r, 0, i, name, sizeof name);
        json_array_append_new(ops, json_string(name));
    }
    for (size_t g = 0; g < strata_result_groups(r); g++) {
        json_t *files = json_object();
        for (size_t i = 0; i < outputs_per_group(a); i++) {
            const char *path = output_at(a, r, g, i, name, sizeof name);
            json_object_set_new(files, name, json_string(base_name(path)));
        }
        json_array_append_new(groups, json_pack("{s:s,s:I,s:o}", "label", strata_result_label(r, g),
                                                "count", (json_int_t)strata_result_group_size(r, g),
                                                "files", files));
    }
    json_t *index = json_pack("{s:o,s:o}", "groups", groups, "ops", ops);
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/index.json", dir);
    snprintf(tmp, sizeof tmp, "%s.part", path);
    errno = 0;
    int bad = !index || json_dump_file(index, tmp, JSON_INDENT(2)) != 0 || rename(tmp, path) != 0;
    json_decref(index);
    if (bad) {
        unlink(tmp);
        cli_error("groupby", "%s: cannot write: %s", path,
                  errno ? strerror(errno) : "a name is not valid UTF-8");
        return EXIT_RUN;
    }
    return 0;
}

/* OUTDIR is created only once the labels are known good, and index.json must not be an
 * input; made is set when this run created the folder. */
static int prepare_outdir(const char *dir, const strata_collection *c, bool *made) {
    char index[4096];
    snprintf(index, sizeof index, "%s/index.json", dir);
    struct stat sb;
    *made = false;
    if (dist_rank() != 0) {
        return 0;
    }
    if (strata_collection_check_output(c, index) != STRATA_OK) {
        return cli_fail("groupby");
    }
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        cli_error("groupby", "%s: is not a folder (-o names the output folder)", dir);
        return EXIT_RUN;
    }
    if (mkdir(dir, 0777) == 0) {
        *made = true;
    } else if (errno != EEXIST) {
        cli_error("groupby", "%s: cannot create the output folder: %s", dir, strerror(errno));
        return EXIT_RUN;
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool zarr_output(const reduce_args *a) {
    if (a->format) {
        return strcmp(a->format, "zarr") == 0;
    }
    return ends_with(a->out, ".zarr") || ends_with(a->out, ".zarr/");
}

/* One store for every group and op; the store appears only once the run succeeded. */
static int groupby_zarr(reduce_args *a, strata_collection *c, const string_list *labels) {
    if (dist_size() > 1) {
        cli_error("groupby", "a Zarr output is written by one process; run without MPI or "
                             "write GeoTIFFs");
        return EXIT_USAGE;
    }
    progress_line pl;
    progress_init(&pl, "groupby", a->so.quiet);
    a->ro.run.progress = progress_cb;
    a->ro.run.progress_user = &pl;
    cli_catch_signals();
    strata_result *r = NULL;
    strata_status st =
        strata_groupby_to_zarr(c, (const char *const *)labels->items, a->ops, a->nops, &a->ro,
                               a->by ? a->by : "group", a->out, &a->zo, &r);
    cli_release_signals();
    progress_end(&pl);
    if (st != STRATA_OK) {
        return cli_fail("groupby");
    }
    if (!a->so.quiet) {
        printf("wrote %s (Zarr v%d, %zu groups along '%s', codec %s)\n", a->out, a->zo.zarr_version,
               strata_result_groups(r), a->by ? a->by : "group", strata_codec_name(a->zo.codec));
    }
    strata_result_free(r);
    return 0;
}

static int groupby_run(reduce_args *a) {
    strata_collection *c = open_shared_source("groupby", &a->so);
    if (!c) {
        return source_fail_code(&a->so);
    }
    string_list labels = {0};
    strata_result *r = NULL;
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/{label}%s.tif", a->out,
             outputs_per_group(a) > 1 ? "_{op}" : "");
    bool made = false;
    int rc = group_labels(a, c, &labels);
    if (!rc && zarr_output(a)) {
        rc = groupby_zarr(a, c, &labels);
        sl_free(&labels);
        strata_collection_free(c);
        return rc;
    }
    if (!rc) {
        rc = prepare_outdir(a->out, c, &made);
    }
    if (!rc) {
        rc = run_job("groupby", a, c, (const char *const *)labels.items, pattern, &r);
    }
    if (rc && made) {
        rmdir(a->out); /* only if still empty: a failed run leaves no folder it made */
    }
    if (!rc && dist_rank() == 0) {
        rc = write_index(a, a->out, r);
    }
    char name[64];
    for (size_t g = 0; !rc && !a->so.quiet && dist_rank() == 0 && g < strata_result_groups(r);
         g++) {
        printf("%-10s %4zu timesteps -> %s\n", strata_result_label(r, g),
               strata_result_group_size(r, g), output_at(a, r, g, 0, name, sizeof name));
    }
    strata_result_free(r);
    sl_free(&labels);
    strata_collection_free(c);
    return rc;
}

int cmd_groupby(int argc, char **argv) {
    reduce_args a;
    int rc = parse_args("groupby", argc, argv, &a);
    if (!rc && a.help) {
        fputs(GROUPBY_HELP, stdout);
    } else if (!rc && (a.nops == 0 || !a.out || !a.out[0] || (!a.by == !a.labels))) {
        cli_error("groupby", "needs --op, -o OUTDIR and one of --by or --labels (see strata "
                             "groupby --help)");
        rc = EXIT_USAGE;
    } else if (!rc) {
        rc = groupby_run(&a);
    }
    sl_free(&a.so.files);
    return rc;
}
