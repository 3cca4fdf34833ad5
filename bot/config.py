"""Configuration: a TOML file (see config.example.toml) with environment overrides.

Secrets come from the environment by their usual names (BOT_TOKEN, DATABASE_URL,
WEBHOOK_SECRET); any other key can be overridden as OUTREACH_<SECTION>__<KEY>. A bad value
stops the program at start with one line naming the key.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh_Hans", "zh_Hant", "en")
_config_file: ContextVar[Path | None] = ContextVar("config_file", default=None)


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the key."""


class Section(BaseModel):
    """A table of the TOML file; unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class WebhookSettings(Section):
    """Where Telegram delivers updates in webhook mode."""

    public_url: str = ""
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=1, le=65535)
    path: str = "/telegram"
    secret: SecretStr = SecretStr("")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value


class TelegramSettings(Section):
    """How to reach Telegram, and which runtime talks to it."""

    token: SecretStr = SecretStr("")
    api_base_url: str = "https://api.telegram.org"
    bot_username: str = ""
    runtime: Literal["aiogram", "ptb"] = "aiogram"
    mode: Literal["polling", "webhook"] = "polling"
    polling_timeout: int = Field(default=30, ge=0, le=50)
    admins: list[int] = Field(default_factory=list)
    webhook: WebhookSettings = WebhookSettings()

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: list[int]) -> list[int]:
        if any(user_id <= 0 for user_id in value):
            raise ValueError("Telegram user ids are positive numbers")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")


class WebSettings(Section):
    """The web channel: the chat page served to phone browsers (WeChat's included)."""

    # Serve the web channel. With no Telegram token it is all that runs.
    enabled: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=1, le=65535)
    # The address people reach the page at (behind the reverse proxy): invite links,
    # posters and personal links are made from it. Empty: http://listen_host:listen_port.
    public_base_url: str = ""
    # Take the client's address from X-Forwarded-For (set only behind your own proxy).
    trust_forwarded: bool = False
    # Requests a second one address may make (and the burst it may save up).
    rate_per_address: float = Field(default=20.0, gt=0)
    burst_per_address: int = Field(default=40, ge=1)
    # Requests a second one chat may make, and its burst.
    rate_per_chat: float = Field(default=3.0, gt=0)
    burst_per_chat: int = Field(default=12, ge=1)
    # New chats an address may open a minute (a factory's Wi-Fi is one address).
    new_chats_per_minute: float = Field(default=30.0, gt=0)
    # Largest picture a person may upload, in bytes (the page shrinks photos before).
    upload_max_bytes: int = Field(default=5_000_000, ge=10_000, le=50_000_000)

    @field_validator("public_base_url")
    @classmethod
    def _public(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://outreach.example.gov.cn")
        return value.rstrip("/")

    @property
    def base_url(self) -> str:
        """Where people reach the page."""
        return self.public_base_url or f"http://{self.listen_host}:{self.listen_port}"

    @property
    def secure(self) -> bool:
        """Served over HTTPS (behind a proxy): cookies are marked Secure."""
        return self.base_url.startswith("https://")


class DatabaseSettings(Section):
    """Where the data lives."""

    url: str = "sqlite+aiosqlite:///outreach.db"
    # At start, an unreachable database is tried again for this many seconds before the bot
    # exits with code 3 (0: exit at the first failure).
    start_wait_seconds: float = Field(default=60.0, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value


class CampaignSettings(Section):
    """The season: its phases and dates, in local time."""

    name: str = "在务工地过年"
    # The unit that issues the campaign's papers (posters, exports), as printed on them.
    issuer: str = ""
    timezone: str = "Asia/Shanghai"
    holiday: date = date(2027, 2, 6)
    publicity_start: date = date(2027, 1, 6)
    publicity_end: date = date(2027, 1, 9)
    service_start: date = date(2027, 1, 10)
    service_end: date = date(2027, 2, 14)
    help_phones: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The campaign's time zone."""
        return ZoneInfo(self.timezone)


class ConversationSettings(Section):
    """How conversations behave."""

    timeout_hours: float = Field(default=24, gt=0)
    ask_again_days: list[int] = Field(default_factory=lambda: [3, 7, 14], min_length=1)
    note_max_length: int = Field(default=500, ge=10, le=3000)


class I18nSettings(Section):
    """Languages of the catalogs."""

    default_language: str = "zh_Hans"
    languages: list[str] = Field(default_factory=lambda: list(LANGUAGES))
    locales_dir: Path = REPO_ROOT / "locales"

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        unknown = [lang for lang in value if lang not in LANGUAGES]
        if unknown or not value:
            raise ValueError(f"choose from {', '.join(LANGUAGES)}")
        return value


class PrivacySettings(Section):
    """Consent and retention of personal data."""

    consent_version: int = Field(default=1, ge=1)
    retention_days: int = Field(default=30, ge=0)


class SchedulerSettings(Section):
    """Whether this process runs the scheduler and the broadcast sender (exactly one should)."""

    enabled: bool = True
    misfire_grace_seconds: int = Field(default=3600, ge=1)


class BroadcastSettings(Section):
    """How fast the sender drains deliveries, and how hard it tries."""

    # Telegram allows about 30 messages a second in bulk; stay under it.
    rate_per_second: float = Field(default=25.0, gt=0, le=10_000)
    # Telegram allows about one message a second to one chat.
    per_chat_seconds: float = Field(default=1.0, ge=0)
    max_attempts: int = Field(default=5, ge=1, le=50)
    progress_seconds: float = Field(default=5.0, gt=0)
    # /healthz answers 503 once the sender has not read or written the database for longer.
    stuck_seconds: float = Field(default=60.0, gt=0)


class RetrySettings(Section):
    """The waits between tries while the database or the Bot API is out of reach."""

    # The first wait; each further one doubles it, up to the longest.
    first_seconds: float = Field(default=1.0, gt=0, le=60)
    longest_seconds: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _order(self) -> RetrySettings:
        if self.longest_seconds < self.first_seconds:
            raise ValueError("longest_seconds is less than first_seconds")
        return self


class ReportingSettings(Section):
    """The contacts' daily headcount report: deadline, reminders, period and limits."""

    # Local time by which each enterprise reports; later reports are kept and marked late.
    deadline: time = time(16, 0)
    # Local times at which contacts of enterprises without today's report are reminded.
    reminder_times: list[time] = Field(default_factory=lambda: [time(15, 0), time(16, 0)])
    # The days reminders (and re-asks) run; unset, the campaign's service dates.
    period_start: date | None = None
    period_end: date | None = None
    # A worker's check-in older than this many days is stale: shown so, and asked again.
    stale_days: int = Field(default=7, ge=1, le=365)
    # When, and how often at most (days), undecided and stale workers are asked again.
    reask_time: time = time(10, 0)
    reask_every_days: int = Field(default=3, ge=1, le=365)
    # The largest number a report accepts for any figure.
    max_count: int = Field(default=100_000, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _period(self) -> ReportingSettings:
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class InviteSettings(Section):
    """Single-use invite links for staff, town officers and enterprise contacts."""

    expire_days: int = Field(default=7, ge=1, le=365)


class RequestSettings(Section):
    """Workers' requests for help."""

    # A request to an employer's contact unanswered this long goes to district staff too.
    escalate_after_hours: float = Field(default=24, gt=0)
    # Longest description of a request, or of a nomination's measure, in characters.
    description_max_length: int = Field(default=1000, ge=50, le=3000)


class NominationSettings(Section):
    """The advanced-model nominations."""

    # The last local day contacts may submit or change their enterprise's nomination.
    deadline: date = date(2027, 2, 14)
    # So many days before the deadline, the contacts of enterprises with an unsubmitted
    # draft or no nomination are reminded (0: on the deadline day itself).
    remind_days_before: int = Field(default=2, ge=0, le=60)
    # How many model employers the district selects (the notice: no fewer than three).
    target: int = Field(default=3, ge=3, le=1000)


class StatsSettings(Section):
    """The staff's picture of the day and its daily digest."""

    # Enterprises whose report and whose workers' check-ins differ by this many are listed.
    gap_threshold: int = Field(default=5, ge=1)
    # When the daily digest goes to staff (local time).
    digest_time: time = time(18, 0)


class LoggingSettings(Section):
    """Log verbosity."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    """Every setting of the program."""

    model_config = SettingsConfigDict(
        env_prefix="OUTREACH_", env_nested_delimiter="__", extra="forbid"
    )

    telegram: TelegramSettings = TelegramSettings()
    web: WebSettings = WebSettings()
    database: DatabaseSettings = DatabaseSettings()
    campaign: CampaignSettings = CampaignSettings()
    conversation: ConversationSettings = ConversationSettings()
    i18n: I18nSettings = I18nSettings()
    privacy: PrivacySettings = PrivacySettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    broadcast: BroadcastSettings = BroadcastSettings()
    retry: RetrySettings = RetrySettings()
    stats: StatsSettings = StatsSettings()
    invites: InviteSettings = InviteSettings()
    reporting: ReportingSettings = ReportingSettings()
    requests: RequestSettings = RequestSettings()
    nominations: NominationSettings = NominationSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init values, then the usual secret variables, then OUTREACH_*, then the file."""
        return (
            init_settings,
            SecretsFromEnvironment(settings_cls),
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file.get()),
        )

    @property
    def conversation_timeout(self) -> timedelta:
        """How long an untouched conversation stays open."""
        return timedelta(hours=self.conversation.timeout_hours)

    @property
    def reporting_period(self) -> tuple[date, date]:
        """The first and last day of daily reports (the service dates unless configured)."""
        reporting, campaign = self.reporting, self.campaign
        return (
            reporting.period_start or campaign.service_start,
            reporting.period_end or campaign.service_end,
        )

    @property
    def retention_until(self) -> date:
        """The day after which workers' personal data is anonymised."""
        return self.campaign.service_end + timedelta(days=self.privacy.retention_days)

    def require_token(self) -> str:
        """The bot token, or a ConfigError saying how to give one."""
        token = self.telegram.token.get_secret_value()
        if not token:
            raise ConfigError(
                "telegram.token: not set; put it in the config file or the BOT_TOKEN variable"
            )
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ConfigError("telegram.token: does not look like a token from @BotFather")
        return token

    @property
    def telegram_on(self) -> bool:
        """Whether Telegram runs: only once a token is set."""
        return bool(self.telegram.token.get_secret_value())

    def check_for_running(self) -> None:
        """The checks that only matter when the bot itself starts."""
        if self.telegram_on:
            self.require_token()
        elif not self.web.enabled:
            raise ConfigError(
                "telegram.token: not set and web.enabled is false, so nothing would run; "
                "set the token (or BOT_TOKEN) or enable the web channel"
            )
        if self.i18n.default_language not in self.i18n.languages:
            raise ConfigError("i18n.default_language: must be one of i18n.languages")
        if self.telegram_on and self.web.enabled and self.telegram.mode == "webhook":
            hook = self.telegram.webhook
            if (hook.listen_host, hook.listen_port) == (self.web.listen_host, self.web.listen_port):
                raise ConfigError(
                    "web.listen_port: the Telegram webhook listens there too; give one of "
                    "them another port"
                )
        if self.telegram_on and self.telegram.mode == "webhook":
            hook = self.telegram.webhook
            if not hook.public_url.startswith("https://") and not hook.public_url.startswith(
                "http://127.0.0.1"
            ):
                raise ConfigError("telegram.webhook.public_url: an https:// URL is required")
            if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", hook.secret.get_secret_value()):
                raise ConfigError(
                    "telegram.webhook.secret: 16-256 letters, digits, _ or - are required "
                    "(or the WEBHOOK_SECRET variable)"
                )


class SecretsFromEnvironment(PydanticBaseSettingsSource):
    """BOT_TOKEN, DATABASE_URL and WEBHOOK_SECRET, the names deployments already use."""

    NAMES: ClassVar[dict[str, tuple[str, ...]]] = {
        "BOT_TOKEN": ("telegram", "token"),
        "DATABASE_URL": ("database", "url"),
        "WEBHOOK_SECRET": ("telegram", "webhook", "secret"),
    }

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Not used: values are produced as a whole by __call__."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for variable, path in self.NAMES.items():
            value = os.environ.get(variable)
            if not value:
                continue
            node = values
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return values


def load_settings(path: Path | None) -> Settings:
    """Read the config file (if any) and the environment; ConfigError on any bad value."""
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} not found; copy config.example.toml to start")
    token = _config_file.set(path)
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{key}: {first['msg']}") from None
    except ValueError as error:  # a TOML syntax error
        raise ConfigError(f"{path}: {error}") from None
    finally:
        _config_file.reset(token)


__all__ = ["ConfigError", "Settings", "load_settings"]
