"""The official Bot API method list (``bot/telegram_api/api.min.json``) and parameter decoding.

Telegram accepts every parameter as a string (query string, form or multipart field) and
converts it to the documented type; objects and arrays arrive JSON-encoded.  :func:`decode_params`
does the same, and rejects what Telegram would not understand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bot.devserver.models import bad_request

_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# Parameters python-telegram-bot's ``Defaults`` add to every message method, documented or not
# (e.g. ``parse_mode`` on editMessageReplyMarkup).  Telegram ignores them; so do we.
LIBRARY_DEFAULTS = frozenset(
    {
        "parse_mode",
        "disable_notification",
        "protect_content",
        "link_preview_options",
        "allow_sending_without_reply",
    }
)
_PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String"})
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    field: str
    file_name: str | None
    content: bytes
    mime_type: str | None

    def summary(self) -> dict[str, Any]:
        """What :class:`ApiCall` records instead of the bytes."""
        return {"file_name": self.file_name, "size": len(self.content)}


@dataclass(frozen=True)
class FieldSpec:
    """One documented parameter (or object field)."""

    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class MethodSpec:
    """One documented method."""

    name: str
    fields: dict[str, FieldSpec]


class BotApiSpec:
    """Methods and types of the Bot API version shipped in ``bot/telegram_api``."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.version: str = raw.get("version", "")
        self.types: dict[str, Any] = raw.get("types", {})
        self.methods = {
            name: MethodSpec(name, _fields(entry.get("fields", [])))
            for name, entry in raw.get("methods", {}).items()
        }
        self._by_lower = {name.lower(): spec for name, spec in self.methods.items()}

    def method(self, name: str) -> MethodSpec | None:
        """Look a method up the way Telegram does (case-insensitively)."""
        return self._by_lower.get(name.lower())

    def type_fields(self, type_name: str) -> dict[str, FieldSpec]:
        """Fields of an object type (empty for unknown or abstract types)."""
        return _fields(self.types.get(type_name, {}).get("fields", []))


def _fields(raw: list[dict[str, Any]]) -> dict[str, FieldSpec]:
    return {f["name"]: FieldSpec(f["name"], tuple(f.get("types", ())), bool(f.get("required"))) for f in raw}


@cache
def load_spec() -> BotApiSpec:
    """Load ``api.min.json`` once."""
    text = (resources.files("bot") / "telegram_api" / "api.min.json").read_text("utf-8")
    return BotApiSpec(json.loads(text))


# -- decoding ----------------------------------------------------------------------------------
class _NoMatch(Exception):
    pass


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _NoMatch
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise _NoMatch


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _NoMatch
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
        return float(value)
    raise _NoMatch


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _NoMatch


def _as_json(value: Any, kind: type) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _NoMatch from None
    if not isinstance(value, kind):
        raise _NoMatch
    return value


def _coerce(name: str, types: tuple[str, ...], value: Any) -> Any:
    if isinstance(value, Upload):
        if "InputFile" in types:
            return value
        raise bad_request(f'parameter "{name}" can\'t be a file')
    for type_name in types:
        try:
            if type_name == "Integer":
                return _as_int(value)
            if type_name == "Float":
                return _as_float(value)
            if type_name == "Boolean":
                return _as_bool(value)
            if type_name == "String":
                if isinstance(value, str):
                    return value
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return str(value)
                raise _NoMatch
            if type_name == "InputFile":
                continue  # only an upload or an attach:// reference, handled by the caller
            if type_name.startswith("Array of"):
                return _as_json(value, list)
            return _as_json(value, dict)
        except _NoMatch:
            continue
    if any(t not in ("Integer", "Float", "Boolean", "String", "InputFile") for t in types):
        raise bad_request(f"can't parse {name} JSON object")
    raise bad_request(f'wrong type of parameter "{name}": expected {" or ".join(types)}')


def _guess(value: Any) -> Any:
    """JSON-decode a string that looks like an object or array (undocumented parameters)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _attach_refs(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value[9:]} if value.startswith("attach://") else set()
    if isinstance(value, dict):
        return set().union(*(_attach_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_attach_refs(v) for v in value))
    return set()


def _resolve(value: Any, attached: dict[str, Upload]) -> Any:
    """Replace ``attach://name`` inside objects (e.g. InputMedia) with the uploaded part."""
    if isinstance(value, dict):
        return {k: _resolve(v, attached) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, attached) for v in value]
    if isinstance(value, str) and value.startswith("attach://") and value[9:] in attached:
        return attached[value[9:]]
    return value


def decode_params(
    method: MethodSpec, raw: dict[str, Any], *, strict: bool
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Check names against the spec and convert values to their documented types.

    Returns the decoded parameters and the uploads referenced as ``attach://<name>``.
    """
    attached: dict[str, Upload] = {}
    for name, value in raw.items():
        spec = method.fields.get(name)
        if spec is not None and set(spec.types) <= _PRIMITIVES:
            continue  # a plain text may well contain "attach://"
        for ref in _attach_refs(_guess(value)):
            part = raw.get(ref)
            if not isinstance(part, Upload):
                raise bad_request(f'file "attach://{ref}" is not found in the request')
            attached[ref] = part
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name in attached:
            continue
        spec = method.fields.get(name)
        if spec is None:
            if strict and name not in LIBRARY_DEFAULTS:
                raise bad_request(f"unknown parameter {name}")
            params[name] = _guess(value)
            continue
        if isinstance(value, str) and value.startswith("attach://") and "InputFile" in spec.types:
            value = attached[value[9:]]
        params[name] = _resolve(_coerce(name, spec.types, value), attached)
    for spec in method.fields.values():
        if spec.required and spec.name not in params:
            raise bad_request(f"{spec.name} is required")
    return params, attached


def summarize(value: Any) -> Any:
    """Parameters as recorded in :class:`ApiCall` (file contents replaced by name and size)."""
    if isinstance(value, Upload):
        return value.summary()
    if isinstance(value, dict):
        return {k: summarize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize(v) for v in value]
    return value


__all__ = [
    "BotApiSpec",
    "FieldSpec",
    "MethodSpec",
    "Upload",
    "decode_params",
    "load_spec",
    "summarize",
]
