"""Duck-typed STAC items (JSON dicts or pystac-like objects) to the JSON the C parser reads."""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone


def _get(obj, key):
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _utc_iso(value):
    """ISO 8601 text of a datetime (naive ones taken as UTC) or of a string."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def _time_of(item):
    if isinstance(item, Mapping):
        props = item.get("properties") or {}
        return props.get("datetime") or props.get("start_datetime")
    return getattr(item, "datetime", None)


def _touches(a, b):
    """Closed intervals: boxes that only share an edge touch."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def items_to_json(items, asset, *, patch_url=None, bbox=None, max_items=None):
    if isinstance(items, (str, bytes, Mapping)) and not (
            isinstance(items, Mapping) and "features" in items):
        raise TypeError("items must be an iterable of STAC items")
    if isinstance(items, Mapping):
        items = items["features"]
    items = list(items)
    if bbox is not None:
        bbox = [float(v) for v in bbox]
        if len(bbox) != 4:
            raise ValueError("bbox must be (minx, miny, maxx, maxy), got %d numbers" % len(bbox))
    if max_items is not None and (not isinstance(max_items, int) or max_items < 1):
        raise ValueError("max_items must be a positive int, not %r" % (max_items,))
    if patch_url is not None and not callable(patch_url):
        raise TypeError("patch_url must be callable")
    kept = []
    for i, item in enumerate(items):
        name = _get(item, "id") or "item %d" % i
        assets = _get(item, "assets")
        if assets is None:
            raise KeyError("%s: has no assets" % name)
        entry = assets.get(asset) if isinstance(assets, Mapping) else getattr(assets, asset, None)
        if entry is None:
            raise KeyError("%s: has no asset %r" % (name, asset))
        href = _get(entry, "href")
        if not href:
            raise KeyError("%s: asset %r has no href" % (name, asset))
        box = _get(item, "bbox")
        if bbox is not None and box is not None and not _touches([float(v) for v in box], bbox):
            continue
        kept.append((name, href, box, _time_of(item)))
    if max_items is not None:
        kept = kept[:max_items]
    if not kept:
        raise ValueError("from_stac: no item left of %d (bbox %s, max_items %s)"
                         % (len(items), bbox, max_items))
    every_time = all(t is not None for _, _, _, t in kept)
    features = []
    for name, href, box, when in kept:
        if patch_url is not None:
            href = patch_url(href)
            if not isinstance(href, str):
                raise TypeError("patch_url must return a str, not %s" % type(href).__name__)
        feature = {"type": "Feature", "stac_version": "1.0.0", "id": str(name),
                   # The C parser needs a time per item: placeholders (dropped by the
                   # caller) when some item has none.
                   "properties": {"datetime": _utc_iso(when) if every_time else
                                  "1970-01-01T00:00:00Z"},
                   "assets": {asset: {"href": href}}}
        if box is not None:
            feature["bbox"] = [float(v) for v in box]
        features.append(feature)
    return json.dumps({"type": "FeatureCollection", "features": features}), every_time


def drop_times(collection_json):
    """The collection's JSON without per-timestep times."""
    doc = json.loads(collection_json)
    for step in doc["timesteps"]:
        step.pop("time", None)
    return json.dumps(doc)
