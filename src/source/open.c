/* Opening a file as a raster, local or remote: the one place strata calls GDALOpenEx for
 * inputs, with the driver named, no folder listing, strata's network settings, a second
 * chance after a failed remote open, and a message that says when file descriptors ran out. */
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* The process's soft limit of open files, read once: the limit does not change under a
 * running job, and the hot path asks for it on every file it opens. */
static long fd_limit_value;
static pthread_once_t fd_limit_once = PTHREAD_ONCE_INIT;

static void read_fd_limit(void) {
    struct rlimit rl;
    fd_limit_value = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                             rl.rlim_cur < (rlim_t)INT32_MAX
                         ? (long)rl.rlim_cur
                         : INT32_MAX;
}

long st_fd_limit(void) {
    pthread_once(&fd_limit_once, read_fd_limit);
    return fd_limit_value;
}

const char *st_fd_note(void) {
    static _Thread_local char note[192];
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return "";
    }
    if (errno != EMFILE && errno != ENFILE) {
        return "";
    }
    struct rlimit rl;
    if (errno == ENFILE || getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return " (too many open files in the system)";
    }
    snprintf(note, sizeof note,
             " (too many open files: the limit, ulimit -n, is %llu; fewer threads or a higher "
             "limit help)",
             (unsigned long long)rl.rlim_cur);
    return note;
}

GDALDatasetH st_open_raster(const char *path, const char *driver, bool sidecars) {
    const char *only[] = {driver, NULL};
    /* An empty sibling list spares GDAL a listing of the file's folder on every open, the
     * largest cost of opening small files in a folder of thousands. */
    const char *no_siblings[] = {NULL};
    const char *const *siblings = sidecars ? NULL : no_siblings;
    unsigned flags = GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR;
    /* Naming the template's driver skips probing every other driver on each open. */
    GDALDatasetH ds = NULL;
    st_gdal_init();
    if (st_remote_path(path)) {
        st_remote_configure();
    }
    if (driver && driver[0]) {
        ds = GDALOpenEx(path, flags, only, NULL, siblings);
    }
    if (!ds) {
        ds = GDALOpenEx(path, flags, NULL, NULL, siblings);
    }
    /* A transient network failure must not stick: one more try with GDAL's memory of the
     * file cleared. */
    if (!ds && st_remote_forget(path)) {
        ds = GDALOpenEx(path, flags, NULL, NULL, siblings);
    }
    if (!ds) {
        const char *note = st_fd_note();
        if (note[0]) {
            st_fail(STRATA_ERR_IO, "%s: cannot open%s", path, note);
        } else {
            st_fail_gdal(STRATA_ERR_IO, "%s: cannot open as a raster", path);
        }
    }
    return ds;
}
