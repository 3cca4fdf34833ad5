"""The command line: migrate, add enterprises with their invite links, list them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.harness import ROOT


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BOT_TOKEN", "DATABASE_URL", "OUTREACH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[telegram]\nbot_username = "district_bot"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"\n',
        encoding="utf-8",
    )
    return path


def test_enterprise_add_prints_a_working_invite_link(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["--config", str(config), "enterprise", "add", "城建一公司", "--town", "开发区"]) == 0
    )
    out = capsys.readouterr().out
    assert "城建一公司 (开发区)" in out
    link = re.search(r"https://t\.me/district_bot\?start=([A-Za-z0-9_-]{8,64})", out)
    assert link, out

    assert (
        main(["--config", str(config), "enterprise", "add", "城建一公司", "--town", "开发区"]) == 1
    )
    assert "already exists" in capsys.readouterr().err

    assert main(["--config", str(config), "enterprise", "list"]) == 0
    listing = capsys.readouterr().out
    assert "开发区\t城建一公司" in listing and link.group(0) in listing


def test_migrate_reports_the_revision(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "migrate"]) == 0
    assert re.search(r"database at revision \d{4}", capsys.readouterr().out)


def test_python_dash_m_bot_is_the_same_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "enterprise" in result.stdout and "migrate" in result.stdout
