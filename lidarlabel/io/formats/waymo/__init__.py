"""Waymo Open Dataset interchange: v1 TFRecord of ``Frame`` protos and v2 Parquet components.

``export_scene`` writes v1 (default) or v2 (``options["format"] == "v2"``);
``import_scene`` reads a v1 ``.tfrecord`` file or a v2 folder of components.
The Frame schema is ``frame.proto`` in this package (official field numbers);
conventions and field mapping in docs/formats/waymo.md.
"""

from __future__ import annotations

from pathlib import Path

from lidarlabel.core.labels import LabelDocument
from lidarlabel.errors import InputError
from lidarlabel.io.scene import SceneReader

__all__ = ["export_scene", "import_scene"]


def export_scene(scene: SceneReader, doc: LabelDocument, out_dir: Path, options: dict) -> Path:
    """Export ``scene`` with the world-frame labels of ``doc`` to ``out_dir``; returns what was written.

    v1: the path of ``segment-<context>_with_camera_labels.tfrecord``; v2: ``out_dir``
    holding ``<component>/<context>.parquet``.
    """
    variant = (options or {}).get("format") or "v1"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if variant == "v1":
        from lidarlabel.io.formats.waymo.v1 import export_v1

        return export_v1(scene, doc, out_dir)
    if variant == "v2":
        from lidarlabel.io.formats.waymo.v2 import export_v2

        return export_v2(scene, doc, out_dir)
    raise InputError(f"--format: expected v1 or v2 for the waymo export, got {variant!r}")


def import_scene(src: str, out_scene: Path, options: dict) -> LabelDocument | None:
    """Import a v1 ``.tfrecord`` (file) or a v2 component folder into ``out_scene``; returns the labels."""
    path = Path(src)
    if path.is_dir():
        from lidarlabel.io.formats.waymo.v2 import import_v2

        return import_v2(path, Path(out_scene), options or {})
    if not path.is_file():
        raise InputError(f"{src}: no such file; expected a Waymo v1 .tfrecord or a v2 component folder")
    from lidarlabel.io.formats.waymo.v1 import import_v1

    return import_v1(path, Path(out_scene), options or {})
