"""Scenes on disk: one HDF5 file per scene, written in a stream and read lazily.

Layout (field by field in docs/scene-format.md)::

    /                      attrs: format="lidarlabel/scene", format_version=1, scene_id, source, created
    /frames/timestamp_us   (F,) int64       LiDAR sweep time, microseconds
    /frames/ego_pose       (F, 4, 4) f64    world_from_ego at the sweep time
    /lidar/points          (P, C) f32       all sweeps, LiDAR frame, chunked + compressed
    /lidar/offsets         (F + 1,) int64   rows of frame i are offsets[i]:offsets[i+1]
    /lidar/extrinsic       (4, 4) f64       ego_from_lidar; attrs: name, fields
    /cameras/<name>/intrinsic (3, 3), distortion (5,), extrinsic (4, 4) ego_from_camera,
                   images (F,) vlen uint8 (encoded JPEG/PNG), timestamp_us (F,); attrs width, height

Reading frame ``i`` reads only the chunks that hold its rows.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.transforms import compose, transform_points
from lidarlabel.errors import InputError

__all__ = ["FORMAT", "FORMAT_VERSION", "SceneReader", "SceneWriter", "quantise_points", "quantisation_step"]

FORMAT = "lidarlabel/scene"
FORMAT_VERSION = 1
POINT_CHUNK_ROWS = 32768
MIN_FREE_BYTES = 8 * 1024 * 1024  # headroom kept free while writing a scene
_VLEN_U8 = h5py.vlen_dtype(np.dtype("uint8"))


def quantisation_step(precision: float) -> float:
    """The power-of-two step (m) that compact storage uses for a requested precision."""
    return float(2.0 ** np.floor(np.log2(precision)))


def quantise_points(points: np.ndarray, precision: float, fields: Sequence[str]) -> np.ndarray:
    """(N, C) points rounded as compact storage stores them (every column but ``ring``).

    Idempotent, so a caller can round first (e.g. to count points in boxes on
    exactly the values that will be stored) and the writer rounds again at no cost.
    """
    step = quantisation_step(precision)
    out = np.array(points, dtype=np.float32, copy=True)
    cols = [i for i, name in enumerate(fields) if name != "ring"]
    out[:, cols] = np.round(out[:, cols] / step) * step
    return out


class SceneWriter:
    """Write a scene frame by frame; the file appears (atomically) only on a clean close.

    Use as a context manager. Frames are appended with :meth:`add_frame`; points
    are (N, C) in the LiDAR frame with columns ``point_fields``. Rows with a
    non-finite coordinate are dropped and counted (attribute ``nonfinite_dropped``).

    Points are stored losslessly (LZF + shuffle) unless ``point_precision`` is
    given, e.g. ``0.001``: every column except ``ring`` is then rounded to the
    nearest power-of-two step at or below it (1/1024 m for 0.001), which zeroes
    the low mantissa bits so that shuffle + gzip store it in about half the
    space; the step is kept in the ``precision`` attribute of ``/lidar/points``.
    """

    def __init__(
        self,
        path: str | Path,
        scene_id: str,
        lidar_extrinsic: np.ndarray,
        cameras: Sequence[CameraModel] = (),
        point_fields: Sequence[str] = ("x", "y", "z", "intensity", "ring"),
        source: str = "sim",
        lidar_name: str = "LIDAR_TOP",
        point_precision: float | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(f"{self.path}: the folder {self.path.parent} does not exist")
        if list(point_fields[:3]) != ["x", "y", "z"]:
            raise ValueError("point_fields must start with x, y, z")
        for cam in cameras:  # a name becomes an HDF5 group: no path separators, no empty or dot names
            if not cam.name or "/" in cam.name or cam.name in (".", ".."):
                raise InputError(f"{self.path}: camera name {cam.name!r}: expected a non-empty name without '/'")
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._ensure_space(MIN_FREE_BYTES, "start writing")
        try:
            self._f = h5py.File(self._tmp, "w")
        except OSError as exc:
            self._tmp.unlink(missing_ok=True)
            raise self._write_error(exc) from None
        try:  # an interrupt or error in here must not leave the temporary file behind
            self._setup(scene_id, lidar_extrinsic, cameras, point_fields, source, lidar_name, point_precision)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise self._write_error(exc) from None
            raise

    def _write_error(self, exc: OSError) -> InputError:
        """One clear message for a failed write: the output named, disk full said as such."""
        text = str(exc)
        if getattr(exc, "errno", None) == errno.ENOSPC or "No space" in text or "file write failed" in text:
            return InputError(f"{self.path}: the disk is full; nothing was written")
        if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS) or "ermission" in text:
            return InputError(f"{self.path}: cannot write in {self.path.parent} (permission denied); nothing was written")
        return InputError(f"{self.path}: could not write the scene ({text}); nothing was written")

    def _ensure_space(self, needed: int, what: str) -> None:
        # HDF5 can crash (not just fail) when the disk fills in the middle of a write,
        # so refuse before it gets there.
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return
        if free < needed:
            raise InputError(
                f"{self.path}: the disk is full: {what} needs about {needed / 1e6:.0f} MB, "
                f"{free / 1e6:.0f} MB free; nothing was written"
            )

    def _setup(self, scene_id, lidar_extrinsic, cameras, point_fields, source, lidar_name, point_precision) -> None:
        self._fields = tuple(point_fields)
        self._cams = list(cameras)
        self._timestamps: list[int] = []
        self._poses: list[np.ndarray] = []
        self._offsets = [0]
        self._dropped = 0
        f = self._f
        f.attrs.update(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            scene_id=scene_id,
            source=source,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        lid = f.create_group("lidar")
        lid.attrs.update(name=lidar_name, fields=list(self._fields))
        lid.create_dataset("extrinsic", data=np.asarray(lidar_extrinsic, dtype=float).reshape(4, 4))
        self._precision = point_precision
        if point_precision is None:
            opts: dict = {"compression": "lzf", "shuffle": True}
        else:
            opts = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
        self._points = lid.create_dataset(
            "points",
            shape=(0, len(self._fields)),
            maxshape=(None, len(self._fields)),
            dtype="f4",
            chunks=(POINT_CHUNK_ROWS, len(self._fields)),
            **opts,
        )
        self._points.attrs["precision"] = 0.0 if point_precision is None else quantisation_step(point_precision)
        cg = f.create_group("cameras")
        self._images = {}
        self._cam_ts: dict[str, list[int]] = {}
        for cam in self._cams:
            g = cg.create_group(cam.name)
            g.attrs.update(width=int(cam.width), height=int(cam.height), model="opencv_pinhole")
            g.create_dataset("intrinsic", data=cam.K)
            g.create_dataset("distortion", data=cam.dist)
            g.create_dataset("extrinsic", data=cam.ego_from_camera)
            self._images[cam.name] = g.create_dataset(
                "images", shape=(0,), maxshape=(None,), dtype=_VLEN_U8, chunks=(1,)
            )
            self._cam_ts[cam.name] = []

    def add_frame(
        self,
        timestamp_us: int,
        ego_pose: np.ndarray,
        points: np.ndarray,
        images: Mapping[str, bytes] | None = None,
        image_timestamps_us: Mapping[str, int] | None = None,
    ) -> None:
        """Append one frame: sweep time, world_from_ego (4, 4), (N, C) points, encoded images."""
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] != len(self._fields):
            raise ValueError(f"points must be (N, {len(self._fields)}), got {pts.shape}")
        size = pts.nbytes + sum(len(b) for b in (images or {}).values())
        self._ensure_space(2 * size + MIN_FREE_BYTES, f"frame {len(self._timestamps)}")
        try:
            self._append(timestamp_us, ego_pose, pts, images, image_timestamps_us)
        except OSError as exc:
            raise self._write_error(exc) from None

    def _append(self, timestamp_us, ego_pose, pts, images, image_timestamps_us) -> None:
        finite = np.isfinite(pts[:, :3]).all(axis=1)
        if not finite.all():
            self._dropped += int((~finite).sum())
            pts = pts[finite]
        if self._precision is not None:
            pts = quantise_points(pts, self._precision, self._fields)
        n0 = self._offsets[-1]
        self._points.resize((n0 + len(pts), pts.shape[1]))
        self._points[n0:] = pts
        self._offsets.append(n0 + len(pts))
        self._timestamps.append(int(timestamp_us))
        self._poses.append(np.asarray(ego_pose, dtype=float).reshape(4, 4))
        images = images or {}
        for name, ds in self._images.items():
            data = images.get(name, b"")
            ds.resize((len(self._timestamps),))
            ds[-1] = np.frombuffer(data, dtype=np.uint8)
            ts = (image_timestamps_us or {}).get(name, timestamp_us)
            self._cam_ts[name].append(int(ts))

    def close(self) -> Path:
        """Finish the file and move it into place; returns the final path."""
        try:
            return self._finish()
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise self._write_error(exc) from None
            raise

    def _finish(self) -> Path:
        f = self._f
        fr = f.create_group("frames")
        fr.create_dataset("timestamp_us", data=np.asarray(self._timestamps, dtype=np.int64))
        fr.create_dataset("ego_pose", data=np.asarray(self._poses, dtype=float).reshape(-1, 4, 4))
        f["lidar"].create_dataset("offsets", data=np.asarray(self._offsets, dtype=np.int64))
        f["lidar"].attrs["nonfinite_dropped"] = self._dropped
        for name, ts in self._cam_ts.items():
            f["cameras"][name].create_dataset("timestamp_us", data=np.asarray(ts, dtype=np.int64))
        f.flush()
        os.fsync(f.id.get_vfd_handle())
        f.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written so far (safe to call more than once)."""
        try:
            f = getattr(self, "_f", None)
            if f is not None and f.id.valid:
                f.close()
        except Exception:  # closing a file on a full disk can fail: the file goes anyway
            pass
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> SceneWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class SceneReader:
    """Lazy, read-only access to a scene file; cheap to open, one frame at a time.

    Thread-safe: reads are serialised with a lock (h5py is not re-entrant).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._f = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such scene file") from None
        except OSError as exc:
            reason = str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else str(exc)
            raise InputError(
                f"{self.path}: not a readable HDF5 scene ({reason}); the file may be truncated "
                "or not a lidarlabel scene"
            ) from None
        try:
            self._load_metadata()
        except InputError:
            self._f.close()
            raise
        except (KeyError, OSError, ValueError, TypeError) as exc:
            self._f.close()
            raise InputError(f"{self.path}: damaged scene file ({exc})") from None

    @classmethod
    def open(cls, path: str | Path) -> SceneReader:
        """Open a scene file (validates layout and shapes; reads no points)."""
        return cls(path)

    def _need(self, name: str) -> h5py.Dataset:
        if name not in self._f:
            raise InputError(f"{self.path}: missing dataset {name}; expected a lidarlabel scene")
        return self._f[name]

    def _bad_shape(self, name: str, expected: str, got) -> InputError:
        return InputError(f"{self.path}: {name}: expected shape {expected}, got {tuple(got)}")

    def _load_metadata(self) -> None:
        f = self._f
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt != FORMAT:
            raise InputError(f"{self.path}: not a lidarlabel scene (format attribute is {fmt!r}, expected {FORMAT!r})")
        ver = int(f.attrs.get("format_version", -1))
        if ver != FORMAT_VERSION:
            raise InputError(
                f"{self.path}: scene format version {ver} is not supported (this lidarlabel reads version {FORMAT_VERSION})"
            )
        self.scene_id = str(f.attrs.get("scene_id", self.path.stem))
        self.source = str(f.attrs.get("source", ""))
        self.timestamps_us = np.asarray(self._need("frames/timestamp_us")[()], dtype=np.int64)
        F = len(self.timestamps_us)
        poses = self._need("frames/ego_pose")
        if poses.shape != (F, 4, 4):
            raise self._bad_shape("/frames/ego_pose", f"({F}, 4, 4)", poses.shape)
        self.ego_poses = np.asarray(poses[()], dtype=float)
        offsets = self._need("lidar/offsets")
        if offsets.shape != (F + 1,):
            raise self._bad_shape("/lidar/offsets", f"({F + 1},)", offsets.shape)
        self._offsets = np.asarray(offsets[()], dtype=np.int64)
        self._points = self._need("lidar/points")
        if self._points.ndim != 2 or self._points.shape[1] < 3:
            raise self._bad_shape("/lidar/points", "(P, C >= 3)", self._points.shape)
        if np.any(np.diff(self._offsets) < 0) or self._offsets[0] != 0 or self._offsets[-1] != self._points.shape[0]:
            raise InputError(
                f"{self.path}: /lidar/offsets: expected non-decreasing offsets from 0 to "
                f"{self._points.shape[0]} (the number of stored points)"
            )
        ext = self._need("lidar/extrinsic")
        if ext.shape != (4, 4):
            raise self._bad_shape("/lidar/extrinsic", "(4, 4)", ext.shape)
        self.lidar_extrinsic = np.asarray(ext[()], dtype=float)
        lid_attrs = self._f["lidar"].attrs
        self.lidar_name = str(lid_attrs.get("name", "LIDAR_TOP"))
        self.point_fields = tuple(str(x) for x in lid_attrs.get("fields", ["x", "y", "z"]))
        self.cameras: list[CameraModel] = []
        self._images: dict[str, h5py.Dataset] = {}
        self.camera_timestamps_us: dict[str, np.ndarray] = {}
        for name, g in (f["cameras"].items() if "cameras" in f else []):
            for ds, shape in (("intrinsic", (3, 3)), ("distortion", (5,)), ("extrinsic", (4, 4))):
                if ds not in g:
                    raise InputError(f"{self.path}: missing dataset /cameras/{name}/{ds}")
                if g[ds].shape != shape:
                    raise self._bad_shape(f"/cameras/{name}/{ds}", str(shape), g[ds].shape)
            if "images" not in g or g["images"].shape != (F,):
                raise InputError(f"{self.path}: /cameras/{name}/images: expected {F} encoded images")
            self.cameras.append(
                CameraModel(name, int(g.attrs["width"]), int(g.attrs["height"]),
                            g["intrinsic"][()], g["distortion"][()], g["extrinsic"][()])
            )
            self._images[name] = g["images"]
            ts = g["timestamp_us"][()] if "timestamp_us" in g else self.timestamps_us
            self.camera_timestamps_us[name] = np.asarray(ts, dtype=np.int64)

    # ------------------------------------------------------------------ frames
    @property
    def num_frames(self) -> int:
        """Number of frames (LiDAR sweeps)."""
        return len(self.timestamps_us)

    def __len__(self) -> int:
        return self.num_frames

    def _check_frame(self, i: int) -> int:
        if not 0 <= int(i) < self.num_frames:
            raise IndexError(f"{self.path}: frame {i} out of range 0..{self.num_frames - 1}")
        return int(i)

    def num_points(self, i: int) -> int:
        """Number of stored points of frame ``i`` (no data read)."""
        i = self._check_frame(i)
        return int(self._offsets[i + 1] - self._offsets[i])

    def points(self, i: int) -> np.ndarray:
        """(N, C) float32 points of frame ``i`` in the LiDAR frame; non-finite rows dropped."""
        i = self._check_frame(i)
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        with self._lock:
            try:
                pts = self._points[a:b]
            except OSError as exc:
                raise InputError(f"{self.path}: frame {i}: points cannot be read ({exc})") from None
        finite = np.isfinite(pts[:, :3]).all(axis=1)
        return pts if finite.all() else pts[finite]

    def world_from_lidar(self, i: int) -> np.ndarray:
        """(4, 4) pose of the LiDAR in the world frame at frame ``i``."""
        return compose(self.ego_poses[self._check_frame(i)], self.lidar_extrinsic)

    def points_world(self, i: int) -> np.ndarray:
        """(N, 3) float64 points of frame ``i`` in the world frame."""
        return transform_points(self.world_from_lidar(i), self.points(i)[:, :3])

    def field(self, name: str) -> int:
        """Column index of a point field such as ``"intensity"``; KeyError if absent."""
        try:
            return self.point_fields.index(name)
        except ValueError:
            raise KeyError(f"{self.path}: points have no field {name!r} (fields: {self.point_fields})") from None

    def camera(self, name: str) -> CameraModel:
        """The camera called ``name``."""
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(f"{self.path}: no camera {name!r}")

    def image_bytes(self, camera: str, i: int) -> bytes:
        """Encoded (JPEG/PNG) image of ``camera`` at frame ``i``; empty if none was recorded."""
        i = self._check_frame(i)
        with self._lock:
            return bytes(self._images[camera][i].tobytes())

    def image(self, camera: str, i: int) -> np.ndarray | None:
        """Decoded RGB image (H, W, 3) uint8 of ``camera`` at frame ``i``, or None if absent."""
        import cv2  # local: keeps ``import lidarlabel.io.scene`` light

        data = self.image_bytes(camera, i)
        if not data:
            return None
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"{self.path}: /cameras/{camera}/images[{i}]: not a decodable JPEG/PNG image")
        return bgr[:, :, ::-1].copy()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._f.close()

    def __enter__(self) -> SceneReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
