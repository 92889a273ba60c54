"""Published schemas that accept what the models accept: every spelling, a string for a list.

Pydantic's JSON Schema names each field once (its first alias), and shows the type a field
ends up with rather than what its validators take in. The API accepts more: snake_case and
the specification's camelCase (``image_path`` and ``imagePath``, ``retry_policy`` and
``retryPolicy``), and a lone string where a validator lifts it into a list (``to``). So:

- :func:`accept_every_spelling` adds a property for every name a field's ``AliasChoices``
  accept (a required field then needs any one of them); the request models use it as their
  ``json_schema_extra``.
- :class:`EverySpelling` is a schema generator doing the same for every model it meets (the
  payload models of the built-in handlers, and any custom one), and publishing a list field
  whose before-validator turns a lone string into a one-item list as string-or-list.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

_PROBE = "\x00noormme-probe"


def spellings(model: type[BaseModel], name: str) -> list[str]:
    """Every key under which ``model`` accepts its field ``name``, the schema's first."""
    field = model.model_fields[name]
    names: list[str] = []
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        names += [choice for choice in alias.choices if isinstance(choice, str)]
    elif isinstance(alias, str):
        names.append(alias)
    if field.alias is not None:
        names.append(field.alias)
    names.append(name)
    return list(dict.fromkeys(names))


def accept_every_spelling(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Add to ``model``'s object ``schema`` a property for each other accepted spelling."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    required = schema.get("required", [])
    alternatives: list[dict[str, Any]] = []
    for name in model.model_fields:
        names = spellings(model, name)
        shown = next((n for n in names if n in properties), None)
        if shown is None or len(names) == 1:
            continue
        for other in names:
            properties.setdefault(other, dict(properties[shown]))
        if shown in required:
            required.remove(shown)
            alternatives.append({"anyOf": [{"required": [n]} for n in names]})
    if alternatives:
        schema.setdefault("allOf", []).extend(alternatives)
    if "required" in schema and not required:
        del schema["required"]


class EverySpelling(GenerateJsonSchema):
    """Validation schemas that accept every spelling and lone strings for lifted lists."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        accept_every_spelling(self.resolve_ref_schema(json_schema), schema["cls"])
        return json_schema

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        json_schema = super().function_before_schema(schema)
        if (
            self.mode != "validation"
            or "json_schema_input_schema" in schema
            or json_schema.get("type") != "array"
            or not _lifts_a_string(schema)
        ):
            return json_schema
        item = json_schema.get("items", {"type": "string"})
        return {"anyOf": [item, json_schema]}


def _lifts_a_string(schema: core_schema.BeforeValidatorFunctionSchema) -> bool:
    """Whether the validator turns a lone string into a one-item list (``to="a@b.c"``).

    Validators are pure functions of their input, so asking one about a probe string is
    safe; one that refuses it, or does anything else with it, does not lift strings.
    """
    function = schema["function"]
    if function["type"] != "no-info":
        return False
    try:
        return bool(function["function"](_PROBE) == [_PROBE])
    except Exception:
        return False
