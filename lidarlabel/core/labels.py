"""The label document: tracks of per-frame boxes, in the scene's world frame.

This is the in-memory form of the JSON contract in DESIGN.md (schema
``lidarlabel/labels@1``, documented in docs/label-format.md). Values are small
immutable objects (:class:`Box`) inside mutable containers (:class:`Track`,
:class:`LabelDocument`); hot paths take arrays from :meth:`LabelDocument.frame_boxes`.
Unknown keys found in a file are kept in ``extra`` and written back unchanged.
"""

from __future__ import annotations

import copy
import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from lidarlabel.core.ontology import Ontology
from lidarlabel.errors import SchemaError

__all__ = [
    "BOX_SOURCES",
    "SCHEMA",
    "VERSION_SOURCES",
    "Box",
    "LabelDocument",
    "Track",
    "VersionInfo",
    "new_version_id",
    "parse_document",
]

SCHEMA = "lidarlabel/labels@1"
BOX_SOURCES = ("prelabel", "human", "interpolated", "import", "sim")
VERSION_SOURCES = ("prelabel", "human", "import", "qa", "sim")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_version_id() -> str:
    """A fresh version id that sorts by creation time: ``YYYYmmddTHHMMSSffffffZ-xxxxxxxx``."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Box:
    """One cuboid of a track in one frame, in the world frame.

    ``center`` is the geometric centre (m), ``size`` is (length, width, height)
    with length along ``yaw`` (radians about +z, zero along +x, CCW positive).
    """

    frame: int
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    timestamp_us: int | None = None
    source: str = "human"
    score: float | None = None
    keyframe: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    num_lidar_pts: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_array(self) -> np.ndarray:
        """The box as a (7,) array ``[x, y, z, l, w, h, yaw]``."""
        return np.array([*self.center, *self.size, self.yaw], dtype=float)

    def with_array(self, arr: np.ndarray, **changes: Any) -> Box:
        """A copy with geometry from a (7,) array, plus any other field changes."""
        a = [float(v) for v in np.asarray(arr, dtype=float).ravel()]
        return replace(self, center=tuple(a[:3]), size=tuple(a[3:6]), yaw=a[6], **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the box (DESIGN.md contract)."""
        d: dict[str, Any] = {"frame": int(self.frame)}
        if self.timestamp_us is not None:
            d["timestamp_us"] = int(self.timestamp_us)
        d.update(
            center=[float(v) for v in self.center],
            size=[float(v) for v in self.size],
            yaw=float(self.yaw),
            source=self.source,
            score=None if self.score is None else float(self.score),
            keyframe=bool(self.keyframe),
            attributes=copy.deepcopy(self.attributes),
        )
        if self.num_lidar_pts is not None:
            d["num_lidar_pts"] = int(self.num_lidar_pts)
        for k, v in self.extra.items():
            d.setdefault(k, copy.deepcopy(v))
        return d


@dataclass
class Track:
    """One object across frames: a stable id, a category, static attributes, boxes by frame."""

    id: str
    category: str
    attributes: dict[str, Any] = field(default_factory=dict)
    boxes: dict[int, Box] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def frames(self) -> list[int]:
        """Sorted frame indices where the track has a box."""
        return sorted(self.boxes)

    def keyframes(self) -> list[int]:
        """Sorted frame indices of the track's keyframes."""
        return sorted(f for f, b in self.boxes.items() if b.keyframe)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the track with boxes sorted by frame."""
        d: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "attributes": copy.deepcopy(self.attributes),
            "boxes": [self.boxes[f].to_dict() for f in sorted(self.boxes)],
        }
        for k, v in self.extra.items():
            d.setdefault(k, copy.deepcopy(v))
        return d

    def copy(self) -> Track:
        """A copy that shares the immutable boxes but not the containers."""
        return Track(
            self.id, self.category, copy.deepcopy(self.attributes), dict(self.boxes), dict(self.extra)
        )


@dataclass(frozen=True)
class VersionInfo:
    """Who made a label version, when, from what and on top of which parent."""

    id: str
    parent: str | None
    author: str
    created: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "parent": self.parent,
            "author": self.author,
            "created": self.created,
            "source": self.source,
        }


@dataclass
class LabelDocument:
    """All tracks of one scene plus the version they belong to."""

    scene: str
    version: VersionInfo
    tracks: dict[str, Track] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def new(
        cls, scene: str, source: str = "human", author: str = "unknown", parent: str | None = None
    ) -> LabelDocument:
        """An empty document with a fresh version record."""
        if source not in VERSION_SOURCES:
            raise ValueError(f"version source must be one of {VERSION_SOURCES}, got {source!r}")
        return cls(scene, VersionInfo(new_version_id(), parent, author, _now_iso(), source))

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the document (DESIGN.md contract)."""
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "scene": self.scene,
            "version": self.version.to_dict(),
            "tracks": [t.to_dict() for t in self.tracks.values()],
        }
        for k, v in self.extra.items():
            d.setdefault(k, copy.deepcopy(v))
        return d

    def copy(self) -> LabelDocument:
        """A copy whose tracks can be edited without touching this one."""
        return LabelDocument(
            self.scene,
            self.version,
            {k: t.copy() for k, t in self.tracks.items()},
            copy.deepcopy(self.extra),
        )

    def as_new_version(self, source: str, author: str) -> LabelDocument:
        """A copy with a fresh version record whose parent is this version."""
        doc = self.copy()
        doc.version = VersionInfo(new_version_id(), self.version.id, author, _now_iso(), source)
        return doc

    def frames(self) -> list[int]:
        """Sorted frame indices that hold at least one box."""
        return sorted({f for t in self.tracks.values() for f in t.boxes})

    def num_boxes(self) -> int:
        """Total number of boxes in the document."""
        return sum(len(t.boxes) for t in self.tracks.values())

    def frame_boxes(self, frame: int) -> tuple[list[str], np.ndarray]:
        """Track ids and (N, 7) boxes present in ``frame``, in track order."""
        ids, rows = [], []
        for tid, t in self.tracks.items():
            b = t.boxes.get(frame)
            if b is not None:
                ids.append(tid)
                rows.append(b.as_array())
        return ids, (np.array(rows) if rows else np.zeros((0, 7)))

    def new_track_id(self, prefix: str = "t") -> str:
        """A track id not used in this document."""
        while True:
            tid = f"{prefix}{uuid.uuid4().hex[:8]}"
            if tid not in self.tracks:
                return tid


# ----------------------------------------------------------------------------- parsing


def _fail(source: str, where: str, expected: str, got: Any) -> SchemaError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return SchemaError(f"{source}: {where}: expected {expected}, got {shown}")


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _vec3(x: Any, source: str, where: str, positive: bool = False) -> tuple[float, float, float]:
    ok = isinstance(x, list) and len(x) == 3 and all(_is_num(v) for v in x)
    if ok and positive:
        ok = min(x) > 0
    if not ok:
        expected = "3 positive numbers [length, width, height]" if positive else "3 finite numbers"
        raise _fail(source, where, expected, x)
    return (float(x[0]), float(x[1]), float(x[2]))


_BOX_KEYS = {
    "frame", "timestamp_us", "center", "size", "yaw", "source", "score", "keyframe",
    "attributes", "num_lidar_pts",
}  # fmt: skip
_TRACK_KEYS = {"id", "category", "attributes", "boxes"}
_DOC_KEYS = {"schema", "scene", "version", "tracks"}


def _parse_box(b: Any, source: str, where: str) -> Box:
    if not isinstance(b, dict):
        raise _fail(source, where, "an object", b)
    frame = b.get("frame")
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise _fail(source, f"{where}.frame", "an integer >= 0", frame)
    ts = b.get("timestamp_us")
    if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool)):
        raise _fail(source, f"{where}.timestamp_us", "an integer (microseconds)", ts)
    yaw = b.get("yaw")
    if not _is_num(yaw):
        raise _fail(source, f"{where}.yaw", "a finite number (radians)", yaw)
    src = b.get("source")
    if src not in BOX_SOURCES:
        raise _fail(source, f"{where}.source", f"one of {list(BOX_SOURCES)}", src)
    score = b.get("score")
    if score is not None and not _is_num(score):
        raise _fail(source, f"{where}.score", "a number or null", score)
    kf = b.get("keyframe")
    if not isinstance(kf, bool):
        raise _fail(source, f"{where}.keyframe", "true or false", kf)
    attrs = b.get("attributes", {})
    if not isinstance(attrs, dict):
        raise _fail(source, f"{where}.attributes", "an object", attrs)
    npts = b.get("num_lidar_pts")
    if npts is not None and (not isinstance(npts, int) or isinstance(npts, bool) or npts < 0):
        raise _fail(source, f"{where}.num_lidar_pts", "an integer >= 0", npts)
    return Box(
        frame=frame,
        center=_vec3(b.get("center"), source, f"{where}.center"),
        size=_vec3(b.get("size"), source, f"{where}.size", positive=True),
        yaw=float(yaw),
        timestamp_us=ts,
        source=src,
        score=None if score is None else float(score),
        keyframe=kf,
        attributes=attrs,
        num_lidar_pts=npts,
        extra={k: v for k, v in b.items() if k not in _BOX_KEYS},
    )


def parse_document(
    data: Any, source: str = "<document>", ontology: Ontology | None = None
) -> LabelDocument:
    """Validate a decoded JSON label document and build a :class:`LabelDocument`.

    Raises :class:`~lidarlabel.errors.SchemaError` with one sentence naming
    ``source``, the field path and what was expected. With an ``ontology``,
    categories must be among its names.
    """
    if not isinstance(data, dict):
        raise _fail(source, "top level", "a JSON object", type(data).__name__)
    schema = data.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("lidarlabel/labels@"):
            raise SchemaError(
                f"{source}: schema version {schema.split('@', 1)[1]!r} is not supported "
                f"(this lidarlabel reads {SCHEMA!r})"
            )
        raise _fail(source, "schema", repr(SCHEMA), schema)
    scene = data.get("scene")
    if not isinstance(scene, str):
        raise _fail(source, "scene", "a string", scene)
    v = data.get("version")
    if not isinstance(v, dict):
        raise _fail(source, "version", "an object", v)
    for k in ("id", "author", "created"):
        if not isinstance(v.get(k), str):
            raise _fail(source, f"version.{k}", "a string", v.get(k))
    if "parent" not in v or not (v["parent"] is None or isinstance(v["parent"], str)):
        raise _fail(source, "version.parent", "a string or null", v.get("parent"))
    if v.get("source") not in VERSION_SOURCES:
        raise _fail(source, "version.source", f"one of {list(VERSION_SOURCES)}", v.get("source"))
    version = VersionInfo(v["id"], v["parent"], v["author"], v["created"], v["source"])
    raw_tracks = data.get("tracks")
    if not isinstance(raw_tracks, list):
        raise _fail(source, "tracks", "a list", raw_tracks)
    tracks: dict[str, Track] = {}
    for i, t in enumerate(raw_tracks):
        where = f"tracks[{i}]"
        if not isinstance(t, dict):
            raise _fail(source, where, "an object", t)
        tid = t.get("id")
        if not isinstance(tid, str) or not tid:
            raise _fail(source, f"{where}.id", "a non-empty string", tid)
        if tid in tracks:
            raise SchemaError(f"{source}: {where}.id: track id {tid!r} appears twice")
        cat = t.get("category")
        if not isinstance(cat, str):
            raise _fail(source, f"{where}.category", "a string", cat)
        if ontology is not None and cat not in ontology:
            raise SchemaError(
                f"{source}: {where}.category: unknown category {cat!r} "
                f"(not in the {ontology.name!r} ontology)"
            )
        attrs = t.get("attributes", {})
        if not isinstance(attrs, dict):
            raise _fail(source, f"{where}.attributes", "an object", attrs)
        raw_boxes = t.get("boxes", [])
        if not isinstance(raw_boxes, list):
            raise _fail(source, f"{where}.boxes", "a list", raw_boxes)
        boxes: dict[int, Box] = {}
        for j, b in enumerate(raw_boxes):
            box = _parse_box(b, source, f"{where}.boxes[{j}]")
            if box.frame in boxes:
                raise SchemaError(
                    f"{source}: {where}.boxes[{j}]: track {tid!r} has two boxes in frame {box.frame}"
                )
            boxes[box.frame] = box
        tracks[tid] = Track(
            tid, cat, attrs, boxes, {k: v for k, v in t.items() if k not in _TRACK_KEYS}
        )
    extra = {k: v for k, v in data.items() if k not in _DOC_KEYS}
    return LabelDocument(scene, version, tracks, extra)
