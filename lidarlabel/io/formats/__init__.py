"""Interchange with public dataset formats: one module (or package) per format.

Every format module exposes the two functions the ``lidarlabel export`` and
``lidarlabel import`` commands call (nothing else is relied on)::

    export_scene(scene: SceneReader, doc: LabelDocument, out_dir: Path, options: dict) -> Path
    import_scene(src: str, out_scene: Path, options: dict) -> LabelDocument | None

Conversions of frames and size orders happen only in these modules (see
docs/formats/). Bad input raises :class:`lidarlabel.errors.InputError` naming the
file, the field and what was expected. The registries below map a format name to
its module path; the CLI imports the module by name only when it is used, so
``lidarlabel --help`` never loads pyarrow, protobuf or the like.
"""

from __future__ import annotations

EXPORTERS: dict[str, str] = {
    "nuscenes": "lidarlabel.io.formats.nuscenes",
    "waymo": "lidarlabel.io.formats.waymo",
    "kitti": "lidarlabel.io.formats.kitti",
}

IMPORTERS: dict[str, str] = {
    "kitti": "lidarlabel.io.formats.kitti",
    "nuscenes": "lidarlabel.io.formats.nuscenes",
    "waymo": "lidarlabel.io.formats.waymo",
    "pcd": "lidarlabel.io.formats.pcd",
}
