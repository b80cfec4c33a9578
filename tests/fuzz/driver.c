/* A small stand-in for libFuzzer when the build has no clang: runs the target on every corpus
 * file, then on random mutations of them (byte flips, JSON punctuation, insertions, deletions,
 * splices) for a number of seconds. The seed is fixed, so a failure reproduces.
 *   fuzz_NAME_run SECONDS CORPUS_DIR... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
    uint8_t *data;
    size_t size;
} input;

static input inputs[4096];
static size_t ninputs;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f || ninputs == sizeof inputs / sizeof inputs[0]) {
        if (f) {
            fclose(f);
        }
        return;
    }
    uint8_t *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (buf) {
        inputs[ninputs++] = (input){buf, n};
    }
}

static void load_dir(const char *dir) {
    DIR *d = opendir(dir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        char path[4096];
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            load(path);
        }
    }
    if (d) {
        closedir(d);
    }
}

/* One mutation of buf (size n, capacity cap) in place; returns the new size. */
static size_t mutate(uint8_t *buf, size_t n, size_t cap) {
    static const char tokens[] = "{}[]\",:-.0123456789eEtrufalsn \\u";
    size_t at = n ? rnd() % n : 0;
    switch (rnd() % 6) {
    case 0: /* flip a bit */
        if (n) {
            buf[at] ^= (uint8_t)(1u << (rnd() % 8));
        }
        return n;
    case 1: /* a JSON character */
        if (n) {
            buf[at] = (uint8_t)tokens[rnd() % (sizeof tokens - 1)];
        }
        return n;
    case 2: /* insert one */
        if (n < cap) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = (uint8_t)tokens[rnd() % (sizeof tokens - 1)];
            return n + 1;
        }
        return n;
    case 3: { /* delete a range */
        size_t len = n - at ? rnd() % (n - at) % 64 + 1 : 0;
        memmove(buf + at, buf + at + len, n - at - len);
        return n - len;
    }
    case 4: { /* duplicate a range */
        size_t len = n - at ? rnd() % (n - at) % 256 + 1 : 0;
        if (n + len <= cap) {
            memmove(buf + at + len, buf + at, n - at);
            return n + len;
        }
        return n;
    }
    default: { /* splice in a piece of another input */
        const input *o = &inputs[rnd() % ninputs];
        size_t from = o->size ? rnd() % o->size : 0;
        size_t len = o->size - from < 256 ? o->size - from : 256;
        len = n - at < len ? n - at : len;
        memcpy(buf + at, o->data + from, len);
        return n;
    }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SECONDS CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[1]);
    for (int i = 2; i < argc; i++) {
        load_dir(argv[i]);
    }
    if (ninputs == 0) {
        fprintf(stderr, "no corpus files\n");
        return 1;
    }
    for (size_t i = 0; i < ninputs; i++) {
        LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].size);
    }
    size_t cap = 1 << 16, runs = 0;
    uint8_t *buf = malloc(cap);
    time_t end = time(NULL) + (time_t)seconds;
    while (buf && time(NULL) < end) {
        const input *in = &inputs[rnd() % ninputs];
        size_t n = in->size < cap ? in->size : cap;
        memcpy(buf, in->data, n);
        for (int m = (int)(rnd() % 8); m >= 0; m--) {
            n = mutate(buf, n, cap);
        }
        /* A private copy of exactly n bytes, so ASan sees any read past the end. */
        uint8_t *exact = malloc(n ? n : 1);
        if (exact) {
            memcpy(exact, buf, n);
            LLVMFuzzerTestOneInput(exact, n);
            free(exact);
        }
        runs++;
    }
    printf("fuzz_stac_run: %zu corpus files, %zu mutated runs, no crash\n", ninputs, runs);
    free(buf);
    for (size_t i = 0; i < ninputs; i++) {
        free(inputs[i].data);
    }
    return 0;
}
