"""One declarative validator for every TOML table of the product's config.

Why declarative (modelled on Datasette's `SETTINGS`): each component lists its keys once as
`Setting`s (name, type, default, help, optional bounds / choices / check), and one function
validates a table against them. So every table refuses the same mistakes in the same words:
unknown keys (naming the known ones), wrong types (a bool is never an int or a float), values
out of range and unknown choices, each as one `ConfigError` naming the full key path and the
fix. A typo that silently fell back to a default is how a monitor ends up watching nothing.

Example:
    >>> PORT = Setting(name="port", kind=int, default=8080, low=0, high=65_535, help="TCP port to listen on.")
    >>> validate({"port": 9000}, (PORT,), where="gateway")
    {'port': 9000}
    >>> validate({"port": True}, (PORT,), where="gateway")
    Traceback (most recent call last):
    ...
    foundation.errors.ConfigError: gateway.port: expected an integer, got true; write e.g. port = 8080
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePath
from typing import Any

from .errors import ConfigError

__all__ = ["Setting", "default", "key_path", "load_toml", "reference", "validate"]

_KINDS = {
    bool: "bool (true or false)",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One config key: its type (`kind`), default and what it does (`help`, which the docs show).

    `low`/`high` bound numbers (inclusive), `above` is an exclusive lower bound, `choices` lists
    the allowed strings, and `check` turns the typed value into the stored one or raises
    `ValueError("<what is wrong>; <the fix>")`. `required` keys have no default; `example` shows
    how to write a value when the default does not.
    """

    name: str
    kind: type
    default: Any = None
    help: str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[Any], Any] | None = None
    required: bool = False
    example: str = ""
    """How to write a value, for messages, when the default does not show it (e.g. `["web"]`)."""

    def parse(self, value: Any, path: str, error: type[Exception] = ConfigError) -> Any:
        """The value checked and converted, or `error` (a ConfigError) naming `path` and the fix."""
        try:
            return self._parsed(value, path)
        except ConfigError as exc:
            if error is ConfigError:
                raise
            raise error(str(exc)) from None

    def _parsed(self, value: Any, path: str) -> Any:
        value = self._typed(value, path)
        if self.check is not None:
            try:
                value = self.check(value)
            except ValueError as exc:
                raise ConfigError(f"{path}: {exc}") from None
        self._in_range(value, path)
        if self.choices and value not in self.choices:
            raise ConfigError(f"{path}: {value!r} is not supported; use one of {', '.join(self.choices)}")
        return value

    def _typed(self, value: Any, path: str) -> Any:
        numeric = self.kind is float and isinstance(value, int)
        if isinstance(value, bool) is not (self.kind is bool) or not (numeric or isinstance(value, self.kind)):
            kind = _KINDS.get(self.kind, self.kind.__name__)
            raise ConfigError(f"{path}: expected {kind}, got {toml_value(value)}; {self._example(path)}")
        return float(value) if numeric else value

    def _example(self, path: str) -> str:
        if self.kind is dict:
            return f"write it as a table, [{path}]"
        if self.example:
            return f"write e.g. {self.name} = {self.example}"
        if self.default is None or self.default in ((), []):
            return "fix its value"
        return f"write e.g. {self.name} = {toml_value(self.default)}"

    def _in_range(self, value: Any, path: str) -> None:
        low, high = self.low, self.high
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{_number(low)}..{_number(high)}" if low is not None and high is not None else ""
            bounds = bounds or (f"at least {_number(low)}" if low is not None else f"at most {_number(high)}")
            raise ConfigError(f"{path}: {_number(value)} is out of range; use {bounds}")
        if self.above is not None and not value > self.above:
            above = _number(self.above)
            raise ConfigError(f"{path}: must be greater than {above}, got {_number(value)}; use a number above {above}")


def key_path(where: str, key: str) -> str:
    """`sources[0]` + `page_limit` -> `sources[0].page_limit`; a top-level key stays bare."""
    return f"{where}.{key}" if where else key


def validate(
    table: Any,
    settings: Iterable[Setting],
    where: str = "",
    sections: Iterable[str] = (),
    error: type[Exception] = ConfigError,
) -> dict[str, Any]:
    """Every setting's value (its default when absent), checked; `error` at the first mistake.

    `sections` are further keys this table may hold that the caller validates itself (sub-tables,
    other components' sections); they are neither refused nor returned. `error` is the file's own
    ConfigError (or another MonitorError) so its callers keep catching what they caught.
    """
    if not isinstance(table, Mapping):
        raise error(f"{where}: expected a table ([{where}]), got {toml_value(table)}; fix the section")
    declared = {s.name: s for s in settings}
    known = sorted({*declared, *sections})
    for key in table:
        if key not in known:
            raise error(f"{key_path(where, key)}: unknown key; remove it or use one of {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, setting in declared.items():
        if name in table:
            values[name] = setting.parse(table[name], key_path(where, name), error)
        elif setting.required:
            raise error(f"{key_path(where, name)}: missing; add it ({setting.help.rstrip('.')})")
        else:
            values[name] = setting.default
    return values


def default(settings: Iterable[Setting], name: str) -> Any:
    """The declared default of setting `name`: a value object's field takes it from here, so a
    default is written once, in its `Setting`.

    Example:
        >>> default([Setting(name="port", kind=int, default=8080, help="TCP port.")], "port")
        8080
    """
    for setting in settings:
        if setting.name == name:
            if setting.required:
                raise ValueError(f"setting {name!r} is required: it has no default")
            return setting.default
    raise KeyError(f"no setting {name!r}")


def load_toml(path: Path) -> dict[str, Any]:
    """The parsed file, or ConfigError: not found, or invalid TOML naming the line."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; pass an existing file to --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML ({exc}); fix the syntax at that line") from None


def reference(settings: Iterable[Setting]) -> str:
    """A Markdown table of the settings (key, type, default, allowed values, help) for the docs.

    Example:
        >>> print(reference([Setting(name="port", kind=int, default=8080, low=0, high=65_535, help="TCP port.")]))
        | key | type | default | allowed | what it does |
        |---|---|---|---|---|
        | `port` | integer | `8080` | 0..65535 | TCP port. |
    """
    rows = ["| key | type | default | allowed | what it does |", "|---|---|---|---|---|"]
    for s in settings:
        default = f"`{toml_value(s.default)}`" if s.default or s.default in (0, False) else "none"
        default = "required" if s.required else "empty" if s.default in ({}, [], ()) else default
        kind = _KINDS.get(s.kind, "see help").removeprefix("an ").removeprefix("a ")
        rows.append(f"| `{s.name}` | {kind} | {default} | {_allowed(s)} | {s.help} |")
    return "\n".join(rows)


def _allowed(setting: Setting) -> str:
    if setting.choices:
        return ", ".join(setting.choices)
    low, high, above = (None if v is None else _number(v) for v in (setting.low, setting.high, setting.above))
    if low is not None and high is not None:
        return f"{low}..{high}"
    lower = f">= {low}" if low is not None else f"> {above}" if above is not None else None
    return ", ".join(p for p in (lower, None if high is None else f"<= {high}") if p)


def toml_value(value: Any) -> str:
    """How a value is written in TOML, for messages: `true`, `"UTC"`, `60`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, PurePath):
        return toml_value(str(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"')[:60] + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value[:5]) + (", ..." if len(value) > 5 else "") + "]"
    if isinstance(value, Mapping):
        return "a table"
    return repr(value)[:60]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else str(int(value))
