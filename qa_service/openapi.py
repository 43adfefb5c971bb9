"""The OpenAPI 3 document, generated from the routes' own pydantic schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from . import __version__

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    """What /openapi.json says of one route: the schemas it validates with and answers in."""

    method: str
    path: str
    summary: str
    responses: dict[int, type[BaseModel] | dict]  # a model (JSON), or {media type: model or raw schema}
    body: type[BaseModel] | None = None
    body_media_type: str = "application/json"
    query: type[BaseModel] | None = None
    query_names: dict[str, str] = field(default_factory=dict)  # model field -> query name
    path_parameters: tuple[str, ...] = ()
    admin: bool = False


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def openapi_document(operations: list[Operation], title: str) -> dict:
    components: dict[str, Any] = {}
    paths: dict[str, dict] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "responses": {}}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for name in op.path_parameters
        ]
        if op.query is not None:
            schema = op.query.model_json_schema(ref_template=REF)
            required = set(schema.get("required", []))
            for name, prop in schema["properties"].items():
                prop = {k: v for k, v in prop.items() if k not in ("title", "examples")}
                parameters.append({
                    "name": op.query_names.get(name, name), "in": "query", "required": name in required,
                    "description": prop.pop("description", ""), "schema": prop,
                })
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {op.body_media_type: {"schema": _schema(op.body, components)}}}
        if op.admin:
            entry["security"] = [{"bearerAuth": []}]
        for status, response in sorted(op.responses.items()):
            if isinstance(response, dict):
                content = {
                    media_type: {"schema": _schema(schema, components) if isinstance(schema, type) else schema}
                    for media_type, schema in response.items()
                }
            else:
                content = {"application/json": {"schema": _schema(response, components)}}
            entry["responses"][str(status)] = {"description": _REASONS.get(status, "Response"), "content": content}
        paths.setdefault(_openapi_path(op.path), {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def _openapi_path(flask_path: str) -> str:
    """/documents/<path:name> -> /documents/{name}"""
    parts = []
    for part in flask_path.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].split(":")[-1] + "}"
        parts.append(part)
    return "/".join(parts)


_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 400: "Bad request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
    413: "Too large", 415: "Unsupported media type", 422: "Unprocessable", 429: "Too many requests",
    503: "Service unavailable",
}
