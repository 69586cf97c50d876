"""`make screenshots` retakes the README's pictures from the demo desk (tools/screenshots.py)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_PICTURES = (
    "portal-home", "ticket-form-suggestions", "tracking-page", "agent-queue",
    "agent-ticket", "vendor-page", "dashboard", "dashboard-charts",
)  # fmt: skip


@pytest.mark.timeout(300)
def test_every_readme_picture_is_taken_from_a_freshly_seeded_demo(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "screenshots.py"), "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    readme = (ROOT / "README.md").read_text()
    for name in README_PICTURES:
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (1280, 900), name
        assert f"docs/screenshots/{name}.png" in readme, f"{name} is not in the README tour"
    assert "8 screenshots" in result.stderr
