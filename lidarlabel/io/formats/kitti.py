"""KITTI interchange: import the object benchmark layout, export the object and tracking layouts.

Import (``velodyne/ image_2/ calib/ label_2/`` under DIR or DIR/training): every
frame becomes a scene frame with the identity ego pose (KITTI object frames are
not a sequence), ego = velodyne frame, camera 2 from P2 / R0_rect / Tr_velo_to_cam;
every labelled object becomes a one-box track. All frames of one scene must share
one calibration (pass ``options["frames"]`` to pick them). docs/formats/kitti.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.transforms import invert_pose
from lidarlabel.errors import InputError
from lidarlabel.io.formats.kitti_common import (
    TYPE_TO_CATEGORY,
    Calib,
    object_to_box,
    parse_label_line,
    read_calib,
    velo_from_rect,
)
from lidarlabel.io.scene import SceneReader, SceneWriter

__all__ = ["export_scene", "import_scene", "read_labels"]


def _root(src: Path) -> Path:
    for cand in (src, src / "training", src / "testing", src / "object" / "training"):
        if (cand / "velodyne").is_dir():
            return cand
    raise InputError(f"{src}: expected a KITTI object folder with velodyne/, calib/ (and image_2/, label_2/)")


def read_labels(path: Path) -> list:
    """Parse a label_2 file into KittiObjects (DontCare regions included)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read label file ({exc})") from None
    objs = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            obj = parse_label_line(line, f"{path}: line {n}")
            if obj.type != "DontCare" and obj.type not in TYPE_TO_CATEGORY:
                raise InputError(f"{path}: line {n}: type: expected one of "
                                 f"{', '.join([*TYPE_TO_CATEGORY, 'DontCare'])}, got {obj.type!r}")
            if obj.type != "DontCare" and (min(obj.hwl) <= 0 or not np.isfinite(obj.location).all()):
                raise InputError(f"{path}: line {n}: dimensions: expected positive h w l, got {obj.hwl}")
            objs.append(obj)
    return objs


def _read_velodyne(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    if len(raw) % 16:
        raise InputError(f"{path}: expected float32 x, y, z, reflectance (16 bytes per point), got {len(raw)} bytes")
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 4)


def _same_calib(a: Calib, b: Calib) -> bool:
    return all(np.allclose(x, y, atol=1e-9) for x, y in ((a.P2, b.P2), (a.R0_rect, b.R0_rect),
                                                         (a.Tr_velo_to_cam, b.Tr_velo_to_cam)))


def import_scene(src: str, out_scene: Path, options: dict[str, Any]) -> LabelDocument | None:
    """Import a KITTI object folder into ``out_scene``; returns the labels (None without label_2/).

    options: ``frames`` (list of frame ids such as "000003"; default all), ``frame_rate_hz``
    (timestamps are synthesised: frame i at i / rate s), ``scene`` (scene id; default the folder name).
    """
    import cv2

    root = _root(Path(src))
    ids = sorted(p.stem for p in (root / "velodyne").glob("*.bin"))
    if options.get("frames"):
        wanted = [str(f) for f in options["frames"]]
        missing = [f for f in wanted if f not in ids]
        if missing:
            raise InputError(f"{root / 'velodyne'}: --frames: no {missing[0]}.bin (have {', '.join(ids[:8])}...)")
        ids = wanted
    if not ids:
        raise InputError(f"{root / 'velodyne'}: expected KITTI .bin point clouds, found none")
    calibs = [read_calib(root / "calib" / f"{i}.txt") for i in ids]
    for i, c in zip(ids, calibs):
        if not _same_calib(c, calibs[0]):
            raise InputError(f"{root / 'calib' / (i + '.txt')}: expected the calibration of {ids[0]}.txt; one "
                             "scene has one camera calibration, so import frames of one drive (--frames)")
    calib = calibs[0]
    has_images = (root / "image_2").is_dir()
    cameras = []
    if has_images:
        first = root / "image_2" / f"{ids[0]}.png"
        img = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise InputError(f"{first}: expected a PNG image")
        cameras = [CameraModel("image_2", img.shape[1], img.shape[0], calib.K, np.zeros(5),
                               invert_pose(calib.cam2_from_velo))]
    rate = float(options.get("frame_rate_hz") or 10.0)
    name = str(options.get("scene") or Path(src).resolve().name)
    has_labels = (root / "label_2").is_dir()
    doc = LabelDocument.new(name, source="import", author="lidarlabel import kitti")
    to_velo = velo_from_rect(calib)
    with SceneWriter(out_scene, name, np.eye(4), cameras, point_fields=("x", "y", "z", "intensity"),
                     source="kitti") as w:
        for f, fid in enumerate(tqdm(ids, desc="KITTI import", unit="frame", disable=None, leave=False)):
            ts = int(round(f * 1e6 / rate))
            images = {}
            if has_images:
                path = root / "image_2" / f"{fid}.png"
                if not path.is_file():
                    raise InputError(f"{path}: missing; expected an image for every velodyne frame")
                images["image_2"] = path.read_bytes()
            w.add_frame(ts, np.eye(4), _read_velodyne(root / "velodyne" / f"{fid}.bin"), images)
            if not has_labels:
                continue
            label = root / "label_2" / f"{fid}.txt"
            if not label.is_file():
                raise InputError(f"{label}: missing; expected a label file for every frame")
            for k, obj in enumerate(read_labels(label)):
                if obj.type == "DontCare":
                    continue
                cat, attrs = TYPE_TO_CATEGORY[obj.type]
                box = object_to_box(obj, to_velo)
                extra = {"kitti": {"truncated": obj.truncated, "occluded": obj.occluded, "bbox": list(obj.bbox)}}
                tid = f"{fid}-{k}"
                doc.tracks[tid] = Track(tid, cat, dict(attrs), {
                    f: Box(f, tuple(box[:3]), tuple(box[3:6]), float(box[6]), ts, "import", obj.score, True,
                           {}, None, extra)}, {"kitti_type": obj.type})
    return doc if has_labels else None


def export_scene(scene: SceneReader, doc: LabelDocument, out_dir: Path, options: dict[str, Any]) -> Path:
    """Write ``out_dir/object/training`` and ``out_dir/tracking/training`` (sequence 0000); returns out_dir.

    options: ``camera`` (reference camera; default the one looking most along ego +x).
    """
    from lidarlabel.io.formats.kitti_export import export_kitti

    return export_kitti(scene, doc, Path(out_dir), options)
