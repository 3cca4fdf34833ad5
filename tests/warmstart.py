"""Bot processes forked from a warm server that has the bot's libraries imported already.

Importing aiogram builds every one of its pydantic models, four seconds of CPU on a
two-core machine, and the end-to-end tests start a bot process dozens of times (restarts and
crashes included). A multiprocessing fork server imports the program's modules once; each
bot is then a fresh process forked from it that runs `python -m MODULE ARGS` as a new
interpreter would: its own pid, environment, working directory and log file, killed by a
real signal. Only the imports are shared, never an open connection or a running loop.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import runpy
import subprocess
import sys
from functools import cache
from multiprocessing.context import ForkServerContext
from pathlib import Path

# What every bot process imports before it reads its configuration.
PRELOAD = [
    "aiogram",
    "telegram.ext",
    "bot.cli",
    "bot.app",
    "bot.runtimes.aiogram_runtime",
    "bot.runtimes.ptb_runtime",
    "bot.runtimes.web.server",
]


@cache
def _warm() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _run(module: str, args: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    """In the forked child: become `python -m module args`, writing to the log file."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # Unbuffered, as PYTHONUNBUFFERED makes a new interpreter's: the tests read the log live.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


class WarmProcess:
    """A forked bot process, with the part of `subprocess.Popen` the tests use."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], cwd: Path, log: Path):
        self._process = _warm().Process(
            target=_run, args=(module, args, env, str(cwd), str(log)), daemon=False
        )
        self.module = module
        log.touch()  # there as soon as the launch returns, as a Popen's redirected output is
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit code (a negative signal number when killed)."""
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(f"python -m {self.module}", timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        """Send the process a signal, as Popen does."""
        if self._process.exitcode is None:
            os.kill(self.pid, sig)
