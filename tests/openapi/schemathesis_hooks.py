"""Schemathesis hooks for the gateway's newline-delimited JSON, loaded by schemathesis.sh through
SCHEMATHESIS_HOOKS.

Schemathesis knows neither direction of `application/x-ndjson`:

- Requests: client-streaming rpcs take one message per line. The document's request schema is
  that of one line, so a generated value is sent as a one-line body.
- Responses: server-streaming rpcs answer one `{"result": ...}` per message and perhaps a last
  `{"error": ...}`. The document's response schema is that of one line; the built-in
  response_schema_conformance check skips the media type, so `ndjson_lines_conform` validates
  every line against it instead, resolving `$ref`s against the document named by
  SCHEMATHESIS_DOCUMENT (this keeps to the public API: the operation's path and method, and
  jsonschema_rs, which schemathesis depends on).

And one that schemathesis.toml cannot express: its dictionaries bind single values, not the
repeated query parameters `skus` and `orderIds`, so `flatmap_query` makes half of those lists
out of the demo system's SKUs and order ids, for the watch streams to get past NOT_FOUND.
"""

import json
import os
from functools import lru_cache

import jsonschema_rs
import schemathesis
from hypothesis import strategies as st

NDJSON = "application/x-ndjson"


# Repeated query parameters by operation path, and the demo values to build them from.
KNOWN_LISTS = {
    "/v1/items:watch": ("skus", ["SKU-10042", "SKU-10043", "SKU-20001"]),
    "/v1/orders:stream": ("orderIds", ["ord_00000001", "ord_00000002", "ord_00000003"]),
}


@schemathesis.hook
def flatmap_query(context, query):
    known = KNOWN_LISTS.get(getattr(context.operation, "path", None))
    if known is None or not isinstance(query, dict):
        return st.just(query)
    name, values = known
    chosen = st.lists(st.sampled_from(values), min_size=1, max_size=3)
    return st.one_of(st.just(query), chosen.map(lambda items: {**query, name: items}))


@schemathesis.serializer(NDJSON)
def ndjson_body(ctx, value):
    return json.dumps(value).encode() + b"\n"


@lru_cache(maxsize=None)
def _document():
    with open(os.environ["SCHEMATHESIS_DOCUMENT"], encoding="utf-8") as file:
        return json.load(file)


@lru_cache(maxsize=None)
def _line_validator(path, method, status):
    """The validator of one line of `method path`'s NDJSON response with `status`, if any."""
    responses = _document()["paths"][path][method.lower()]["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        return None
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = _document()["components"]["responses"][name]
    schema = response.get("content", {}).get(NDJSON, {}).get("schema")
    if schema is None:
        return None
    # The line schema with the document's components beside it, so that its
    # `#/components/...` references resolve.
    root = {"components": _document().get("components", {}), **schema}
    return jsonschema_rs.Draft202012Validator(root)


@schemathesis.check
def ndjson_lines_conform(ctx, response, case):
    """Every line of an NDJSON response is valid JSON that its documented line schema accepts."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip().lower() != NDJSON:
        return None
    validator = _line_validator(case.operation.path, case.operation.method, response.status_code)
    if validator is None:
        raise AssertionError(
            f"{response.status_code} {NDJSON} is not documented for "
            f"{case.operation.method.upper()} {case.operation.path}"
        )
    for number, line in enumerate(response.content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            instance = json.loads(line)
        except ValueError as error:
            raise AssertionError(f"line {number} is not JSON ({error}): {line[:200]!r}")
        errors = [error.message for error in validator.iter_errors(instance)]
        if errors:
            raise AssertionError(
                f"line {number} does not match its schema: {'; '.join(errors)}\n{line[:500]!r}"
            )
    return True
