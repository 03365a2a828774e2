"""The command line's own behaviour: discovery, exit codes, interrupts."""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import pytest

from lidarlabel.cli import _redeliver_lost_interrupts, build_parser, main


def test_every_subcommand_of_the_design_contract_is_there():
    names = set(build_parser()._subparsers._group_actions[0].choices)
    assert {"sample", "info", "view", "prelabel", "eval", "diff", "lint", "history", "export", "import"} <= names


def test_bad_usage_exits_2_and_bad_input_exits_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as usage:
        main(["info"])
    assert usage.value.code == 2
    assert main(["info", str(tmp_path / "missing.h5")]) == 1
    assert "missing.h5" in capsys.readouterr().err


def test_an_interrupt_swallowed_by_a_gc_callback_is_delivered_again(monkeypatch):
    """Python prints "Exception ignored" for a KeyboardInterrupt raised in __del__ and goes on;
    the CLI re-raises it in the main thread so Ctrl-C still stops the command."""
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # restored after the test
    _redeliver_lost_interrupts()

    class Finaliser:
        def __del__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Finaliser()  # dropped at once: __del__ runs, its exception is "unraisable"
        gc.collect()
        deadline = time.monotonic() + 5  # the re-delivered interrupt lands at the next safe point
        while time.monotonic() < deadline:
            time.sleep(0.001)


def test_cli_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "lidarlabel.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("lidarlabel ")
