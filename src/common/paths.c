/* Safety of the paths a job reads and writes: an output never lands on an input, an input
 * that is not a file (a FIFO would block the open forever) is refused before anything
 * starts, and names that JSON cannot hold are refused with that reason. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool st_local_path(const char *path) {
    return path && path[0] && strncmp(path, "/vsi", 4) != 0 && !strstr(path, "://");
}

strata_status st_check_input_kind(const char *path) {
    struct stat sb;
    if (!st_local_path(path) || stat(path, &sb) != 0) {
        return STRATA_OK; /* not a local file: the reader reports what is wrong */
    }
    if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) {
        return STRATA_OK; /* some drivers read folders (Zarr, .SAFE) */
    }
    const char *kind = S_ISFIFO(sb.st_mode)   ? "a FIFO (named pipe)"
                       : S_ISCHR(sb.st_mode)  ? "a character device"
                       : S_ISBLK(sb.st_mode)  ? "a block device"
                       : S_ISSOCK(sb.st_mode) ? "a socket"
                                              : "not a regular file";
    return st_fail(STRATA_ERR_IO, "%s: is %s, not a raster file", path, kind);
}

bool st_utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int more = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : -1;
        if (more < 0 || (more == 1 && c < 0xC2) || (c == 0xF4 && p[1] > 0x8F) || c > 0xF4) {
            return false;
        }
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||
            (c == 0xF0 && p[1] < 0x90)) {
            return false; /* overlong forms and UTF-16 surrogates */
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) {
                return false;
            }
        }
    }
    return true;
}

strata_status st_check_utf8(const char *what, const char *s) {
    if (st_utf8_valid(s)) {
        return STRATA_OK;
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "%s %s: is not valid UTF-8, which the JSON written cannot hold (rename it)",
                   what, s);
}

/* ---- outputs against inputs --------------------------------------------------------------- */

typedef struct file_id {
    dev_t dev;
    ino_t ino;
    size_t index;
} file_id;

/* Files are compared by device and inode, which sees through symbolic links, hard links,
 * "./" and "..": a name that resolves to an input (realpath equal) has its inode. */
static strata_status input_ids(const char *const *inputs, size_t n, file_id **out, size_t *nids) {
    file_id *ids = st_calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        return st_nomem("input identities");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (st_local_path(inputs[i]) && stat(inputs[i], &sb) == 0) {
            ids[k++] = (file_id){sb.st_dev, sb.st_ino, i};
        }
    }
    *out = ids;
    *nids = k;
    return STRATA_OK;
}

static const file_id *find_id(const file_id *ids, size_t n, const char *path) {
    struct stat sb;
    if (!st_local_path(path) || stat(path, &sb) != 0) {
        return NULL; /* nothing there: writing it destroys nothing */
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i].dev == sb.st_dev && ids[i].ino == sb.st_ino) {
            return &ids[i];
        }
    }
    return NULL;
}

strata_status st_guard_outputs(const char *const *inputs, size_t nin, const char *const *outs,
                               size_t nout) {
    file_id *ids = NULL;
    size_t nids = 0;
    ST_TRY(input_ids(inputs, nin, &ids, &nids));
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < nout && st == STRATA_OK; i++) {
        if (!outs[i]) {
            continue;
        }
        size_t len = strlen(outs[i]);
        char *part = st_malloc(len + 6);
        if (!part) {
            st = st_nomem("path");
            break;
        }
        memcpy(part, outs[i], len);
        memcpy(part + len, ".part", 6);
        const file_id *hit = find_id(ids, nids, outs[i]);
        const char *name = outs[i];
        if (!hit) {
            hit = find_id(ids, nids, part);
            name = part;
        }
        if (hit) {
            st = st_fail(STRATA_ERR_INVALID_ARG,
                         "output %s is the input %s: refusing to overwrite an input (choose "
                         "another output name)",
                         name, inputs[hit->index]);
        }
        free(part);
    }
    free(ids);
    return st;
}

strata_status st_guard_store(const char *const *inputs, size_t nin, const char *store) {
    ST_TRY(st_guard_outputs(inputs, nin, &store, 1));
    char *root = st_local_path(store) ? realpath(store, NULL) : NULL;
    if (!root) {
        return STRATA_OK; /* no folder yet: nothing in it to lose */
    }
    size_t len = strlen(root);
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < nin && st == STRATA_OK; i++) {
        char *in = st_local_path(inputs[i]) ? realpath(inputs[i], NULL) : NULL;
        if (in && strncmp(in, root, len) == 0 && (in[len] == '/' || in[len] == '\0')) {
            st = st_fail(STRATA_ERR_INVALID_ARG,
                         "output store %s holds the input %s: refusing to replace it (choose "
                         "another output)",
                         store, inputs[i]);
        }
        free(in);
    }
    free(root);
    return st;
}

strata_status strata_collection_check_output(const strata_collection *c, const char *path) {
    st_clear_error();
    if (!c || !path || !path[0]) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "strata_collection_check_output: NULL or empty path");
    }
    return st_guard_outputs((const char *const *)c->paths, c->nfiles, &path, 1);
}
