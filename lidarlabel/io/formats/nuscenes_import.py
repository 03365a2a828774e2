"""Import one scene of a nuScenes dataroot into a lidarlabel scene plus labels.

Key frames (samples) become frames; sweeps are not imported. Points stay in the
LIDAR_TOP frame with the calibrated_sensor extrinsic; boxes go from
``size = [w, l, h]`` + quaternion (global) to ``[x, y, z, l, w, h, yaw]`` (world
= nuScenes global). Tables are read with the standard library, not the devkit,
so every defect is reported as one clear error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.transforms import pose_from_quat
from lidarlabel.errors import InputError
from lidarlabel.io.formats.nuscenes_common import ATTRIBUTES, LIDAR_CHANNEL, TABLES, quat_to_yaw
from lidarlabel.io.scene import SceneWriter

__all__ = ["import_nuscenes", "read_tables"]



def _inside(root: Path, relative: str, table: Path) -> Path:
    """``root / relative``, refused when the stored name leads outside the dataroot (``../``, absolute)."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise InputError(f"{table}: filename {relative!r}: expected a path inside the dataroot {root}")
    return path

def _find_version(root: Path, version: str | None) -> Path:
    if not root.is_dir():
        raise InputError(f"{root}: expected a nuScenes dataroot folder")
    if version:
        vdir = root / version
        if not vdir.is_dir():
            raise InputError(f"{root}: --version: no folder {version!r} under the dataroot")
        return vdir
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "scene.json").is_file())
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise InputError(f"{root}: expected exactly one version folder holding scene.json "
                         f"(found: {names}); pass --version")
    return found[0]


def read_tables(vdir: Path) -> dict[str, dict[str, dict]]:
    """Load the 13 tables of a version folder as ``{table: {token: record}}``."""
    tables: dict[str, dict[str, dict]] = {}
    for name in TABLES:
        path = vdir / f"{name}.json"
        if not path.is_file():
            raise InputError(f"{path}: missing table; a nuScenes version folder holds the 13 tables "
                             f"{', '.join(TABLES)}")
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: expected a JSON list of records, the file does not parse ({exc})") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) and "token" in r for r in records):
            raise InputError(f"{path}: expected a JSON list of records with a 'token' each")
        tables[name] = {r["token"]: r for r in records}
    return tables


def _get(tables: dict, vdir: Path, table: str, tok: str, field: str) -> dict:
    try:
        return tables[table][tok]
    except KeyError:
        raise InputError(f"{vdir / (table + '.json')}: {field}: expected a record with token {tok!r}, "
                         "none found") from None


def _read_points(path: Path) -> np.ndarray:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: LIDAR_TOP file listed in sample_data.json is missing") from None
    if len(raw) % 20:
        raise InputError(f"{path}: expected float32 x, y, z, intensity, ring (20 bytes per point), "
                         f"got {len(raw)} bytes")
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 5)


def _box(ann: dict, frame: int, ts: int, attr_names: dict[str, str], where: str) -> Box:
    try:
        w, l, h = (float(v) for v in ann["size"])
        center = tuple(float(v) for v in ann["translation"])
        yaw = quat_to_yaw(ann["rotation"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{where}: expected translation [3], size [w, l, h] and rotation [w, x, y, z]") from None
    if len(center) != 3 or min(w, l, h) <= 0 or not np.isfinite([*center, w, l, h, yaw]).all():
        raise InputError(f"{where}: expected finite translation and positive size, got {ann.get('size')}")
    attrs = {attr_names[t]: True for t in ann.get("attribute_tokens", []) if attr_names.get(t) in ATTRIBUTES}
    extra = {"visibility": ann["visibility_token"]} if ann.get("visibility_token") else {}
    return Box(frame, center, (l, w, h), yaw, ts, "import", None, True, attrs,
               int(ann.get("num_lidar_pts", 0)), extra)


def import_nuscenes(root: Path, out_scene: Path, options: dict[str, Any]) -> LabelDocument | None:
    """Write scene ``options['scene']`` of ``root`` to ``out_scene``; returns its labels (None if none)."""
    vdir = _find_version(root, options.get("version"))
    t = read_tables(vdir)
    scenes = {s["name"]: s for s in t["scene"].values()}
    name = options.get("scene")
    if name is None:
        if len(scenes) != 1:
            raise InputError(f"{vdir / 'scene.json'}: holds {len(scenes)} scenes; pass --scene "
                             f"(one of {', '.join(sorted(scenes)[:10])})")
        name = next(iter(scenes))
    if name not in scenes:
        raise InputError(f"{vdir / 'scene.json'}: no scene named {name!r} (have {', '.join(sorted(scenes)[:10])})")
    sc = scenes[name]
    samples, tok = [], sc["first_sample_token"]
    while tok:
        samples.append(_get(t, vdir, "sample", tok, f"scene {name}: sample chain"))
        tok = samples[-1].get("next", "")
        if len(samples) > len(t["sample"]):
            raise InputError(f"{vdir / 'sample.json'}: the sample chain of scene {name!r} loops")
    channel_of = {c: _get(t, vdir, "sensor", r["sensor_token"], "calibrated_sensor.sensor_token")
                  for c, r in t["calibrated_sensor"].items()}
    keyframes: dict[str, dict[str, dict]] = {s["token"]: {} for s in samples}
    for sd in t["sample_data"].values():
        if sd.get("is_key_frame") and sd.get("sample_token") in keyframes:
            ch = channel_of[sd["calibrated_sensor_token"]]
            keyframes[sd["sample_token"]][ch["channel"]] = sd
    for s in samples:
        if LIDAR_CHANNEL not in keyframes[s["token"]]:
            raise InputError(f"{vdir / 'sample_data.json'}: sample {s['token']}: expected a key-frame "
                             f"{LIDAR_CHANNEL} sample_data, none found")
    lidar_calib = t["calibrated_sensor"][keyframes[samples[0]["token"]][LIDAR_CHANNEL]["calibrated_sensor_token"]]
    ego_from_lidar = pose_from_quat(lidar_calib["rotation"], lidar_calib["translation"])
    cameras: list[CameraModel] = []
    for ch in sorted({c for kf in keyframes.values() for c in kf if c != LIDAR_CHANNEL}):
        sd = next(kf[ch] for kf in keyframes.values() if ch in kf)
        cal = t["calibrated_sensor"][sd["calibrated_sensor_token"]]
        if channel_of[sd["calibrated_sensor_token"]].get("modality") != "camera":
            continue  # radar: not imported
        cameras.append(CameraModel(ch, int(sd["width"]), int(sd["height"]), np.asarray(cal["camera_intrinsic"]),
                                   np.zeros(5), pose_from_quat(cal["rotation"], cal["translation"])))
    attr_names = {a["token"]: a["name"] for a in t["attribute"].values()}
    doc = LabelDocument.new(name, source="import", author="lidarlabel import nuscenes")
    anns_of: dict[str, list[dict]] = {}
    for a in t["sample_annotation"].values():
        anns_of.setdefault(a["sample_token"], []).append(a)
    with SceneWriter(out_scene, name, ego_from_lidar, cameras, source="nuscenes") as w:
        for i, s in enumerate(tqdm(samples, desc="nuScenes import", unit="frame", disable=None, leave=False)):
            lsd = keyframes[s["token"]][LIDAR_CHANNEL]
            if lsd["calibrated_sensor_token"] != lidar_calib["token"]:
                cal = t["calibrated_sensor"][lsd["calibrated_sensor_token"]]
                if not np.allclose(pose_from_quat(cal["rotation"], cal["translation"]), ego_from_lidar, atol=1e-6):
                    raise InputError(f"{vdir / 'calibrated_sensor.json'}: scene {name!r}: the LIDAR_TOP "
                                     "calibration changes within the scene; expected one")
            pose = _get(t, vdir, "ego_pose", lsd["ego_pose_token"], "sample_data.ego_pose_token")
            images, image_ts = {}, {}
            for cam in cameras:
                sd = keyframes[s["token"]].get(cam.name)
                if sd is not None:
                    path = _inside(root, sd["filename"], vdir / "sample_data.json")
                    if not path.is_file():
                        raise InputError(f"{path}: camera image listed in sample_data.json is missing")
                    images[cam.name], image_ts[cam.name] = path.read_bytes(), int(sd["timestamp"])
            w.add_frame(int(lsd["timestamp"]), pose_from_quat(pose["rotation"], pose["translation"]),
                        _read_points(_inside(root, lsd["filename"], vdir / "sample_data.json")), images, image_ts)
            for a in anns_of.get(s["token"], []):
                inst = _get(t, vdir, "instance", a["instance_token"], "sample_annotation.instance_token")
                if inst["token"] not in doc.tracks:
                    cat = _get(t, vdir, "category", inst["category_token"], "instance.category_token")
                    doc.tracks[inst["token"]] = Track(inst["token"], cat["name"])
                where = f"{vdir / 'sample_annotation.json'}: {a['token']}"
                doc.tracks[inst["token"]].boxes[i] = _box(a, i, int(s["timestamp"]), attr_names, where)
    return doc if t["sample_annotation"] else None  # a test split has no annotations at all
