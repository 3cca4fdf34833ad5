"""Provinces of household registration (户籍地) and destination, by their GB/T 2260 codes."""

from __future__ import annotations

from handlers.actions import N_, Button, Inline, Msg

# The 31 mainland provincial-level divisions: a hukou is registered in one of them.
PROVINCES: dict[str, str] = {
    "11": N_("province.11"),
    "12": N_("province.12"),
    "13": N_("province.13"),
    "14": N_("province.14"),
    "15": N_("province.15"),
    "21": N_("province.21"),
    "22": N_("province.22"),
    "23": N_("province.23"),
    "31": N_("province.31"),
    "32": N_("province.32"),
    "33": N_("province.33"),
    "34": N_("province.34"),
    "35": N_("province.35"),
    "36": N_("province.36"),
    "37": N_("province.37"),
    "41": N_("province.41"),
    "42": N_("province.42"),
    "43": N_("province.43"),
    "44": N_("province.44"),
    "45": N_("province.45"),
    "46": N_("province.46"),
    "50": N_("province.50"),
    "51": N_("province.51"),
    "52": N_("province.52"),
    "53": N_("province.53"),
    "54": N_("province.54"),
    "61": N_("province.61"),
    "62": N_("province.62"),
    "63": N_("province.63"),
    "64": N_("province.64"),
    "65": N_("province.65"),
}


def province_name(code: str | None) -> Msg:
    """The province's name as a message (unknown codes read as "not given")."""
    key = PROVINCES.get(code or "")
    return Msg(key) if key else Msg("common.not_given")


def province_keyboard(per_row: int = 3) -> Inline:
    """Every province as a button whose value is its code."""
    buttons = [Button(Msg(key), code) for code, key in PROVINCES.items()]
    return Inline.of([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])
