"""nuScenes interchange: ``export_scene`` writes a dataroot the devkit loads, ``import_scene`` reads one.

See docs/formats/nuscenes.md for every table and field, and the two modules
that do the work: :mod:`.nuscenes_export` and :mod:`.nuscenes_import`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lidarlabel.core.labels import LabelDocument
from lidarlabel.io.scene import SceneReader

__all__ = ["export_scene", "import_scene"]


def export_scene(scene: SceneReader, doc: LabelDocument, out_dir: Path, options: dict[str, Any]) -> Path:
    """Export ``scene`` with the world-frame labels ``doc`` as a nuScenes dataroot ``out_dir``.

    options: ``version`` (folder name, default ``v1.0-lidarlabel``), ``results`` (path of a
    pre-label document to write as detection + tracking submissions under ``out_dir/results``).
    """
    from lidarlabel.io.formats.nuscenes_export import export_nuscenes

    return export_nuscenes(scene, doc, Path(out_dir), options)


def import_scene(src: str, out_scene: Path, options: dict[str, Any]) -> LabelDocument | None:
    """Import one scene of the nuScenes dataroot ``src`` into ``out_scene``; returns its labels.

    options: ``scene`` (scene name; optional when the dataset has one scene), ``version``
    (folder under the dataroot; optional when there is one).
    """
    from lidarlabel.io.formats.nuscenes_import import import_nuscenes

    return import_nuscenes(Path(src), Path(out_scene), options)
