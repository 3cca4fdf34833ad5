"""The README stays true: its test command is what CI runs, its diagrams are the flows."""

from __future__ import annotations

import re
from pathlib import Path

from handlers import registry

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _shell_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL)]


def test_ci_runs_the_readme_test_command() -> None:
    test_commands = [b for b in _shell_blocks(README) if "pytest" in b]
    assert len(test_commands) == 1
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_commands[0] in ci.splitlines()


def test_readme_run_command_installs_and_runs() -> None:
    run = [b for b in _shell_blocks(README) if "outreach run" in b]
    assert run
    assert run[0].startswith("python3 -m venv .venv && .venv/bin/pip install -e .")


def test_readme_diagrams_are_the_flow_tables() -> None:
    diagrams = re.findall(r"```mermaid\n(.*?)\n```", README, re.DOTALL)
    for flow in (f for f in registry.FLOWS if f.name in ("enrolment", "checkin")):
        assert flow.mermaid() in diagrams, flow.name
