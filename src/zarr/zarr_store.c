/* The store on disk: atomic file writes, folders, and preparing the store for a mode.
 * A store is a folder; its root metadata (.zmetadata and .zgroup in v2, zarr.json in v3) is
 * what makes it open, so it is written last and deleted first. */
#include "zarr/zarr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const ST_ZARR_MARKER = ".strata-incomplete";
const char *const ST_ZARR_NEW_SUFFIX = ".strata-new";

/* Root files that make a folder open as a Zarr store (v2 consolidated, v2, v3). */
static const char *const ROOT_META[] = {".zmetadata", ".zgroup", "zarr.json", ".zarray"};
enum { NROOT_META = sizeof ROOT_META / sizeof ROOT_META[0] };

static atomic_uint tmp_counter;
static atomic_long tmp_pid; /* getpid once: it is a system call per chunk otherwise */

char *st_zarr_path(const char *store, const char *a, const char *b) {
    size_t n = strlen(store) + (a ? strlen(a) + 1 : 0) + (b ? strlen(b) + 1 : 0) + 1;
    char *p = st_malloc(n);
    if (p) {
        snprintf(p, n, "%s%s%s%s%s", store, a ? "/" : "", a ? a : "", b ? "/" : "", b ? b : "");
    }
    return p;
}

static strata_status write_all(int fd, const char *path, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return st_fail(STRATA_ERR_WRITE, "%s: cannot write: %s", path,
                           w < 0 ? strerror(errno) : "no space");
        }
        p += w;
        len -= (size_t)w;
    }
    return STRATA_OK;
}

/* The temporary name is hidden (a leading dot) and unique per process and call, so two
 * workers never share one, and a reader listing chunks never mistakes it for a chunk. */
static char *temp_name(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    size_t n = strlen(path) + 48;
    char *t = st_malloc(n);
    long pid = atomic_load(&tmp_pid);
    if (!pid) {
        pid = (long)getpid();
        atomic_store(&tmp_pid, pid);
    }
    if (t) {
        snprintf(t, n, "%.*s.%s.tmp%ld.%u", (int)dir, path, path + dir, pid,
                 atomic_fetch_add(&tmp_counter, 1));
    }
    return t;
}

strata_status st_zarr_write_atomic(const char *path, const void *buf, size_t len) {
    char *tmp = temp_name(path);
    if (!tmp) {
        return st_nomem("file name");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        strata_status st = st_fail(STRATA_ERR_WRITE, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    strata_status st = write_all(fd, path, buf, len);
    if (close(fd) != 0 && st == STRATA_OK) {
        st = st_fail(STRATA_ERR_WRITE, "%s: cannot write: %s", path, strerror(errno));
    }
    if (st == STRATA_OK && rename(tmp, path) != 0) {
        st = st_fail(STRATA_ERR_WRITE, "%s: cannot rename into place: %s", path, strerror(errno));
    }
    if (st != STRATA_OK) {
        unlink(tmp);
    }
    free(tmp);
    return st;
}

strata_status st_zarr_write_json(const char *path, const json_t *doc) {
    char *text =
        doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_ENSURE_ASCII) : NULL;
    if (!text) {
        return st_nomem("Zarr metadata");
    }
    size_t len = strlen(text);
    strata_status st = st_zarr_write_atomic(path, text, len);
    free(text);
    return st;
}

strata_status st_zarr_mkdir(const char *path) {
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        return st_fail(STRATA_ERR_WRITE, "%s: cannot create folder: %s", path, strerror(errno));
    }
    return STRATA_OK;
}

strata_status st_zarr_make_parents(const char *path) {
    char *p = st_strdup(path);
    if (!p) {
        return st_nomem("path");
    }
    strata_status st = STRATA_OK;
    char *last = strrchr(p, '/');
    for (char *s = strchr(p + 1, '/'); s && s <= last && st == STRATA_OK; s = strchr(s + 1, '/')) {
        *s = '\0';
        st = st_zarr_mkdir(p);
        *s = '/';
    }
    free(p);
    return st;
}

strata_status st_zarr_read_file(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return st_fail(STRATA_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *b = st_malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        char *grown = st_realloc(b, cap *= 2);
        if (!grown) {
            free(b);
            b = NULL;
        } else {
            b = grown;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        return b ? st_fail(STRATA_ERR_IO, "%s: cannot read", path) : st_nomem("file buffer");
    }
    *buf = b;
    *len = n;
    return STRATA_OK;
}

json_t *st_zarr_read_json(const char *path) {
    return json_load_file(path, 0, NULL);
}

bool st_zarr_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- preparing the store -------------------------------------------------------------- */

static bool has_root_meta(const char *store, bool *marker) {
    bool any = false;
    for (int i = 0; i < NROOT_META; i++) {
        char *p = st_zarr_path(store, ROOT_META[i], NULL);
        any = any || (p && st_zarr_exists(p));
        free(p);
    }
    char *m = st_zarr_path(store, ST_ZARR_MARKER, NULL);
    *marker = m && st_zarr_exists(m);
    free(m);
    return any;
}

bool st_zarr_has_metadata(const char *store) {
    bool marker;
    return has_root_meta(store, &marker);
}

static bool is_empty_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        return false;
    }
    bool empty = true;
    for (struct dirent *e = readdir(d); e && empty; e = readdir(d)) {
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    }
    closedir(d);
    return empty;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

/* Root metadata goes first: if this is interrupted, what is left no longer opens. */
strata_status st_zarr_delete(const char *store) {
    for (int i = 0; i < NROOT_META; i++) {
        char *p = st_zarr_path(store, ROOT_META[i], NULL);
        if (!p) {
            return st_nomem("path");
        }
        unlink(p);
        free(p);
    }
    if (nftw(store, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        return st_fail(STRATA_ERR_WRITE, "%s: cannot delete the previous store: %s", store,
                       strerror(errno));
    }
    return STRATA_OK;
}

static strata_status create_store(const char *store) {
    bool made = mkdir(store, 0777) == 0;
    if (!made && errno != EEXIST) {
        return st_fail(STRATA_ERR_WRITE, "%s: cannot create the store: %s", store, strerror(errno));
    }
    char *m = st_zarr_path(store, ST_ZARR_MARKER, NULL);
    strata_status st = m ? st_zarr_write_atomic(m, "", 0) : st_nomem("path");
    free(m);
    if (st != STRATA_OK && made) {
        rmdir(store); /* a failed run leaves nothing of its own */
    }
    return st;
}

/* A folder strata could have written: one it is writing (marker), an empty one, or one whose
 * root attributes carry strata_zarr_version. Anything else is the user's, never deleted. */
static bool ours(const char *store) {
    bool marker;
    bool meta = has_root_meta(store, &marker);
    if (marker || (!meta && is_empty_dir(store))) {
        return true;
    }
    bool found = false;
    char *v2 = st_zarr_path(store, ".zattrs", NULL), *v3 = st_zarr_path(store, "zarr.json", NULL);
    json_t *a = v2 ? st_zarr_read_json(v2) : NULL, *b = v3 ? st_zarr_read_json(v3) : NULL;
    found =
        json_is_integer(json_object_get(a, "strata_zarr_version")) ||
        json_is_integer(json_object_get(json_object_get(b, "attributes"), "strata_zarr_version"));
    json_decref(a);
    json_decref(b);
    free(v2);
    free(v3);
    return found;
}

static strata_status check_replaceable(const char *store, const struct stat *sb) {
    if (!S_ISDIR(sb->st_mode)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: exists and is not a Zarr store (%s); refusing to replace it "
                       "(remove it or choose another path)",
                       store, S_ISREG(sb->st_mode) ? "a regular file" : "not a folder");
    }
    bool marker;
    if (!has_root_meta(store, &marker) && !marker && !is_empty_dir(store)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: is a folder that is not a Zarr store; refusing to "
                       "delete it (remove it or choose another path)",
                       store);
    }
    if (!ours(store)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: is a Zarr store that strata did not write; refusing to replace it "
                       "(remove it or choose another path)",
                       store);
    }
    return STRATA_OK;
}

strata_status st_zarr_guard(const char *const *inputs, size_t n, const char *store) {
    ST_TRY(st_check_utf8("store name", store));
    ST_TRY(st_guard_store(inputs, n, store));
    char *tmp = st_zarr_sibling(store, ST_ZARR_NEW_SUFFIX);
    strata_status st = tmp ? st_guard_store(inputs, n, tmp) : st_nomem("path");
    free(tmp);
    return st;
}

char *st_zarr_sibling(const char *store, const char *suffix) {
    size_t len = strlen(store);
    while (len > 1 && store[len - 1] == '/') {
        len--;
    }
    const char *slash = memrchr(store, '/', len);
    size_t dir = slash ? (size_t)(slash - store + 1) : 0;
    size_t n = len + strlen(suffix) + 2;
    char *p = st_malloc(n);
    if (p) {
        snprintf(p, n, "%.*s.%.*s%s", (int)dir, store, (int)(len - dir), store + dir, suffix);
    }
    return p;
}

/* A leftover of an interrupted write at a name only strata uses; deleted only when it is
 * one of strata's folders. */
static strata_status clear_leftover(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        return STRATA_OK;
    }
    if (!S_ISDIR(sb.st_mode) || !ours(path)) {
        return st_fail(STRATA_ERR_WRITE, "%s: is in the way and not a store strata wrote", path);
    }
    return st_zarr_delete(path);
}

/* Mode w over an existing store: the new store is written beside it and swapped in once
 * complete (st_zarr_swap), so a failed or interrupted run leaves the old one as it was. */
static strata_status replace_existing(const char *store, const struct stat *sb, char **target) {
    ST_TRY(check_replaceable(store, sb));
    char *tmp = st_zarr_sibling(store, ST_ZARR_NEW_SUFFIX);
    if (!tmp) {
        return st_nomem("path");
    }
    strata_status st = clear_leftover(tmp);
    if (st == STRATA_OK) {
        st = create_store(tmp);
    }
    if (st != STRATA_OK) {
        free(tmp);
        return st;
    }
    *target = tmp;
    return STRATA_OK;
}

char *st_zarr_target(const char *store) {
    char *tmp = st_zarr_sibling(store, ST_ZARR_NEW_SUFFIX);
    char *m = tmp ? st_zarr_path(tmp, ST_ZARR_MARKER, NULL) : NULL;
    bool beside = m && st_zarr_exists(m);
    free(m);
    if (beside) {
        return tmp;
    }
    free(tmp);
    return st_strdup(store);
}

strata_status st_zarr_swap(const char *tmp, const char *store) {
    char *old = st_zarr_sibling(store, ".strata-old");
    if (!old) {
        return st_nomem("path");
    }
    strata_status st = clear_leftover(old);
    struct stat sb;
    bool had = lstat(store, &sb) == 0;
    if (st == STRATA_OK && had && rename(store, old) != 0) {
        st = st_fail(STRATA_ERR_WRITE, "%s: cannot move the old store aside: %s", store,
                     strerror(errno));
    } else if (st == STRATA_OK && rename(tmp, store) != 0) {
        st = st_fail(STRATA_ERR_WRITE, "%s: cannot move the new store in from %s: %s", store, tmp,
                     strerror(errno));
        if (had) {
            rename(old, store);
        }
    } else if (st == STRATA_OK && had && st_zarr_delete(old) != STRATA_OK) {
        /* The new store is in place; what is left of the old one is hidden, and the next
         * swap clears it. */
        st_clear_error();
    }
    free(old);
    return st;
}

static strata_status check_appendable(const char *store, const struct stat *sb, bool *append) {
    bool marker;
    if (!S_ISDIR(sb->st_mode)) {
        return st_fail(STRATA_ERR_INVALID_ARG, "%s: is not a Zarr store (not a folder)", store);
    }
    bool meta = has_root_meta(store, &marker);
    if (marker) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: an earlier write did not finish; write the "
                       "store again with mode w",
                       store);
    }
    if (!meta && is_empty_dir(store)) {
        return create_store(store);
    }
    if (!meta) {
        return st_fail(STRATA_ERR_INVALID_ARG, "%s: is not a Zarr store", store);
    }
    *append = true;
    return STRATA_OK;
}

strata_status st_zarr_prepare(const char *store, strata_zarr_mode mode, bool *append,
                              char **target) {
    struct stat sb;
    *append = false;
    *target = NULL;
    if (stat(store, &sb) != 0) {
        if (errno != ENOENT) {
            return st_fail(STRATA_ERR_WRITE, "%s: %s", store, strerror(errno));
        }
        char *tmp = st_zarr_sibling(store, ST_ZARR_NEW_SUFFIX);
        strata_status st = tmp ? clear_leftover(tmp) : st_nomem("path");
        free(tmp);
        ST_TRY(st);
        ST_TRY(create_store(store));
        *target = st_strdup(store);
        if (!*target) {
            st_zarr_delete(store); /* created just above: a failed run leaves nothing */
            return st_nomem("path");
        }
        return STRATA_OK;
    }
    switch (mode) {
    case STRATA_ZARR_CREATE:
        return st_fail(STRATA_ERR_WRITE,
                       "%s: already exists (mode w- never replaces a store; "
                       "use mode w to overwrite or a to append)",
                       store);
    case STRATA_ZARR_APPEND:
        ST_TRY(check_appendable(store, &sb, append));
        *target = st_strdup(store);
        return *target ? STRATA_OK : st_nomem("path");
    default:
        if (lstat(store, &sb) == 0 && S_ISLNK(sb.st_mode)) {
            /* the swap would replace the link, not what it points to */
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "%s: is a symbolic link; mode w replaces only a store folder itself "
                           "(give the folder it points to)",
                           store);
        }
        return replace_existing(store, &sb, target);
    }
}
