"""Files across channels: a file reference the flows keep, read as bytes where needed.

A picture or voice travels through the flows as a reference of the channel it came in on: a
web upload as `web:N` (a row of models/web.py), a Telegram upload as Telegram's file id.
Each messenger sends its own channel's references as they are; for the other channel's it
asks here for the bytes: a web upload from the database, a Telegram file through the Bot
API (getFile, then the download) with the configured token, up to a size cap. Without a
token a Telegram file cannot be had, and the caller is told so (`FileUnavailable`).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messenger import Rejected, Transient, bot_api_error
from models import web

# A file a person uploaded on the web page travels through the flows under this prefix.
WEB_PREFIX = "web:"
TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
# The largest file the Bot API lets a bot download (getFile).
FETCH_LIMIT = 20 * 1000 * 1000
# Telegram files fetched lately are kept up to this many bytes: a broadcast's picture goes
# to every web reader from one download, not one each.
RECENT_BYTES = 20 * 1000 * 1000
# What Telegram shows as a voice message (sendVoice): OGG/Opus, MP3 and M4A. Other audio
# (AMR, WAV, WebM from a phone's recorder) goes as a document, which Telegram always takes.
VOICE_TYPES = frozenset({"audio/ogg", "audio/opus", "audio/mpeg", "audio/mp4", "audio/x-m4a"})
# Telegram's ids of the web files this process uploaded, this many at most: a picture sent
# to many Telegram readers (a broadcast) goes up once, then by the id Telegram gave it.
UPLOADS_KEPT = 10_000
# How a file goes to Telegram: the Bot API's field for it (sendPhoto's photo, ...).
SentAs = Literal["photo", "voice", "document"]


def web_ref(file_id: int) -> str:
    """The reference the flows keep for a web upload."""
    return f"{WEB_PREFIX}{file_id}"


def parse_web_ref(ref: str) -> int | None:
    """The web file a reference names, or None for a Telegram file id."""
    number = ref[len(WEB_PREFIX) :]
    if not ref.startswith(WEB_PREFIX) or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


def shows_as_voice(mime: str) -> bool:
    """Whether Telegram plays a file of this type as a voice message."""
    return mime.split(";", 1)[0].strip().lower() in VOICE_TYPES


@dataclass(frozen=True)
class FileData:
    """A file's bytes, its type and a name to upload it under."""

    data: bytes
    mime: str
    name: str


class FileUnavailable(Rejected):
    """The file cannot be had here (no Telegram token, too large, gone): trying again will
    not help."""


async def telegram_source(files: Files | None, ref: str, sent_as: SentAs) -> str | FileData:
    """What a Telegram messenger sends for a file reference: Telegram's own file id as it
    is; a web upload by the id Telegram gave it when this process uploaded it as `sent_as`,
    or its bytes to upload (refused where no reader of files is wired)."""
    if parse_web_ref(ref) is None:
        return ref
    if files is None:
        raise Rejected("a web file, and no way to read it here")
    return files.uploaded(ref, sent_as) or await files.read(ref)


async def photo_source(files: Files | None, photo: bytes | str) -> str | FileData:
    """What a Telegram messenger sends for a picture: one the bot drew (bytes) as an upload,
    or a file reference as `telegram_source` reads it."""
    if isinstance(photo, bytes):
        return FileData(photo, "image/png", "photo.png")
    return await telegram_source(files, photo, "photo")


def remember_upload(
    files: Files | None, ref: str | bytes, source: str | FileData, sent_as: SentAs, sent: Any
) -> None:
    """After a send: a web file just uploaded as `sent_as` is known by Telegram's id for it
    from now on (a picture the bot drew, given as bytes, is not a file to remember). `sent`
    is the message sent, as Bot API JSON or a framework's object."""
    if files is None or not isinstance(source, FileData) or not isinstance(ref, str):
        return
    if parse_web_ref(ref) is None:
        return
    item = sent.get(sent_as) if isinstance(sent, Mapping) else getattr(sent, sent_as, None)
    if isinstance(item, list | tuple):
        # A photo comes back in several sizes, the largest last.
        item = item[-1] if item else None
    file_id = item.get("file_id") if isinstance(item, Mapping) else getattr(item, "file_id", None)
    if isinstance(file_id, str) and file_id:
        files.remember_upload(ref, sent_as, file_id)


class Files:
    """Reads any file reference as bytes: web uploads from the database, Telegram files
    through the Bot API."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        api_base_url: str,
        token: str,
        limit: int,
    ) -> None:
        self.sessions = sessions
        self._api = api_base_url.rstrip("/")
        self._token = token
        self.limit = limit
        self._recent: OrderedDict[str, FileData] = OrderedDict()
        self._uploads: OrderedDict[tuple[str, SentAs], str] = OrderedDict()
        # One download at a time: readers of the same file wait for it and take it from
        # the recent ones.
        self._fetching = asyncio.Lock()

    async def read(self, ref: str) -> FileData:
        """The file a reference names, whichever channel holds it."""
        file_id = parse_web_ref(ref)
        if file_id is not None:
            return await self._from_database(file_id)
        return await self._from_telegram(ref)

    def uploaded(self, ref: str, sent_as: SentAs) -> str | None:
        """Telegram's id for a web file this process uploaded as `sent_as`, if it did."""
        key = (ref, sent_as)
        found = self._uploads.get(key)
        if found is not None:
            self._uploads.move_to_end(key)
        return found

    def remember_upload(self, ref: str, sent_as: SentAs, telegram_file_id: str) -> None:
        """A web file went up to Telegram as `sent_as` and Telegram calls it this now."""
        self._uploads[ref, sent_as] = telegram_file_id
        self._uploads.move_to_end((ref, sent_as))
        while len(self._uploads) > UPLOADS_KEPT:
            self._uploads.popitem(last=False)

    async def _from_database(self, file_id: int) -> FileData:
        async with self.sessions() as session:
            stored = await session.get(web.WebFile, file_id)
            if stored is None:
                raise FileUnavailable("web file not found")
            name = stored.name
            if "." not in name:
                # Uploaded under a bare name ("photo"): Telegram goes by the extension.
                name += mimetypes.guess_extension(stored.mime) or ""
            return FileData(stored.data, stored.mime, name)

    async def _from_telegram(self, file_id: str) -> FileData:
        if not self._token:
            raise FileUnavailable("a Telegram file, and no Telegram token is set")
        async with self._fetching:
            found = self._recent.get(file_id)
            if found is None:
                found = await self._download(file_id)
                self._keep(file_id, found)
            else:
                self._recent.move_to_end(file_id)
            return found

    def _keep(self, file_id: str, file: FileData) -> None:
        self._recent[file_id] = file
        while sum(len(f.data) for f in self._recent.values()) > RECENT_BYTES:
            self._recent.popitem(last=False)

    async def _download(self, file_id: str) -> FileData:
        # The token is in both addresses: no error below names them.
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as client:
                path = await self._path(client, file_id)
                url = f"{self._api}/file/bot{self._token}/{path}"
                async with client.get(url) as response:
                    if response.status == 404:
                        raise FileUnavailable("Telegram no longer holds the file")
                    if response.status != 200:
                        raise Transient(f"file download: HTTP {response.status}")
                    data = bytearray()
                    async for chunk in response.content.iter_chunked(65536):
                        data.extend(chunk)
                        if len(data) > self.limit:
                            raise FileUnavailable(f"over {self.limit} bytes")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Transient(type(error).__name__) from None
        name = path.rsplit("/", 1)[-1] or "file"
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileData(bytes(data), mime, name)

    async def _path(self, client: aiohttp.ClientSession, file_id: str) -> str:
        """Where the Bot API serves the file (getFile), once its size is known to fit."""
        url = f"{self._api}/bot{self._token}/getFile"
        async with client.post(url, json={"file_id": file_id}) as response:
            status, body = response.status, await response.read()
        try:
            answer = json.loads(body)
        except ValueError:
            raise Transient(f"getFile: HTTP {status}, not JSON") from None
        if not answer.get("ok"):
            error = bot_api_error(status, answer)
            if type(error) is Rejected:
                raise FileUnavailable(str(error))
            raise error
        result = answer.get("result") or {}
        size, path = result.get("file_size"), result.get("file_path")
        if isinstance(size, int) and size > self.limit:
            raise FileUnavailable(f"{size} bytes, over {self.limit}")
        if not isinstance(path, str) or not path:
            raise FileUnavailable("Telegram gave no path to download the file")
        return path
