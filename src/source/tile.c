/* The spatial tile of a collection: whole source blocks, so every compressed block is
 * decoded by one work item only, grown to a size that keeps per-item overhead small. */
#include "source/source.h"

/* Tiles of at least this many pixels: a striped file (blocks of one row) is grouped into
 * bands of rows so per-item overhead stays small. */
enum { MIN_TILE_PIXELS = 65536, MAX_TILE_PIXELS = 1 << 20 };

void st_default_tile(const strata_meta *m, int *rows, int *cols) {
    st_block_tile(m, MIN_TILE_PIXELS, rows, cols);
}

/* Grows a tile of whole blocks, alternating rows and columns so it stays near square. */
void st_block_tile(const strata_meta *m, long min_pixels, int *rows, int *cols) {
    int bx = m->block_x > 0 ? m->block_x : m->cols, by = m->block_y > 0 ? m->block_y : 1;
    int ty = by, tx = bx;
    while ((long)ty * tx < min_pixels && (ty < m->rows || tx < m->cols)) {
        if ((ty <= tx && ty < m->rows) || tx >= m->cols) {
            ty += by;
        } else {
            tx += bx;
        }
    }
    while ((long)ty * tx > (min_pixels > MAX_TILE_PIXELS ? min_pixels : MAX_TILE_PIXELS) &&
           ty > by) {
        ty -= by;
    }
    *rows = ty < m->rows ? ty : m->rows;
    *cols = tx < m->cols ? tx : m->cols;
}
