"""The layering of DESIGN.md is executable: Qt stays in the viewer, core stays plain numpy."""

from __future__ import annotations

import subprocess
import sys

import pytest

QT_FREE = ["lidarlabel.core", "lidarlabel.io", "lidarlabel.sim", "lidarlabel.prelabel",
           "lidarlabel.qa", "lidarlabel.edit", "lidarlabel.cli"]


def _loaded_after_import(packages: list[str]) -> set[str]:
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {packages!r}:\n"
        "    pkg = importlib.import_module(name)\n"
        "    for m in pkgutil.walk_packages(getattr(pkg, '__path__', []), name + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_nothing_below_the_viewer_imports_qt():
    mods = _loaded_after_import(QT_FREE)
    assert not {m for m in mods if m.split(".")[0] in {"PyQt6", "PyQt5", "PySide6", "pyqtgraph", "vispy"}}
    assert not {m for m in mods if m.startswith("lidarlabel.viewer")}


def test_core_imports_only_numpy_scipy_pyquaternion():
    mods = _loaded_after_import(["lidarlabel.core"])
    for banned in ("h5py", "open3d", "cv2", "PyQt6", "shapely", "lidarlabel.io"):
        assert banned not in mods, banned


@pytest.mark.parametrize("cmd", [["--help"], ["info", "--help"]])
def test_cli_help_is_fast_and_qt_free(cmd):
    code = (
        f"import sys; from lidarlabel.cli import main\ntry:\n    main({cmd!r})\n"
        "except SystemExit: pass\nprint('\\n'.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "PyQt6" not in out.split() and "open3d" not in out.split()
