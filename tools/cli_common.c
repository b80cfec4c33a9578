/* Argument helpers, source options and the progress line shared by the commands. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void sl_free(string_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

bool sl_push(string_list *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) {
            return false;
        }
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n] = strdup(s);
    return l->items[l->n++] != NULL;
}

/* A relative path of a list file names a file beside the list, as in most tools' lists;
 * absolute paths, URLs and GDAL's /vsi paths are kept. */
static bool push_path(string_list *l, const char *list, const char *line) {
    const char *slash = strrchr(list, '/');
    if (!slash || line[0] == '/' || strstr(line, "://")) {
        return sl_push(l, line);
    }
    size_t dir = (size_t)(slash - list + 1), n = dir + strlen(line) + 1;
    char *joined = malloc(n);
    if (!joined) {
        return false;
    }
    snprintf(joined, n, "%.*s%s", (int)dir, list, line);
    bool ok = sl_push(l, joined);
    free(joined);
    return ok;
}

static bool read_lines(string_list *l, const char *path, bool paths) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "strata: %s: cannot read list: %s\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len > 0 && line[0] != '#') {
            ok = paths ? push_path(l, path, line) : sl_push(l, line);
        }
    }
    free(line);
    fclose(f);
    return ok;
}

bool sl_add_arg(string_list *l, const char *arg) {
    return arg[0] == '@' ? read_lines(l, arg + 1, true) : sl_push(l, arg);
}

bool sl_split(string_list *l, const char *arg) {
    if (arg[0] == '@') {
        return read_lines(l, arg + 1, false);
    }
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = strndup(p, len);
        bool ok = item && sl_push(l, item);
        free(item);
        if (!ok) {
            return false;
        }
        if (!comma) {
            return true;
        }
        p = comma + 1;
    }
}

bool parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX) {
        return false;
    }
    *out = (int)v;
    return true;
}

/* Under MPI every rank sees the same command line and fails the same way: rank 0 speaks.
 * Failures of one rank alone are reported through dist_all_ok. */
void cli_error(const char *cmd, const char *fmt, ...) {
    if (dist_rank() != 0) {
        return;
    }
    va_list ap;
    fprintf(stderr, "strata %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig) {
    caught_signal = sig;
}

void cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_release_signals(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int cli_fail(const char *cmd) {
    if (caught_signal) {
        cli_error(cmd, "interrupted by %s: stopped, and removed what this run had written",
                  caught_signal == SIGINT ? "SIGINT" : "SIGTERM");
        return 128 + caught_signal;
    }
    cli_error(cmd, "%s", strata_errmsg()[0] ? strata_errmsg() : "failed");
    return EXIT_RUN;
}

/* ---- STAC source options ------------------------------------------------------------- */

static bool parse_bbox(const char *arg, double *b) {
    const char *p = arg;
    for (int i = 0; i < 4; i++) {
        char *end;
        errno = 0;
        b[i] = strtod(p, &end);
        if (errno || end == p || *end != (i < 3 ? ',' : '\0')) {
            return false;
        }
        p = end + 1;
    }
    return b[1] <= b[3];
}

static int stac_opt(source_opts *so, int opt, const char *arg) {
    switch (opt) {
    case OPT_STAC:
        so->stac = arg;
        return 1;
    case OPT_KEEP_ORDER:
        so->keep_order = true;
        return 1;
    case OPT_ASSET:
        if (so->nassets == (int)(sizeof so->assets / sizeof so->assets[0])) {
            fprintf(stderr, "strata: too many --asset options\n");
            return -1;
        }
        so->assets[so->nassets++] = arg;
        return 1;
    case OPT_HREF_REPLACE:
        if (!strchr(arg, '=') || arg[0] == '=' ||
            so->nhref_replace == (int)(sizeof so->href_replace / sizeof so->href_replace[0])) {
            fprintf(stderr, "strata: --href-replace takes FROM=TO (at most 8), not '%s'\n", arg);
            return -1;
        }
        so->href_replace[so->nhref_replace++] = arg;
        return 1;
    case OPT_BBOX:
        so->has_bbox = parse_bbox(arg, so->bbox);
        if (!so->has_bbox) {
            fprintf(stderr,
                    "strata: --bbox takes minx,miny,maxx,maxy (lon/lat, miny <= maxy), "
                    "not '%s'\n",
                    arg);
            return -1;
        }
        return 1;
    case OPT_MAX_ITEMS:
        if (!parse_int(arg, &so->max_items) || so->max_items < 1) {
            fprintf(stderr, "strata: --max-items takes a positive integer, not '%s'\n", arg);
            return -1;
        }
        return 1;
    default:
        return stac_search_opt(so, opt, arg);
    }
}

int source_opt(source_opts *so, int opt, const char *arg) {
    int stac = stac_opt(so, opt, arg);
    if (stac) {
        return stac;
    }
    int grid = grid_opt(so, opt, arg);
    if (grid) {
        return grid;
    }
    switch (opt) {
    case OPT_TIMES:
        so->times = arg;
        return 1;
    case OPT_TIME_PATTERN:
        so->time_pattern = arg;
        return 1;
    case 'q':
        so->quiet = true;
        return 1;
    case OPT_THREADS:
    case OPT_CACHE: {
        int v;
        if (!parse_int(arg, &v) || (opt == OPT_CACHE && v < 1)) {
            fprintf(stderr, "strata: --%s takes a %s integer, not '%s'\n",
                    opt == OPT_THREADS ? "threads" : "cache",
                    opt == OPT_THREADS ? "non-negative" : "positive", arg);
            return -1;
        }
        *(opt == OPT_THREADS ? &so->threads : &so->cache) = v;
        return 1;
    }
    case OPT_IO_CONCURRENCY:
        if (!parse_int(arg, &so->io_concurrency) || so->io_concurrency < 1 ||
            so->io_concurrency > 1024) {
            fprintf(stderr, "strata: --io-concurrency takes an integer from 1 to 1024, not '%s'\n",
                    arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int parse_command_line(int argc, char **argv, const struct option *longopts, source_opts *so,
                       int (*handle)(void *ctx, int opt, const char *arg), void *ctx) {
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:q", longopts, NULL)) != -1) {
        int used = source_opt(so, opt, optarg);
        int rc = used < 0 ? EXIT_USAGE : used ? 0 : handle(ctx, opt, optarg);
        if (rc) {
            return rc;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!sl_add_arg(&so->files, argv[i])) {
            return EXIT_RUN;
        }
    }
    return 0;
}

static bool apply_times(const char *cmd, strata_collection *c, source_opts *so) {
    if (so->times) {
        string_list t = {0};
        bool ok = sl_split(&t, so->times);
        if (ok && t.n != strata_collection_size(c)) {
            cli_error(cmd, "--times gives %zu times for %zu files: give exactly one time per file",
                      t.n, strata_collection_size(c));
            so->fail_code = EXIT_USAGE;
            ok = false;
        } else if (ok && strata_collection_set_times_iso(c, (const char *const *)t.items)) {
            cli_fail(cmd);
            ok = false;
        }
        sl_free(&t);
        return ok;
    }
    strata_status st = STRATA_OK;
    if (so->time_pattern && (st = strata_collection_set_times_pattern(c, so->time_pattern))) {
        cli_fail(cmd);
        /* a pattern that cannot give dates is the command line's fault, not the files' */
        so->fail_code = st == STRATA_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_RUN;
        return false;
    }
    return true;
}

/* --href-replace: the first FROM that starts the href is swapped for its TO. */
static char *replace_prefix(const char *href, void *user) {
    const source_opts *so = user;
    for (int i = 0; i < so->nhref_replace; i++) {
        const char *rule = so->href_replace[i], *eq = strchr(rule, '=');
        size_t from = (size_t)(eq - rule);
        if (strncmp(href, rule, from) == 0) {
            size_t to = strlen(eq + 1), rest = strlen(href + from);
            char *out = malloc(to + rest + 1);
            if (out) {
                memcpy(out, eq + 1, to);
                memcpy(out + to, href + from, rest + 1);
            }
            return out;
        }
    }
    return NULL;
}

static bool stac_options_given(const source_opts *so) {
    return so->nassets || so->keep_order || so->has_bbox || so->max_items || so->nhref_replace;
}

static strata_collection *open_stac(const char *cmd, source_opts *so) {
    string_list keys = {0};
    bool ok = true;
    for (int i = 0; ok && i < so->nassets; i++) {
        ok = sl_split(&keys, so->assets[i]);
    }
    strata_stac_opts o;
    strata_stac_opts_init(&o);
    o.assets = (const char *const *)keys.items;
    o.nassets = keys.n;
    o.keep_order = so->keep_order;
    o.has_bbox = so->has_bbox;
    memcpy(o.bbox, so->bbox, sizeof o.bbox);
    o.max_items = (size_t)so->max_items;
    o.href_rewrite = so->nhref_replace ? replace_prefix : NULL;
    o.href_user = so;
    strata_grid_opts grid;
    o.grid = grid_from_opts(so, &grid) ? &grid : NULL;
    strata_collection *c = NULL;
    if (!ok) {
        cli_error(cmd, "out of memory");
    } else if (so->search.url) {
        c = open_stac_search(cmd, so, &o);
    } else if (strata_collection_from_stac_file(so->stac, &o, &c) != STRATA_OK) {
        cli_fail(cmd);
    }
    sl_free(&keys);
    return c;
}

static strata_collection *open_files_or_stac(const char *cmd, source_opts *so) {
    strata_collection *c = NULL;
    so->fail_code = EXIT_USAGE;
    if ((so->stac || so->search.url) && so->files.n) {
        cli_error(cmd, "usage: give input files or --stac ITEMS, not both");
    } else if (so->stac && so->search.url) {
        cli_error(cmd, "usage: give --stac ITEMS or --stac-search URL, not both");
    } else if (stac_search_filters_given(so) && !so->search.url) {
        cli_error(cmd, "usage: --collections, --datetime, --query, --filter, --limit, --sortby "
                       "and --header need --stac-search URL");
    } else if (stac_options_given(so) && !so->stac && !so->search.url) {
        cli_error(cmd, "usage: --asset, --keep-order, --bbox, --max-items and --href-replace "
                       "need --stac ITEMS");
    } else if (so->files.n == 0 && !so->stac && !so->search.url) {
        cli_error(cmd, "no input files (give paths or @LIST, or --stac ITEMS)");
    } else {
        so->fail_code = EXIT_RUN;
        if (so->stac || so->search.url) {
            c = open_stac(cmd, so);
        } else if (strata_collection_from_files((const char *const *)so->files.items, so->files.n,
                                                &c) != STRATA_OK) {
            cli_fail(cmd);
        }
    }
    return c;
}

int source_fail_code(const source_opts *so) {
    return so->fail_code ? so->fail_code : EXIT_RUN;
}

strata_collection *open_source(const char *cmd, source_opts *so) {
    strata_collection *c = open_files_or_stac(cmd, so);
    if (!c) {
        return NULL;
    }
    so->fail_code = EXIT_RUN;
    bool cache_ok = !so->cache || strata_collection_set_cache_capacity(c, so->cache) == STRATA_OK;
    if (!cache_ok || !apply_times(cmd, c, so) || !apply_grid(cmd, c, so)) {
        if (!cache_ok) {
            cli_fail(cmd);
        }
        strata_collection_free(c);
        return NULL;
    }
    int bands = strata_meta_bands(strata_collection_meta(c));
    if (strcmp(cmd, "info") != 0 && strata_collection_size(c) == 1 && bands > 1) {
        /* A NetCDF variable with time as bands (NETCDF:"f.nc":pr) opens as one timestep. */
        fprintf(stderr,
                "strata %s: warning: %s is the only timestep and has %d bands; time runs over "
                "files, not bands: if its bands are timesteps, give one file per timestep "
                "(e.g. gdal_translate -of VRT -b N for each band, see README)\n",
                cmd, strata_collection_path(c, 0), bands);
    }
    return c;
}

bool parse_ops(const char *cmd, const char *arg, strata_op *ops, size_t *nops) {
    string_list l = {0};
    bool ok = sl_split(&l, arg);
    *nops = 0;
    for (size_t i = 0; ok && i < l.n; i++) {
        strata_op op;
        if (strata_op_from_name(l.items[i], &op) != STRATA_OK) {
            cli_error(cmd, "%s", strata_errmsg());
            ok = false;
        } else if (*nops < STRATA_OP_COUNT_OF_OPS) {
            bool dup = false;
            for (size_t k = 0; k < *nops; k++) {
                dup = dup || ops[k] == op;
            }
            if (!dup) {
                ops[(*nops)++] = op;
            }
        }
    }
    sl_free(&l);
    return ok && *nops > 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_init(progress_line *p, const char *what, bool quiet) {
    p->what = what;
    p->c = NULL;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = now_seconds();
}

int progress_cb(double fraction, const char *message, void *user) {
    progress_line *p = user;
    if (caught_signal) {
        return 0; /* stop: the library removes its temporary outputs */
    }
    if (!p->enabled) {
        return 1;
    }
    double dt = now_seconds() - p->start;
    double left = fraction > 0 ? dt * (1 - fraction) / fraction : 0;
    uint64_t net = 0;
    int in_flight = 0;
    strata_collection_io_stats(p->c, &net, &in_flight);
    if (net > 0) {
        fprintf(stderr, "\r%s: %s  net %.0f MB/s, %d requests  %.0f s left   ", p->what, message,
                dt > 0 ? (double)net / dt / 1e6 : 0, in_flight, left);
    } else {
        fprintf(stderr, "\r%s: %s  %.0f s left   ", p->what, message, left);
    }
    return 1;
}

void progress_end(progress_line *p) {
    if (p->enabled) {
        fprintf(stderr, "\r%*s\r", 90, "");
    }
}

/* Rank 0 opens the template; the collection reaches the other ranks as its JSON form, so
 * no rank opens a file it does not read. */
strata_collection *open_shared_source(const char *cmd, source_opts *so) {
    if (dist_size() == 1) {
        return open_source(cmd, so);
    }
    strata_collection *c = NULL;
    char *json = NULL;
    if (dist_rank() == 0 && (c = open_source(cmd, so)) &&
        strata_collection_to_json(c, &json) != STRATA_OK) {
        cli_fail(cmd);
    }
    char *shared = dist_bcast_string(json);
    strata_free(json);
    if (dist_rank() != 0 && shared && strata_collection_from_json(shared, &c) != STRATA_OK) {
        c = NULL;
    }
    if (!dist_all_ok(shared && c, cmd, dist_rank() == 0 ? NULL : strata_errmsg())) {
        strata_collection_free(c);
        c = NULL;
    }
    free(shared);
    return c;
}

int cli_labels(const char *cmd, strata_collection *c, const char *by, const char *list,
               string_list *labels) {
    size_t n = strata_collection_size(c);
    if (by) {
        char **derived = NULL;
        if (strata_labels_from_times(c, by, &derived) != STRATA_OK) {
            return cli_fail(cmd);
        }
        for (size_t t = 0; t < n; t++) {
            sl_push(labels, derived[t]);
        }
        strata_labels_free(derived, n);
    } else if (!sl_split(labels, list)) {
        return EXIT_RUN;
    }
    if (labels->n != n) {
        cli_error(cmd, "%zu labels for %zu files: give exactly one label per file", labels->n, n);
        return EXIT_USAGE;
    }
    return 0;
}

int zarr_version_opt(const char *cmd, const char *arg, strata_zarr_opts *zo) {
    if (strcmp(arg, "2") != 0 && strcmp(arg, "3") != 0) {
        cli_error(cmd, "--zarr-version takes 2 or 3, not '%s'", arg);
        return EXIT_USAGE;
    }
    zo->zarr_version = arg[0] - '0';
    return 0;
}

int zarr_codec_opt(const char *cmd, const char *arg, strata_zarr_opts *zo) {
    if (strata_codec_from_name(arg, &zo->codec) != STRATA_OK || !strata_codec_for_zarr(zo->codec)) {
        cli_error(cmd, "unknown codec '%s' (one of blosc-lz4, blosc-zstd, zstd, zlib, none)", arg);
        return EXIT_USAGE;
    }
    return 0;
}
