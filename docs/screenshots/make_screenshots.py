"""Regenerate the viewer screenshots of docs/viewer.md and the README from the sample scene.

    xvfb-run -a .venv/bin/python docs/screenshots/make_screenshots.py

Uses the app's own screenshot function (the window at a fixed size, GL view
included); a PNG over ~390 KB is palette-quantised to stay small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
SIZE = (1440, 900)


def main() -> int:
    from PyQt6.QtCore import QSettings, Qt
    from PyQt6.QtGui import QImage
    from PyQt6.QtWidgets import QApplication

    from lidarlabel.edit.session import EditSession
    from lidarlabel.viewer.app import screenshot
    from lidarlabel.viewer.main_window import MainWindow

    scene = ROOT / "sample_scenes" / "sample.h5"
    labels = scene.with_name("sample.gt.json")
    app = QApplication(sys.argv[:1])  # noqa: F841 - must outlive the window
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(EditSession.open(scene, labels=labels, author="docs"), settings)
    s = w.session
    frame = min(6, s.num_frames - 1)

    def nearest(category_prefix: str, camera: str | None = None) -> str | None:
        """The nearest track of a category (seen by ``camera`` if given) in ``frame``."""
        import numpy as np

        from lidarlabel.core.camera import world_to_pixels

        ids, boxes = s.doc.frame_boxes(frame)
        ego = s.scene.ego_poses[frame]
        best = []
        for t, b in zip(ids, boxes):
            if not s.doc.tracks[t].category.startswith(category_prefix):
                continue
            if camera is not None:
                cam = s.scene.camera(camera)
                uv, depth, ok = world_to_pixels(cam, ego, b[None, :3])
                if not (ok[0] and cam.in_image(uv)[0] and depth[0] > 5):
                    continue
            best.append((float(np.linalg.norm(b[:2] - ego[:2, 3])), t))
        return min(best)[1] if best else None

    def save(name: str) -> None:
        path = OUT / name
        screenshot(w, path, frame=frame, size=SIZE)
        if path.stat().st_size > 390_000:  # keep docs light: fall back to a 256-colour palette
            img = QImage(str(path)).convertToFormat(QImage.Format.Format_Indexed8, Qt.ImageConversionFlag.DiffuseDither)
            img.save(str(path), "PNG", 0)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")

    s.set_frame(frame)
    s.select(nearest("vehicle.car"))
    save("viewer-overview.png")
    w.actions["birds_eye"].trigger()
    w.actions["color_intensity"].trigger()
    w.actions["camera_points"].trigger()
    save("viewer-birds-eye.png")
    w.actions["camera_points"].trigger()
    w.actions["chase"].trigger()
    w.actions["color_camera"].trigger()
    w.camera_panel.toggle_enlarged("CAM_FRONT")
    s.select(nearest("human.pedestrian", "CAM_FRONT") or nearest("vehicle", "CAM_FRONT"))
    save("viewer-chase-camera-colour.png")
    w.actions["color_height"].trigger()
    w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
