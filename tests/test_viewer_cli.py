"""``lidarlabel view``: argument checks and the --screenshot path."""

from __future__ import annotations

import pytest

from lidarlabel.cli import main
from lidarlabel.io.scene import SceneReader
from tests.gui_support import SAMPLE


def test_view_rejects_missing_files_and_bad_frames(tmp_path, capsys):
    assert main(["view", str(tmp_path / "nope.h5")]) == 1
    assert "nope.h5: scene: expected an existing .h5 scene file" in capsys.readouterr().err
    assert main(["view", str(SAMPLE), "--labels", str(tmp_path / "x.json")]) == 1
    with SceneReader.open(SAMPLE) as r:
        last = r.num_frames - 1
    assert main(["view", str(SAMPLE), "--frame", str(last + 1), "--screenshot", str(tmp_path / "a.png")]) == 1
    assert f"--frame: expected 0..{last}, got {last + 1}" in capsys.readouterr().err
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    assert main(["view", str(bad), "--screenshot", str(tmp_path / "b.png")]) == 1
    assert "bad.h5" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()


@pytest.mark.gui
def test_view_screenshot_writes_a_png(qapp, tmp_path):
    out = tmp_path / "shot.png"
    assert main(["view", str(SAMPLE), "--labels", str(SAMPLE.with_name("sample.gt.json")),
                 "--screenshot", str(out), "--frame", "4"]) == 0
    assert out.stat().st_size > 50_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
