"""Gettext catalogs (Babel) per language, and rendering of flow messages into Telegram HTML.

The .po files under locales/ are read and compiled in memory at start, so there is no build
step. Message ids are keys ("checkin.ask_plan"); parameters are named ({name}) and escaped
unless they are themselves messages.

A message that counts something has plural forms: its `msgid_plural` names the parameter
that counts, and the language's Plural-Forms rule picks the form ("In 1 day", "In 3 days"):

    msgid "checkin.again_in_days"
    msgid_plural "days"
    msgstr[0] "In {days} day"
    msgstr[1] "In {days} days"
"""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from handlers.actions import Lines, Msg, Param, Raw

log = logging.getLogger(__name__)
DOMAIN = "messages"


def po_path(locales_dir: Path, language: str) -> Path:
    """Where a language's catalog lives."""
    return locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_translations(path: Path, language: str) -> tuple[Translations, dict[str, str]]:
    """Compile one .po file into gettext translations, in memory; with the parameter that
    counts, for each key that has plural forms."""
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    counted = {
        str(message.id[0]): str(message.id[1])
        for message in catalog
        if message.pluralizable and isinstance(message.id, tuple)
    }
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN), counted


class Catalogs:
    """Every language's catalog; renders messages for the runtimes and the exports."""

    def __init__(
        self, locales_dir: Path, languages: tuple[str, ...], default: str, zone: ZoneInfo
    ) -> None:
        self.languages = languages
        self.default = default
        self.zone = zone
        loaded = {lang: load_translations(po_path(locales_dir, lang), lang) for lang in languages}
        self._translations = {lang: translations for lang, (translations, _) in loaded.items()}
        self._counted = {lang: counted for lang, (_, counted) in loaded.items()}
        self._locales = {lang: Locale.parse(lang) for lang in languages}

    def has(self, language: str, key: str) -> bool:
        """Whether the language's catalog translates the key."""
        return self._translations[language].gettext(key) != key

    def plain(self, language: str, key: str) -> str:
        """The catalog text for a key, falling back to the default language, then the key."""
        return self._template(language, key, {})

    def _template(self, language: str, key: str, params: Mapping[str, Param]) -> str:
        """The catalog text for a key, in the plural form its counting parameter asks for."""
        for lang in (language, self.default):
            translations = self._translations.get(lang)
            if translations is None:
                continue
            counter = self._counted[lang].get(key)
            count = params.get(counter) if counter is not None else None
            if counter is not None and isinstance(count, int) and not isinstance(count, bool):
                return translations.ngettext(key, counter, count)
            text = translations.gettext(key)
            if text != key:
                return text
        log.warning("missing message %s (%s)", key, language)
        return key

    def render(self, language: str, text: Msg | Raw) -> str:
        """A message as Telegram HTML in the language."""
        if isinstance(text, Raw):
            return html.escape(text.text, quote=False)
        template = self._template(language, text.key, text.params)
        if not text.params:
            return template
        values = {name: self._param(language, value) for name, value in text.params.items()}
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError):
            log.exception("bad placeholders in %s (%s)", text.key, language)
            fallback = self._template(self.default, text.key, text.params)
            return fallback.format_map(_Missing(values))

    def label(self, language: str, text: Msg | Raw) -> str:
        """Text for a button or placeholder: rendered like a message, but not HTML."""
        return html.unescape(self.render(language, text))

    def _param(self, language: str, value: Param) -> str:
        locale = self._locales.get(language, self._locales[self.default])
        if isinstance(value, Msg | Raw):
            return self.render(language, value)
        if isinstance(value, Lines):
            sep = value.sep if isinstance(value.sep, str) else self.render(language, value.sep)
            return sep.join(self._param(language, item) for item in value.items)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            # Chinese text writes 2800, not 2,800: no Western thousands separators there.
            return format_decimal(value, locale=locale, group_separator=locale.language != "zh")
        if isinstance(value, datetime):
            local = value.astimezone(self.zone)
            when = format_time(local, "HH:mm", locale=locale)
            return f"{format_date(local.date(), 'medium', locale=locale)} {when}"
        if isinstance(value, date):
            return format_date(value, "medium", locale=locale)
        return html.escape(value, quote=False)


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
