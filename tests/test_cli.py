"""The command line: migrate; towns, enterprises (one by one or from a sheet), invite links and
posters, administrators."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import cli
from bot.cli import main
from bot.config import ConfigError, load_settings
from models.db import create_engine, create_sessionmaker
from models.invites import Invite, InviteKind
from models.people import Person, Role
from tests.harness import CAMPAIGN_NOW, ROOT


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
    first = capsys.readouterr()
    assert re.fullmatch(r"database schema upgraded from nothing to revision \d{4}\n", first.out)
    assert first.err == "", "no migration log lines"
    assert main(["--config", str(config), "migrate"]) == 0
    assert re.fullmatch(r"database already at revision \d{4}\n", capsys.readouterr().out)


def test_a_command_says_what_it_did_and_logs_no_migrations(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "town", "add", "开发区"]) == 0
    first = capsys.readouterr()
    assert first.out == "town 1: 开发区\n"
    # The new database's schema is made once, and said once, in one line.
    assert re.fullmatch(r"database schema upgraded from nothing to revision \d{4}\n", first.err)
    assert main(["--config", str(config), "town", "list"]) == 0
    second = capsys.readouterr()
    assert "开发区" in second.out and second.err == ""


def test_python_dash_m_bot_is_the_same_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "enterprise" in result.stdout and "migrate" in result.stdout


# Towns, enterprises, invites and administrators -------------------------------------------


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def people_in(config: Path) -> list[tuple[int | None, Role]]:
    """(Telegram id, role) of everyone in the CLI's database."""

    url = re.search(r'url = "(.+)"', config.read_text(encoding="utf-8"))
    assert url

    async def read() -> list[tuple[int | None, Role]]:
        engine = create_engine(url.group(1))
        try:
            async with create_sessionmaker(engine)() as session:
                found = await session.execute(select(Person.telegram_user_id, Person.role))
                return [(tid, role) for tid, role in found]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_admin_add_creates_or_promotes(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "admin", "add", "777000") == 0
    assert "is now an administrator (new)" in capsys.readouterr().out
    assert run(config, "admin", "add", "777000") == 0
    assert "already an administrator" in capsys.readouterr().out
    assert people_in(config) == [(777000, Role.ADMIN)]
    assert run(config, "admin", "add", "0") == 2
    assert "positive" in capsys.readouterr().err


async def test_admins_from_the_config_are_made_at_start(
    tmp_path: Path, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTREACH_CONFIG", raising=False)
    path = tmp_path / "config.toml"
    path.write_text("[telegram]\nadmins = [111, 222]\n", encoding="utf-8")
    settings = load_settings(path)
    sessions = create_sessionmaker(db)
    async with sessions() as session, session.begin():
        session.add(
            Person(
                telegram_user_id=222,
                chat_id=222,
                role=Role.WORKER,
                language="zh_Hans",
                enrolled_at=CAMPAIGN_NOW,
                active=True,
            )
        )
    await cli._configured_admins(settings, sessions)
    await cli._configured_admins(settings, sessions)
    async with sessions() as session:
        found = await session.execute(select(Person.telegram_user_id, Person.role))
        assert sorted((tid, role) for tid, role in found) == [
            (111, Role.ADMIN),
            (222, Role.ADMIN),
        ]
    path.write_text("[telegram]\nadmins = [-5]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^telegram\.admins: "):
        load_settings(path)


def test_town_commands(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "town", "add", "南堡镇") == 0
    assert run(config, "town", "add", " 南堡镇 ") == 1
    assert "already exists" in capsys.readouterr().err
    assert run(config, "town", "add", "😀") == 2
    assert run(config, "town", "rename", "南堡镇", "南堡开发区") == 0
    assert run(config, "town", "rename", "西湖", "东湖") == 1
    assert run(config, "enterprise", "add", "钢铁二厂", "--town", "南堡开发区") == 0
    capsys.readouterr()
    assert run(config, "town", "list") == 0
    assert "南堡开发区\t1 active enterprises" in capsys.readouterr().out
    assert run(config, "town", "deactivate", "南堡开发区") == 0
    assert "deactivated, with 1 enterprises" in capsys.readouterr().out
    assert run(config, "enterprise", "add", "钢铁三厂", "--town", "南堡开发区") == 1
    assert "inactive" in capsys.readouterr().err
    assert run(config, "town", "add", "南堡开发区") == 0
    assert "reactivated" in capsys.readouterr().out
    assert run(config, "enterprise", "list") == 0
    assert "钢铁二厂 (inactive)" in capsys.readouterr().out


def test_enterprise_rename_deactivate_activate_and_contacts(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            config,
            "enterprise",
            "add",
            "城建一公司",
            "--town",
            "开发区",
            "--contact-name",
            "陈经理",
            "--contact-phone",
            "138-1234-5678",
        )
        == 0
    )
    assert (
        run(config, "enterprise", "add", "钢铁二厂", "--town", "开发区", "--contact-phone", "1")
        == 2
    )
    assert "not a mainland mobile number" in capsys.readouterr().err
    assert run(config, "enterprise", "rename", "城建一公司", "城建第一公司") == 0
    assert run(config, "enterprise", "deactivate", "城建第一公司") == 0
    assert run(config, "enterprise", "deactivate", "城建第一公司") == 1
    capsys.readouterr()
    assert run(config, "enterprise", "list") == 0
    assert "城建第一公司 (inactive)" in capsys.readouterr().out
    assert run(config, "enterprise", "activate", "城建第一公司") == 0
    capsys.readouterr()
    assert run(config, "enterprise", "list") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("1\t开发区\t城建第一公司\thttps://t.me/district_bot?start=")
    assert line.endswith("\t陈经理 13812345678")


def test_invite_links_for_roles(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(config, "enterprise", "add", "城建一公司", "--town", "开发区")
    capsys.readouterr()
    link = r"https://t\.me/district_bot\?start=[A-Za-z0-9_-]{8,64}"
    assert run(config, "invite", "staff") == 0
    out = capsys.readouterr().out
    assert re.search(
        rf"a staff member \(works once, until 2\d{{3}}-\d\d-\d\d \d\d:\d\d\):\n{link}", out
    )
    assert run(config, "invite", "town-officer", "--town", "开发区", "--days", "2") == 0
    assert "invite for a town officer of 开发区 (works once" in capsys.readouterr().out
    assert run(config, "invite", "contact", "城建一公司") == 0
    assert "invite for the contact of 城建一公司 (works once" in capsys.readouterr().out
    assert run(config, "invite", "deputy", "城建一公司") == 0
    assert "invite for the deputy contact of 城建一公司 (works once" in capsys.readouterr().out
    assert run(config, "invite", "contact", "无名公司") == 1
    assert run(config, "invite", "town-officer", "--town", "西湖") == 1
    assert run(config, "invite", "staff", "--days", "0") == 2


def test_enterprise_import_is_all_or_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(
        "企业名称,镇/街道,联系人,联系电话\n城建一公司,开发区,陈经理,13812345678\n钢铁二厂,南堡镇,,\n".encode(
            "gbk"
        )
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "enterprise,town,contact phone\n水泥厂,开发区,13812345678\n石灰厂,开发区,12345\n",
        encoding="utf-8-sig",
    )
    assert run(config, "enterprise", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert "nothing imported: 1 rows are wrong" in err and "row 3: contact phone '12345'" in err
    assert run(config, "enterprise", "list") == 0
    assert capsys.readouterr().out == ""

    assert run(config, "enterprise", "import", str(good)) == 0
    assert "imported 2 enterprises (2 new towns)" in capsys.readouterr().out
    assert run(config, "enterprise", "list") == 0
    assert capsys.readouterr().out.count("https://t.me/district_bot?start=") == 2
    assert run(config, "enterprise", "import", str(tmp_path / "missing.xlsx")) == 2


def test_invite_poster(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(config, "enterprise", "add", "城建一公司", "--town", "开发区")
    out = tmp_path / "poster.png"
    # A poster names the unit that issues it.
    assert run(config, "invite", "poster", "城建一公司", "--out", str(out)) == 2
    assert "campaign.issuer" in capsys.readouterr().err and not out.exists()
    settings = config.read_text(encoding="utf-8")
    config.write_text(
        settings + '[campaign]\nissuer = "示例区人力资源和社会保障局"\n'
        'help_phones = ["0315-0000001"]\n',
        encoding="utf-8",
    )
    assert run(config, "invite", "poster", "城建一公司", "--out", str(out)) == 0
    assert "opens the bot in Telegram" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # With the web channel's public address, the QR code opens the invite there.
    config.write_text(
        config.read_text(encoding="utf-8")
        + '[web]\npublic_base_url = "https://outreach.example.gov.cn"\n',
        encoding="utf-8",
    )
    assert run(config, "invite", "poster", "城建一公司", "--out", str(out)) == 0
    assert "opens the web page" in capsys.readouterr().out
    pdf = tmp_path / "poster.pdf"
    assert run(config, "invite", "poster", "城建一公司", "--out", str(pdf), "--language", "en") == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert run(config, "invite", "poster", "城建一公司", "--out", str(tmp_path / "p.jpg")) == 2
    assert run(config, "invite", "poster", "城建一公司", "--out", str(out), "--language", "fr") == 2


def test_invite_inspection_makes_a_labour_inspection_staff_link(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "invite", "inspection", "--days", "3") == 0
    out = capsys.readouterr().out
    found = re.search(
        r"invite for a labour inspection staff member \(works once, until [^)]+\):\n"
        r"https://t\.me/district_bot\?start=([A-Za-z0-9_-]{8,64})",
        out,
    )
    assert found, out
    url = re.search(r'url = "(.+)"', config.read_text(encoding="utf-8"))
    assert url

    async def kinds() -> list[tuple[str, InviteKind, int | None]]:
        engine = create_engine(url.group(1))
        try:
            async with create_sessionmaker(engine)() as session:
                rows = await session.execute(select(Invite.code, Invite.kind, Invite.max_uses))
                return [(code, kind, uses) for code, kind, uses in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(kinds()) == [(found.group(1), InviteKind.INSPECTION, 1)]
    assert run(config, "invite", "inspection", "--days", "0") == 2
