"""DatasetCollection: the seed's lazy (T, B, R, C) cube on the C engine."""
from __future__ import annotations

import itertools
import json as _json
import math
import os
import threading

import numpy as np

from . import _core
from ._meta import RasterMeta

OPS = ("mean", "sum", "min", "max", "std", "var", "count", "median")
_ZARR_MODES = {"w": 0, "w-": 1, "a": 2}

# ---- one C collection per process for each JSON form ---------------------------------------

# Dask tasks and distributed workers receive the collection as JSON; the handle built from it
# is kept so a process opens each file once, not once per task (GDAL datasets are cached per
# thread inside the handle).
_CORES: dict = {}
_CORES_LOCK = threading.Lock()
_CORES_MAX = 8


def _core_of(json_text: str):
    with _CORES_LOCK:
        core = _CORES.get(json_text)
        if core is None:
            core = _core.from_json(json_text)
            if len(_CORES) >= _CORES_MAX:
                _CORES.pop(next(iter(_CORES)))
            _CORES[json_text] = core
        return core


class _Source:
    """The collection inside a dask graph: pickles as its JSON, never as a handle."""

    def __init__(self, json_text, core=None):
        self.json = json_text
        self._core = core

    @property
    def core(self):
        if self._core is None:
            self._core = _core_of(self.json)
        return self._core

    def __reduce__(self):
        return (_Source, (self.json,))


def _read_block(src, t0, nt, b0, nb, r0, nr, c0, nc):
    return src.core.read(t0, nt, b0, nb, r0, nr, c0, nc)


def _reduce_part(json_text, ops, skipna, ddof, labels, part_index, part_count, quantiles=(),
                 method="linear", float32=False):
    return _core_of(json_text).reduce(list(ops), skipna, ddof, labels, part_index, part_count, 0,
                                      list(quantiles), method, float32)


def _write_zarr(src, path, mode):
    src.core.to_zarr(path, _ZARR_MODES[mode], 0, 0, 0)


def _from_json(json_text):
    return DatasetCollection(_core.from_json(json_text))


# ---- result types ---------------------------------------------------------------------------

def _out_dtype(op, src):
    """numpy's nan-reduction result type for a source type."""
    if op in ("mean", "std", "var", "median") or op.startswith("quantile:"):
        return np.dtype(np.float32) if src == np.float32 else np.dtype(np.float64)
    if op == "sum":
        if src.kind == "f":
            return src
        return np.dtype(np.uint64) if src.kind == "u" else np.dtype(np.int64)
    if op == "count":
        return np.dtype(np.int64)
    return src  # min, max


def _finish(op, pair, src):
    arr, nodata = pair
    want = _out_dtype(op, src)
    if want.kind == "f" and nodata is not None and not math.isnan(nodata):
        # Missing pixels become NaN, as in numpy's nan-reductions.
        arr = arr.astype(want)
        arr[arr == want.type(nodata)] = np.nan
        return arr
    return arr.astype(want, copy=False)


def _merge(parts):
    """Merges the results of distributed parts: each computed its own tiles and left the
    others zero, so a bitwise OR of the bytes is the whole result (as the MPI runs do)."""
    out = parts[0]
    for part in parts[1:]:
        for (_, _, arrays), (_, _, more) in zip(out, part):
            for op, (arr, _) in arrays.items():
                view = arr.view(np.uint8)
                np.bitwise_or(view, more[op][0].view(np.uint8), out=view)
    return out


def _check_ops_args(skipna, ddof):
    if not isinstance(skipna, (bool, np.bool_, int)):
        raise TypeError("skipna must be a bool, not %s" % type(skipna).__name__)
    if not isinstance(ddof, (int, np.integer)) or isinstance(ddof, bool):
        raise TypeError("ddof must be an int, not %s" % type(ddof).__name__)
    if ddof < 0:
        raise ValueError("ddof must be >= 0, not %d" % ddof)


class _Reductions:
    """The single-op reductions, each one call of the class's reduce(ops, ...). A groupby's
    take out=STORE: the result goes to that Zarr store (see GroupBy.reduce), not memory."""

    def _one(self, op, out, **kw):
        if out is None:
            return self.reduce([op], **kw)[op]
        if not isinstance(self, GroupBy):
            raise TypeError("out= writes a groupby's result: cube.groupby(labels).%s(out=...)"
                            % op)
        self.reduce([op], out=out, **kw)
        return None

    def mean(self, *, skipna=True, client=None, out=None):
        return self._one("mean", out, skipna=skipna, client=client)

    def sum(self, *, skipna=True, client=None, out=None):
        return self._one("sum", out, skipna=skipna, client=client)

    def min(self, *, skipna=True, client=None, out=None):
        return self._one("min", out, skipna=skipna, client=client)

    def max(self, *, skipna=True, client=None, out=None):
        return self._one("max", out, skipna=skipna, client=client)

    def std(self, *, skipna=True, ddof=0, client=None, out=None):
        return self._one("std", out, skipna=skipna, ddof=ddof, client=client)

    def var(self, *, skipna=True, ddof=0, client=None, out=None):
        return self._one("var", out, skipna=skipna, ddof=ddof, client=client)

    def count(self, *, client=None, out=None):
        """Valid (not nodata, not NaN) values per pixel."""
        return self._one("count", out, client=client)

    def median(self, *, skipna=True, client=None, out=None):
        return self._one("median", out, skipna=skipna, client=client)


_TIME_KEYS = ("year", "month", "dayofyear", "season")
_SEASONS = ("DJF", "DJF", "MAM", "MAM", "MAM", "JJA", "JJA", "JJA", "SON", "SON", "SON", "DJF")


def _labels_from_times(cube, key):
    """Per-timestep labels of a time key, as xarray's groupby("time.KEY") makes them."""
    if key not in _TIME_KEYS:
        raise TypeError("labels must be a sequence of labels, one per timestep, or a time key "
                        "(%s), not %r" % (", ".join(_TIME_KEYS), key))
    times = cube.times
    if times is None:
        raise ValueError("groupby(%r) needs times: the collection has none" % key)
    import pandas as pd

    idx = pd.DatetimeIndex(times)
    if key == "season":
        return [_SEASONS[m - 1] for m in idx.month]
    return [int(v) for v in getattr(idx, key)]


def _zarr_mode(mode):
    if mode not in ("w", "w-"):
        raise ValueError("mode must be 'w' or 'w-', not %r" % (mode,))
    return _ZARR_MODES[mode]


class DatasetCollection(_Reductions):
    """An ordered stack of aligned rasters as a lazy (time, band, row, col) cube.

    Build it with :meth:`from_files` or :meth:`from_stac`. Reductions run in the C engine
    (one pass, all cores, the GIL released); ``data`` is the same cube as a dask array.
    """

    def __init__(self, core):
        if not isinstance(core, _core.Collection):
            raise TypeError("use DatasetCollection.from_files or from_stac")
        self._core = core
        self._json = None
        self._meta = None
        self._dtype = None
        self._data = None

    # ---- construction ---------------------------------------------------------------

    @classmethod
    def from_files(cls, files, *, meta=None, times=None, crs=None, resolution=None, bounds=None,
                   bounds_crs=None, like=None, resampling=None, mosaic=None, mosaic_op="first",
                   warp_error=0.125):
        """One timestep per file; opens the template (the first file) only.

        With an output grid (like=a raster path, or crs= with resolution=R or (RX, RY) and
        optional bounds=(xmin, ymin, xmax, ymax), in bounds_crs= when not the grid's), files on
        other grids are warped to it as they are read, with resampling= (GDAL's names,
        "nearest" by default); every file is then opened once for its footprint. mosaic="day"
        or "solar_day" fuses the files of one day (times= needed: datetime64 values or ISO
        strings, one per file) with mosaic_op= ("first" valid value by default).
        """
        if isinstance(files, (str, bytes, os.PathLike)):
            files = [files]
        try:
            files = list(files)
        except TypeError:
            raise TypeError("files must be a list of paths, not %s" % type(files).__name__) from None
        if not files:
            raise ValueError("from_files: at least one path is needed (got an empty list)")
        if meta is not None and not isinstance(meta, RasterMeta):
            raise TypeError("meta must be a RasterMeta, not %s" % type(meta).__name__)
        grid = _grid_tuple(like, crs, resolution, bounds, bounds_crs, resampling, warp_error)
        core = _core.from_files([os.fspath(f) for f in files])
        if times is not None:
            core.set_times(_utc_seconds(times))
        if grid is not None:
            core.set_grid(grid)
        if mosaic is not None:
            core.mosaic(mosaic, mosaic_op)
        cube = cls(core)
        if meta is not None and cube.meta != meta:
            raise ValueError("%s: its geobox differs from the meta given" % os.fspath(files[0]))
        return cube

    @classmethod
    def from_stac(cls, items, asset, *, patch_url=None, bbox=None, max_items=None, crs=None,
                  resolution=None, bounds=None, bounds_crs=None, like=None, resampling=None,
                  mosaic=None, mosaic_op="first", warp_error=0.125):
        """A cube from STAC items (JSON dicts or pystac-like objects), in the order given.

        The grid keywords are from_files's: with one, items may lie on different grids (mixed
        proj:epsg), whose footprints come from their proj: fields."""
        from ._stac import drop_times, items_to_json

        if not isinstance(asset, str):
            raise TypeError("asset must be a str, not %s" % type(asset).__name__)
        text, timed = items_to_json(items, asset, patch_url=patch_url, bbox=bbox,
                                    max_items=max_items)
        grid = _grid_tuple(like, crs, resolution, bounds, bounds_crs, resampling, warp_error)
        core = _core.from_stac(text, None, [asset], grid)
        if not timed:
            core = _core.from_json(drop_times(core.to_json()))
        if mosaic is not None:
            core.mosaic(mosaic, mosaic_op)
        return cls(core)

    @classmethod
    def from_stac_search(cls, url, asset, *, collections=None, bbox=None, datetime=None,
                         query=None, filter=None, sortby=None, limit=None, max_items=None,
                         patch_url=None):
        """A cube from the items a STAC API search returns, in the API's order.

        url is the API's landing page or its /search endpoint; collections a list of ids;
        bbox (minx, miny, maxx, maxy) in lon/lat; datetime an RFC 3339 instant or interval
        ("2021-01-01/2021-06-30", ".." for an open end); query the query extension (a dict,
        or terms such as "eo:cloud_cover<20"); filter a CQL2-JSON dict (filter extension);
        sortby "[+|-]field[,...]"; limit the page size. Every page is followed (up to
        max_items); 429, 5xx and timeouts are retried. Errors name the URL.
        """
        import json

        if isinstance(collections, str):
            collections = [collections]
        if isinstance(query, dict):
            query = json.dumps(query)
        if isinstance(filter, dict):
            filter = json.dumps(filter)
        text = _core.stac_search(url, None if collections is None else list(collections),
                                 None if bbox is None else tuple(float(v) for v in bbox),
                                 datetime, query, filter, sortby, int(limit or 0),
                                 int(max_items or 0))
        items = json.loads(text)["features"]
        return cls.from_stac(items, asset, patch_url=patch_url)

    # ---- pickling: the JSON form ----------------------------------------------------

    def to_json(self) -> str:
        if self._json is None:
            self._json = self._core.to_json()
        return self._json

    def __reduce__(self):
        return (_from_json, (self.to_json(),))

    # ---- properties -----------------------------------------------------------------

    @property
    def time_length(self) -> int:
        return len(self._core)

    @property
    def rows(self) -> int:
        return self.meta.rows

    @property
    def columns(self) -> int:
        return self.meta.columns

    @property
    def band_count(self) -> int:
        return self.meta.band_count

    @property
    def shape(self):
        """(time, rows, columns), as in the seed."""
        return (self.time_length, self.rows, self.columns)

    @property
    def files(self):
        return [p[0] for p in self._core.paths()]

    @property
    def times(self):
        secs = self._core.times()
        if secs is None:
            return None
        return np.array(secs, dtype="datetime64[s]")

    @property
    def meta(self) -> RasterMeta:
        if self._meta is None:
            self._meta = RasterMeta._from_core(self._core.meta())
        return self._meta

    @property
    def dtype(self):
        """The source data type (numpy)."""
        if self._dtype is None:
            self._dtype = np.dtype(self._core.dtype())
        return self._dtype

    def validate(self):
        """Opens every file once and checks it against the template."""
        self._core.validate()

    def __len__(self):
        return self.time_length

    def __repr__(self):
        m = self.meta
        return "<DatasetCollection time=%d band=%d rows=%d columns=%d dtype=%s>" % (
            self.time_length, m.band_count, m.rows, m.columns, m.dtype)

    # ---- the lazy cube --------------------------------------------------------------

    @property
    def data(self):
        """The cube as a dask array (T, B, R, C), one timestep per chunk."""
        if self._data is None:
            self._data = self.to_dask()
        return self._data

    def to_dask(self, chunks=None):
        """``data`` with a chosen chunking (anything dask's normalize_chunks accepts, e.g.
        ``(1, 1, 512, 512)``; spatial chunks aligned on the source blocks read fastest)."""
        import dask.array as da
        from dask.base import tokenize
        from dask.highlevelgraph import HighLevelGraph

        m = self.meta
        shape = (self.time_length, m.band_count, m.rows, m.columns)
        dtype = np.dtype(m.dtype)
        if chunks is None:
            chunks = (1, m.band_count, m.rows, m.columns)
        chunks = da.core.normalize_chunks(chunks, shape, dtype=dtype)
        text = self.to_json()
        token = tokenize(text, chunks)
        name = "strata-read-" + token
        src_key = "strata-collection-" + tokenize(text)
        dsk = {src_key: _Source(text, self._core)}
        starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int).tolist() for c in chunks]
        for idx in itertools.product(*(range(len(c)) for c in chunks)):
            win = []
            for axis, i in enumerate(idx):
                win += [starts[axis][i], chunks[axis][i]]
            dsk[(name,) + idx] = (_read_block, src_key) + tuple(win)
        graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
        return da.Array(graph, name, chunks, dtype=dtype)

    def to_xarray(self):
        """An xarray.DataArray (time, band, y, x) over ``data``; pixel-centre coordinates,
        the CRS through rioxarray's spatial_ref when rioxarray is installed."""
        import xarray as xr

        m = self.meta
        gt = m.geotransform
        times = self.times
        coords = {
            "time": times if times is not None else np.arange(self.time_length),
            "band": np.arange(1, m.band_count + 1),
            "y": gt[3] + (np.arange(m.rows) + 0.5) * gt[5],
            "x": gt[0] + (np.arange(m.columns) + 0.5) * gt[1],
        }
        arr = xr.DataArray(self.data, dims=("time", "band", "y", "x"), coords=coords,
                           name="data", attrs={"band_names": list(m.band_names)})
        try:
            import rioxarray  # noqa: F401  (registers the .rio accessor)
        except ImportError:
            return arr
        if m.crs is not None:
            arr = arr.rio.write_crs(m.crs)
        arr = arr.rio.write_transform(_affine(m.transform))
        nodata = m.nodata[0] if m.nodata else None
        if nodata is not None:
            arr = arr.rio.write_nodata(nodata)
        return arr

    # ---- reductions (the C engine) --------------------------------------------------

    def _reduce(self, ops, skipna, ddof, labels, client, quantiles=(), method="linear"):
        _check_ops_args(skipna, ddof)
        # The float ops come out in numpy's type for the source (_out_dtype): float32 arrays
        # straight from C for a float32 stack, not float64 ones converted here.
        float32 = self.dtype == np.float32
        if client is None:
            return self._core.reduce(list(ops), int(skipna), int(ddof), labels, 0, 0, 0,
                                     list(quantiles), method, float32)
        n = max(1, len(client.scheduler_info()["workers"]))
        text = self.to_json()
        futures = [client.submit(_reduce_part, text, tuple(ops), int(skipna), int(ddof), labels,
                                 i, n, tuple(quantiles), method, float32, pure=False)
                   for i in range(n)]
        return _merge(client.gather(futures))

    def reduce(self, ops, *, skipna=True, ddof=0, client=None):
        """Several reductions in one pass: {op: ndarray (B, R, C)}."""
        ops = _op_list(ops)
        src = self.dtype
        (_, _, arrays), = self._reduce(ops, skipna, ddof, None, client)
        return {op: _finish(op, arrays[op], src) for op in ops}

    def quantile(self, q, *, skipna=True, method="linear", client=None):
        """numpy.nanquantile(data, q, axis=0, method=method) per pixel, in one pass: (B, R, C)
        for a scalar q, (len(q), B, R, C) for a sequence. q in [0, 1]; method one of linear,
        lower, higher, nearest, midpoint."""
        qs, scalar = _quantile_list(q, method)
        (_, _, arrays), = self._reduce([], skipna, 0, None, client, qs, method)
        out = [_finish("quantile:%d" % k, arrays["quantile:%d" % k], self.dtype)
               for k in range(len(qs))]
        return out[0] if scalar else np.stack(out)

    def groupby(self, labels):
        """Per-timestep labels, or a time key (year, month, dayofyear, season) → an object whose
        reductions return {label: ndarray}, or write one Zarr store with out=STORE."""
        return GroupBy(self, labels)

    # ---- writers --------------------------------------------------------------------

    def to_zarr(self, store, *, mode="w", compute=True):
        """Writes the cube to a local Zarr v2 store (mode "w", "w-" or "a" to append
        timesteps). compute=False returns a dask Delayed that writes when computed."""
        path = _local_store(store)
        if not isinstance(mode, str):
            raise TypeError("mode must be a str, not %s" % type(mode).__name__)
        if mode not in _ZARR_MODES:
            raise ValueError("mode must be 'w', 'w-' or 'a', not %r" % mode)
        src = _Source(self.to_json(), self._core)
        if compute:
            _write_zarr(src, path, mode)
            return None
        import dask

        return dask.delayed(_write_zarr, pure=False)(src, path, mode)

    def anomaly(self, clim, by, *, out, var="mean", name="anomaly", mode="w"):
        """Writes each timestep minus its group's value of variable var of the climatology
        store clim (written by ``cube.groupby(by).mean(out=clim)``) to the Zarr store out, a
        (time, band, y, x) cube, in one pass. by: the labels, one per timestep, or a time key
        (year, month, dayofyear, season). The climatology's grid and labels are checked
        first."""
        labels = _labels_from_times(self, by) if isinstance(by, str) else _label_list(self, by)
        self._core.anomaly_to_zarr([str(l) for l in labels], _local_store(clim), str(var),
                                   _local_store(out), str(name), _zarr_mode(mode))

    def to_kerchunk(self, output_path, *, concat_dim="time"):
        """Writes a kerchunk (version 1) index of the files and returns it as a dict."""
        if not isinstance(concat_dim, str):
            raise TypeError("concat_dim must be a str, not %s" % type(concat_dim).__name__)
        out = os.fspath(output_path)
        _core.kerchunk(self.files, out, concat_dim)
        with open(out, encoding="utf-8") as f:
            return _json.load(f)


class GroupBy(_Reductions):
    """Grouped reductions: one pass in C, {label: ndarray (B, R, C)} in sorted label order."""

    def __init__(self, cube, labels):
        self._dim = "group"
        if isinstance(labels, str):
            self._dim = labels
            labels = _labels_from_times(cube, labels)
        labels = _label_list(cube, labels)
        try:
            self._keys = sorted(set(labels))
        except TypeError as e:
            raise TypeError("groupby: labels must be hashable and sortable: %s" % e) from None
        code = {k: str(i) for i, k in enumerate(self._keys)}
        self._codes = [code[l] for l in labels]
        self._cube = cube

    @property
    def groups(self):
        return list(self._keys)

    def reduce(self, ops, *, skipna=True, ddof=0, client=None, out=None, dim=None, mode="w"):
        """{op: {label: ndarray}} for several ops in one pass; or, with out=STORE, one Zarr
        store written as the tiles finish (memory bounded by tiles, not groups): a variable
        (dim, band, y, x) per op, the labels as coordinate dim (default: the time key given
        to groupby, else "group"), sorted; mode "w" or "w-". Returns None then."""
        ops = _op_list(ops)
        if out is not None:
            if client is not None:
                raise ValueError("out= runs in this process: no client")
            _check_ops_args(skipna, ddof)
            labels = [str(self._keys[int(c)]) for c in self._codes]
            self._cube._core.groupby_to_zarr(ops, int(skipna), int(ddof), labels,
                                             str(dim or self._dim), _local_store(out),
                                             _zarr_mode(mode), [])
            return None
        src = self._cube.dtype
        res = self._cube._reduce(ops, skipna, ddof, self._codes, client)
        by_code = {label: arrays for label, _, arrays in res}
        return {op: {k: _finish(op, by_code[str(i)][op], src) for i, k in enumerate(self._keys)}
                for op in ops}

    def quantile(self, q, *, skipna=True, method="linear", client=None):
        """{label: numpy.nanquantile(group, q, axis=0, method=method)}, in one pass."""
        qs, scalar = _quantile_list(q, method)
        src = self._cube.dtype
        res = self._cube._reduce([], skipna, 0, self._codes, client, qs, method)
        by_code = {label: arrays for label, _, arrays in res}
        out = {}
        for i, key in enumerate(self._keys):
            arrays = by_code[str(i)]
            per_q = [_finish("quantile:%d" % k, arrays["quantile:%d" % k], src)
                     for k in range(len(qs))]
            out[key] = per_q[0] if scalar else np.stack(per_q)
        return out


_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _quantile_list(q, method):
    """q as a list of floats in [0, 1], and whether it was a scalar."""
    if method not in _QUANTILE_METHODS:
        raise ValueError("unknown quantile method %r (one of %s)"
                         % (method, ", ".join(_QUANTILE_METHODS)))
    scalar = np.ndim(q) == 0
    qs = [float(v) for v in np.atleast_1d(np.asarray(q, dtype=float))]
    if not qs:
        raise ValueError("quantile: at least one q is needed")
    for v in qs:
        if not 0.0 <= v <= 1.0:
            raise ValueError("quantile: q must be in [0, 1], not %r" % v)
    return qs, scalar


def _op_list(ops):
    if isinstance(ops, str):
        ops = [ops]
    ops = list(ops)
    for op in ops:
        if not isinstance(op, str):
            raise TypeError("ops are names (str), not %s" % type(op).__name__)
        if op not in OPS:
            raise ValueError("unknown op %r (one of %s)" % (op, ", ".join(OPS)))
    if not ops:
        raise ValueError("at least one op is needed")
    return ops


def _label_list(cube, labels):
    if isinstance(labels, (str, bytes)):
        raise TypeError("labels must be a sequence of labels, one per timestep")
    labels = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    if len(labels) != cube.time_length:
        raise ValueError("groupby: labels has length %d but the collection has %d timesteps"
                         % (len(labels), cube.time_length))
    return labels


def _local_store(store):
    path = getattr(store, "path", store)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError("store must be a local path (str or pathlib.Path), not %s"
                        % type(store).__name__)
    path = os.fspath(path)
    if "://" in path:
        raise ValueError("%s: only local Zarr stores are supported (no fsspec URLs)" % path)
    return path


def _affine(t):
    from affine import Affine

    return Affine(*t)


def _grid_tuple(like, crs, resolution, bounds, bounds_crs, resampling, warp_error):
    """The output grid as _core takes it, or None when no keyword asks for one."""
    if like is None and resolution is None:
        if crs is not None or bounds is not None or bounds_crs is not None:
            raise ValueError("crs=, bounds= and bounds_crs= need resolution=")
        if resampling is not None:
            raise ValueError("resampling= needs an output grid (like= or resolution=)")
        return None
    if like is not None and (crs is not None or resolution is not None or bounds is not None):
        raise ValueError("like= takes no crs=, resolution= or bounds=")
    rx = ry = 0.0
    if resolution is not None:
        if isinstance(resolution, (int, float)):
            rx = ry = float(resolution)
        else:
            rx, ry = (float(v) for v in resolution)
    if bounds is not None:
        bounds = tuple(float(v) for v in bounds)
        if len(bounds) != 4:
            raise ValueError("bounds= needs (xmin, ymin, xmax, ymax)")
    return (None if like is None else os.fspath(like), crs, rx, ry, bounds, bounds_crs,
            resampling or "nearest", float(warp_error))


def _utc_seconds(times):
    import numpy as np

    t = np.asarray(times, dtype="datetime64[s]")
    return [int(v) for v in t.astype("int64")]
