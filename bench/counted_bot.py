"""The bot program with its database work counted, for bench/checkin_throughput.py.

Runs `outreach` exactly as `python -m bot` does, with every statement sent to a database
driver and every transaction begun counted, in every engine of the process. On SIGUSR1 it
writes the counts so far, as JSON, to the file named by BENCH_COUNTS.

    BENCH_COUNTS=counts.json python -m bench.counted_bot --config config.toml run
"""

from __future__ import annotations

import json
import os
import signal
import sys
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.cli import main

COUNTS = {"statements": 0, "transactions": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _statement(*_: Any) -> None:
    COUNTS["statements"] += 1


@event.listens_for(Engine, "begin")
def _transaction(_: Any) -> None:
    COUNTS["transactions"] += 1


def write_counts(_signal: int, _frame: FrameType | None) -> None:
    """Write the counts so far (whole, through a rename: the bench may be reading)."""
    path = os.environ["BENCH_COUNTS"]
    with open(f"{path}.tmp", "w", encoding="utf-8") as file:
        json.dump(COUNTS, file)
    os.replace(f"{path}.tmp", path)


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, write_counts)
    sys.exit(main(sys.argv[1:]))
