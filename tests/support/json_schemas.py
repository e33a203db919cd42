"""Checks on the JSON schemas web4os sends: does an answer follow one, and would
OpenAI's strict mode accept it."""

from __future__ import annotations

from typing import Any

import jsonschema_rs


def conforms(schema: dict[str, Any], answer: Any) -> bool:
    """Whether ``answer`` follows ``schema`` (JSON Schema 2020-12)."""
    return bool(jsonschema_rs.validator_for(schema).is_valid(answer))


def strict_ready(schema: Any) -> bool:
    """What OpenAI's strict mode demands: every object closed, every property required."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and (
                schema.get("additionalProperties") is not False
                or set(schema.get("required", [])) != set(schema.get("properties", {}))):
            return False
        return all(strict_ready(v) for v in schema.values())
    if isinstance(schema, list):
        return all(strict_ready(v) for v in schema)
    return True


def keywords(schema: Any) -> set[str]:
    """Every key used anywhere in ``schema`` (keywords and property names alike)."""
    if isinstance(schema, dict):
        return set(schema) | {k for v in schema.values() for k in keywords(v)}
    if isinstance(schema, list):
        return {k for v in schema for k in keywords(v)}
    return set()
