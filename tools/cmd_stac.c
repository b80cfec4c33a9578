/* STAC API search from the command line: the --stac-search options every reading command
 * takes, and `strata stac search URL -o items.json`, which keeps the items a search found
 * (searches are not reproducible, files are). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: strata stac search URL [OPTIONS] -o ITEMS.json\n"
    "  Searches the STAC API at URL (its landing page or /search endpoint), follows the\n"
    "  result pages and writes the items as one ItemCollection (absolute hrefs), which\n"
    "  --stac ITEMS.json reads later with the same items.\n"
    "  -o FILE         the ItemCollection to write (replaced only when the search succeeds)\n"
    "  --bbox BOX      minx,miny,maxx,maxy (lon/lat)\n"
    "  --max-items N   stop after N items\n" STAC_SEARCH_HELP
    "  -q, --quiet     no progress line\n";

int stac_search_opt(source_opts *so, int opt, const char *arg) {
    switch (opt) {
    case OPT_STAC_SEARCH:
        so->search.url = arg;
        return 1;
    case OPT_COLLECTIONS:
        so->search.collections = arg;
        return 1;
    case OPT_DATETIME:
        so->search.datetime = arg;
        return 1;
    case OPT_QUERY:
        so->search.query = arg;
        return 1;
    case OPT_FILTER:
        so->search.filter = arg;
        return 1;
    case OPT_SORTBY:
        so->search.sortby = arg;
        return 1;
    case OPT_LIMIT:
        if (!parse_int(arg, &so->search.limit) || so->search.limit < 1) {
            fprintf(stderr, "strata: --limit takes a positive integer, not '%s'\n", arg);
            return -1;
        }
        return 1;
    case OPT_HEADER:
        /* The value may be a secret: never echoed. */
        if (!strchr(arg, ':') || so->search.nheaders == (int)(sizeof so->search.headers /
                                                              sizeof so->search.headers[0])) {
            fprintf(stderr, "strata: --header takes 'Name: value' (at most 16)\n");
            return -1;
        }
        so->search.headers[so->search.nheaders++] = arg;
        return 1;
    default:
        return 0;
    }
}

bool stac_search_filters_given(const source_opts *so) {
    return so->search.collections || so->search.datetime || so->search.query || so->search.filter ||
           so->search.sortby || so->search.limit || so->search.nheaders;
}

/* The progress line: on a terminal, as the tiles' progress line. */
typedef struct search_progress {
    bool enabled;
    size_t pages, items;
    long long matched;
} search_progress;

static int on_page(size_t pages, size_t items, long long matched, void *user) {
    search_progress *p = user;
    p->pages = pages;
    p->items = items;
    p->matched = matched;
    if (p->enabled) {
        fprintf(stderr, "\rSTAC search: %zu page%s, %zu items", pages, pages == 1 ? "" : "s",
                items);
        if (matched >= 0) {
            fprintf(stderr, " (%lld matched)", matched);
        }
        fputs("   ", stderr);
    }
    return 1;
}

static void progress_done(search_progress *p) {
    if (p->enabled) {
        fprintf(stderr, "\r%*s\r", 60, "");
    }
}

/* Fills o from so; the collections list is kept in cols (freed by the caller). */
static bool search_opts(const source_opts *so, string_list *cols, strata_stac_search_opts *o,
                        search_progress *prog) {
    strata_stac_search_opts_init(o);
    if (so->search.collections && !sl_split(cols, so->search.collections)) {
        return false;
    }
    o->collections = (const char *const *)cols->items;
    o->ncollections = cols->n;
    o->has_bbox = so->has_bbox;
    memcpy(o->bbox, so->bbox, sizeof o->bbox);
    o->datetime = so->search.datetime;
    o->query = so->search.query;
    o->filter = so->search.filter;
    o->sortby = so->search.sortby;
    o->limit = (size_t)so->search.limit;
    o->max_items = (size_t)so->max_items;
    o->headers = so->search.headers;
    o->nheaders = (size_t)so->search.nheaders;
    o->on_page = on_page;
    o->on_page_user = prog;
    return true;
}

strata_collection *open_stac_search(const char *cmd, source_opts *so, const strata_stac_opts *o) {
    string_list cols = {0};
    strata_stac_search_opts s;
    search_progress prog = {!so->quiet && isatty(STDERR_FILENO), 0, 0, -1};
    strata_collection *c = NULL;
    if (!search_opts(so, &cols, &s, &prog)) {
        cli_error(cmd, "out of memory");
    } else if (strata_collection_from_stac_search(so->search.url, &s, o, &c) != STRATA_OK) {
        progress_done(&prog);
        cli_fail(cmd);
    } else {
        progress_done(&prog);
    }
    sl_free(&cols);
    return c;
}

/* Writes text to path through a temporary file in the same folder and a rename: a failed
 * run leaves the previous file as it was. */
static bool write_atomic(const char *path, const char *text) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        return false;
    }
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int saved = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        errno = saved;
        return false;
    }
    mode_t mask = umask(0); /* mkstemp makes the file private; a result is not */
    umask(mask);
    bool ok = fchmod(fd, 0666 & ~mask) == 0 && fputs(text, f) >= 0 && fputc('\n', f) != EOF &&
              fflush(f) == 0 && fsync(fd) == 0;
    ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    int saved = errno;
    if (!ok) {
        unlink(tmp);
    }
    free(tmp);
    errno = saved;
    return ok;
}

typedef struct search_cmd {
    const char *out;
} search_cmd;

static int handle(void *ctx, int opt, const char *arg) {
    search_cmd *sc = ctx;
    switch (opt) {
    case 'o':
        sc->out = arg;
        return 0;
    case 'h':
        printf("%s", usage_text);
        return -1;
    default:
        fprintf(stderr, "%s", usage_text);
        return EXIT_USAGE;
    }
}

static bool only_search_options(const source_opts *so) {
    return !so->stac && !so->nassets && !so->keep_order && !so->nhref_replace && !so->times &&
           !so->time_pattern;
}

static int run_search(const char *url, const char *out, source_opts *so) {
    string_list cols = {0};
    strata_stac_search_opts s;
    search_progress prog = {!so->quiet && isatty(STDERR_FILENO), 0, 0, -1};
    char *json = NULL;
    int rc = EXIT_RUN;
    if (!search_opts(so, &cols, &s, &prog)) {
        cli_error("stac search", "out of memory");
    } else if (strata_stac_search(url, &s, &json) != STRATA_OK) {
        progress_done(&prog);
        cli_fail("stac search");
    } else if (progress_done(&prog), !write_atomic(out, json)) {
        cli_error("stac search", "%s: cannot write: %s", out, strerror(errno));
    } else {
        rc = 0;
        if (!so->quiet) {
            fprintf(stderr, "strata stac search: %zu page%s, %zu items", prog.pages,
                    prog.pages == 1 ? "" : "s", prog.items);
            if (prog.matched >= 0) {
                fprintf(stderr, " (%lld matched)", prog.matched);
            }
            fprintf(stderr, " -> %s\n", out);
        }
    }
    strata_free(json);
    sl_free(&cols);
    return rc;
}

int cmd_stac(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "search") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fprintf(help ? stdout : stderr, "%s", usage_text);
        return help ? 0 : EXIT_USAGE;
    }
    static const struct option longopts[] = {SOURCE_LONG_OPTIONS,
                                             {"help", no_argument, NULL, 'h'},
                                             {"output", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    source_opts so = {0};
    search_cmd sc = {0};
    int rc = parse_command_line(argc - 1, argv + 1, longopts, &so, handle, &sc);
    const char *url = so.search.url ? so.search.url : so.files.n ? so.files.items[0] : NULL;
    if (rc) {
        rc = rc < 0 ? 0 : rc;
    } else if (!url || so.files.n > (so.search.url ? 0u : 1u) || !sc.out ||
               !only_search_options(&so)) {
        fprintf(stderr, "strata stac search: usage: one API URL and -o ITEMS.json%s\n",
                only_search_options(&so) ? "" : " (--asset, --stac, --times... do not apply)");
        rc = EXIT_USAGE;
    } else {
        rc = run_search(url, sc.out, &so);
    }
    sl_free(&so.files);
    return rc;
}
