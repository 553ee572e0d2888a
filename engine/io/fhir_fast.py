"""A compiled structure check of FHIR R4 resources, derived from fhir.resources' own models.

``fhir.resources`` (R4B models on ``fhir-core``) builds one pydantic object per element and
runs several Python validators on each: about 3 ms for one Claim, thirty times the cost of
grouping it.  This module walks those same models once (their fields, cardinalities,
required elements, choice ``[x]`` groups and primitive types with the library's own
regular expressions) and writes a JSON Schema that ``jsonschema_rs`` (Rust) compiles; a
resource then costs tens of microseconds.

The schema is built to be *no more permissive* than the library: whatever the library's
rule is not stated here exactly (a primitive's ``_element`` extension, ``fhir_comments``,
a contained resource of another type, an empty array or object, lax coercions such as
``"5"`` for an integer, leap seconds, ...) is refused by the schema, and a resource the
schema refuses is handed to the library (``engine.io.fhir.validate_resource``), which
decides and names the element.  So a resource accepted here is one the library accepts
(``tests/test_fhir_fast.py`` checks both ways on the public claims and on mutated ones),
and the library stays the definition of valid FHIR.
"""

from __future__ import annotations

import typing
from typing import Any

__all__ = ["FAST_TYPES", "fast_validator", "schema_for"]

#: The resource types with a compiled check (others always go to the library).
FAST_TYPES = ("Claim", "ExplanationOfBenefit", "Patient", "Encounter", "Condition", "Procedure", "Bundle")

#: Unicode White_Space (the ``\s`` of fhir-core's patterns, as pydantic-core's Rust regex reads it),
#: written out: JSON Schema patterns are ECMAScript's.
_WS = "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_YEAR = "([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TIME = "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_PARTIAL_DATE = {"type": "string", "pattern": f"^{_YEAR}(-(0[1-9]|1[0-2]))?$"}
_FULL_DATE = {"type": "string", "format": "date", "pattern": f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"}
_INSTANT = {"type": "string", "format": "date-time",
            "pattern": f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]){_TIME}$"}

#: fhir-core's primitive type (its metadata class's name) -> a schema accepting a subset of what it accepts.
_PRIMITIVES: dict[str, Any] = {
    "String": {"type": "string", "pattern": f"[\\r\\n\\t ]|[^{_WS}]"},
    "Code": {"type": "string", "pattern": f"^[^{_WS}]+([{_WS}][^{_WS}]+)*$"},
    "Id": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9\\-.]+$"},
    "Uri": {"type": "string", "minLength": 1, "pattern": f"^[^{_WS}]+$"},
    "Canonical": {"type": "string", "minLength": 1, "pattern": f"^[^{_WS}]+$"},
    "Date": {"anyOf": [_PARTIAL_DATE, _FULL_DATE]},
    "DateTime": {"anyOf": [_PARTIAL_DATE, _FULL_DATE, _INSTANT]},
    "Instant": _INSTANT,
    "Decimal": {"type": "number"},
    "Integer": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
    "UnsignedInt": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "PositiveInt": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "Boolean": {"type": "boolean"},
}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the element's type, whether it repeats) of a field's annotation."""
    many = False
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Union or (origin is not None and type(annotation).__name__ == "UnionType"):
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                return None, many
            annotation = rest[0]
        elif origin in (list, typing.List):
            if many:
                return None, many
            many, annotation = True, args[0]
        else:
            if type(annotation).__name__ == "UnionType":
                rest = [a for a in typing.get_args(annotation) if a is not type(None)]
                if len(rest) != 1:
                    return None, many
                annotation = rest[0]
                continue
            return annotation, many


class _Builder:
    def __init__(self, resource_types: tuple[str, ...]) -> None:
        from fhir.resources.R4B import get_fhir_model_class

        self.model_of = get_fhir_model_class
        self.resource_types = resource_types
        self.defs: dict[str, Any] = {}

    def element(self, annotation: Any) -> Any:
        """The schema of one value of a field's type (False: left to the library)."""
        meta = getattr(annotation, "__metadata__", None)
        if meta is not None:  # Annotated[str, Code()] and the like
            if typing.get_args(annotation)[0] is bool:
                return _PRIMITIVES["Boolean"]
            for m in meta:
                schema = _PRIMITIVES.get(type(m).__name__)
                if schema is not None:
                    return schema
            return False
        if annotation is bool:
            return _PRIMITIVES["Boolean"]
        get_klass = getattr(annotation, "get_model_klass", None)
        if get_klass is None:
            return False
        klass = get_klass()
        name = klass.__name__
        if name == "Resource":  # contained / Bundle.entry.resource: any resource type
            return {"anyOf": [self.model(self.model_of(rt)) for rt in self.resource_types if rt != "Bundle"]}
        if name in ("Element", "DomainResource", "FHIRPrimitiveExtension"):
            return False
        return self.model(klass)

    def model(self, klass: Any) -> dict:
        name = klass.__name__
        ref = {"$ref": f"#/$defs/{name}"}
        if name in self.defs:
            return ref
        self.defs[name] = False  # a placeholder while recursing (Extension holds Extensions)
        props: dict[str, Any] = {}
        required: list[str] = []
        choices: dict[str, list[str]] = {}
        choice_required: set[str] = set()
        resource_type = klass.get_resource_type() if hasattr(klass, "get_resource_type") else None
        is_resource = klass.has_resource_base() if hasattr(klass, "has_resource_base") else False
        for fname, field in klass.model_fields.items():
            alias = field.alias or fname
            extra = field.json_schema_extra or {}
            if fname.endswith("__ext") or alias.startswith("_") or fname in ("fhir_comments", "resource_type"):
                continue  # a primitive's extension, comments: the library decides
            inner, many = _unwrap(field.annotation)
            item = self.element(inner) if inner is not None else False
            if item is False:
                continue  # not stated here: an instance holding it goes to the library
            props[alias] = {"type": "array", "minItems": 1, "items": item} if many else item
            if field.is_required() or extra.get("element_required"):
                required.append(alias)
            prefix = extra.get("one_of_many")
            if prefix:
                choices.setdefault(prefix, []).append(alias)
                if extra.get("one_of_many_required"):
                    choice_required.add(prefix)
        schema: dict[str, Any] = {"type": "object", "minProperties": 1, "additionalProperties": False,
                                  "properties": props}
        if is_resource:
            props["resourceType"] = {"const": resource_type}
            required.append("resourceType")
        if required:
            schema["required"] = sorted(set(required))
        one_of = []
        for prefix, names in choices.items():
            present = [{"required": [n]} for n in names]
            if prefix not in choice_required:
                present.append({"not": {"anyOf": [{"required": [n]} for n in names]}})
            one_of.append({"oneOf": present})
        if one_of:
            schema["allOf"] = one_of
        self.defs[name] = schema
        return ref


_SCHEMAS: dict[str, dict] = {}
_VALIDATORS: dict[str, Any] = {}


def schema_for(resource_type: str) -> dict:
    """The JSON Schema (2020-12) of ``resource_type`` as fhir.resources' R4B models state it
    (a ``Bundle``'s ``entry.resource`` is left out: each resource is checked on its own)."""
    if resource_type not in _SCHEMAS:
        b = _Builder(FAST_TYPES)
        root = b.model(b.model_of(resource_type))
        if resource_type == "Bundle":
            entry = b.defs.get("BundleEntry")
            if isinstance(entry, dict):
                entry["properties"].pop("resource", None)
        _SCHEMAS[resource_type] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **root,
                                   "$defs": b.defs}
    return _SCHEMAS[resource_type]


def fast_validator(resource_type: str):
    """A compiled ``is_valid(dict) -> bool`` for ``resource_type``, or None (no compiled check:
    ``jsonschema_rs`` missing or the type not among FAST_TYPES)."""
    if resource_type in _VALIDATORS:
        return _VALIDATORS[resource_type]
    check = None
    if resource_type in FAST_TYPES:
        try:
            import jsonschema_rs
        except ImportError:  # optional speed: the library alone still decides
            jsonschema_rs = None
        if jsonschema_rs is not None:
            check = jsonschema_rs.Draft202012Validator(schema_for(resource_type), validate_formats=True).is_valid
    _VALIDATORS[resource_type] = check
    return check
