/* Argument helpers, source options and the progress line shared by the commands. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
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

static bool read_lines(string_list *l, const char *path) {
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
            ok = sl_push(l, line);
        }
    }
    free(line);
    fclose(f);
    return ok;
}

bool sl_add_arg(string_list *l, const char *arg) {
    return arg[0] == '@' ? read_lines(l, arg + 1) : sl_push(l, arg);
}

bool sl_split(string_list *l, const char *arg) {
    if (arg[0] == '@') {
        return read_lines(l, arg + 1);
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

int cli_fail(const char *cmd) {
    cli_error(cmd, "%s", strata_errmsg()[0] ? strata_errmsg() : "failed");
    return EXIT_RUN;
}

int source_opt(source_opts *so, int opt, const char *arg) {
    switch (opt) {
    case OPT_TIMES: so->times = arg; return 1;
    case OPT_TIME_PATTERN: so->time_pattern = arg; return 1;
    case 'q': so->quiet = true; return 1;
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
    default: return 0;
    }
}

static bool apply_times(const char *cmd, strata_collection *c, source_opts *so) {
    if (so->times) {
        string_list t = {0};
        bool ok = sl_split(&t, so->times);
        if (ok && t.n != strata_collection_size(c)) {
            cli_error(cmd, "--times gives %zu times for %zu files", t.n,
                      strata_collection_size(c));
            ok = false;
        } else if (ok && strata_collection_set_times_iso(c, (const char *const *)t.items)) {
            cli_fail(cmd);
            ok = false;
        }
        sl_free(&t);
        return ok;
    }
    if (so->time_pattern && strata_collection_set_times_pattern(c, so->time_pattern)) {
        cli_fail(cmd);
        return false;
    }
    return true;
}

strata_collection *open_source(const char *cmd, source_opts *so) {
    if (so->files.n == 0) {
        cli_error(cmd, "no input files (give paths or @LIST)");
        return NULL;
    }
    strata_collection *c = NULL;
    if (strata_collection_from_files((const char *const *)so->files.items, so->files.n, &c)) {
        cli_fail(cmd);
        return NULL;
    }
    if ((so->cache && strata_collection_set_cache_capacity(c, so->cache)) ||
        !apply_times(cmd, c, so)) {
        if (so->cache) {
            cli_fail(cmd);
        }
        strata_collection_free(c);
        return NULL;
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
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = now_seconds();
}

int progress_cb(size_t done, size_t total, uint64_t bytes, void *user) {
    progress_line *p = user;
    if (!p->enabled) {
        return 0;
    }
    double dt = now_seconds() - p->start;
    double rate = dt > 0 ? bytes / dt / 1e6 : 0;
    double left = done ? dt * (double)(total - done) / (double)done : 0;
    fprintf(stderr, "\r%s: %zu/%zu tiles  %.0f MB/s  %.0f s left   ", p->what, done, total, rate,
            left);
    return 0;
}

void progress_end(progress_line *p) {
    if (p->enabled) {
        fprintf(stderr, "\r%*s\r", 60, "");
    }
}
