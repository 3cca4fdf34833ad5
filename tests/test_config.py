"""Configuration: the example file is valid, secrets come from the environment, and a bad
value stops the program with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from tests.harness import ROOT

EXAMPLE = ROOT / "config.example.toml"
TOKEN = "123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOT_TOKEN", "DATABASE_URL", "WEBHOOK_SECRET", "OUTREACH_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_is_valid_and_documents_the_defaults() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.campaign.timezone == "Asia/Shanghai"
    assert settings.campaign.holiday.isoformat() == "2027-02-06"
    assert settings.i18n.default_language == "zh_Hans"
    assert settings.telegram.mode == "polling"
    assert str(settings.retention_until) == "2027-03-16"


def test_every_setting_is_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    settings = load_settings(EXAMPLE)
    for section_name, section in settings:
        assert f"[{section_name}]" in text
        for key, value in section:
            if key == "webhook":
                for hook_key, _ in value:
                    assert f"\n{hook_key} = " in text or f"# {hook_key} = " in text, hook_key
                continue
            assert f"\n{key} = " in text or f"# {key} = " in text, f"{section_name}.{key}"


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("OUTREACH_LOGGING__LEVEL", "DEBUG")
    settings = load_settings(EXAMPLE)
    assert settings.require_token() == TOKEN
    assert settings.database.url == "postgresql+asyncpg://u@h/db"
    assert settings.logging.level == "DEBUG"
    assert TOKEN not in repr(settings), "the token never shows in a repr"


def test_the_webhook_and_the_web_channel_need_two_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_SECRET", "s" * 32)
    hook = '[telegram]\nmode = "webhook"\n[telegram.webhook]\npublic_url = "https://x.org/t"\n'
    with pytest.raises(ConfigError, match=r"^web\.listen_port: "):
        load_settings(write(tmp_path, hook)).check_for_running()


def test_no_token_runs_the_web_channel_alone(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE)
    settings.check_for_running()
    assert not settings.telegram_on and settings.web.enabled
    with pytest.raises(ConfigError, match=r"^telegram\.token: not set and web\.enabled"):
        load_settings(write(tmp_path, "[web]\nenabled = false\n")).check_for_running()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[campaign]\ntimezone = "Mars/Olympus"', r"^campaign\.timezone: .*unknown time zone"),
        ('[telegram]\ntokn = "x"', r"^telegram\.tokn: "),
        ('[telegram]\nmode = "carrier-pigeon"', r"^telegram\.mode: "),
        ("[conversation]\ntimeout_hours = -1", r"^conversation\.timeout_hours: "),
        ('[database]\nurl = "mysql://x"', r"^database\.url: "),
        ('[i18n]\nlanguages = ["fr"]', r"^i18n\.languages: "),
        ("[campaign\n", r"config\.toml: "),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, toml))


def test_webhook_mode_requires_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    path = write(
        tmp_path,
        '[telegram]\nmode = "webhook"\n[telegram.webhook]\npublic_url = "https://x.org/t"\n'
        "[web]\nlisten_port = 8081\n",
    )
    with pytest.raises(ConfigError, match=r"^telegram\.webhook\.secret: "):
        load_settings(path).check_for_running()
    monkeypatch.setenv("WEBHOOK_SECRET", "s" * 32)
    load_settings(path).check_for_running()


def test_the_command_line_prints_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite+aiosqlite:///x.db"\n[web]\nenabled = false\n')
    assert main(["--config", str(path), "run"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "config error: telegram.token: not set and web.enabled is false, so nothing would run; "
        "set the token (or BOT_TOKEN) or enable the web channel"
    ]
    assert main(["--config", str(tmp_path / "nope.toml"), "migrate"]) == 2
    assert "not found" in capsys.readouterr().err
