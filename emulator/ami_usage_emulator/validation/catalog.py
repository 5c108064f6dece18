"""botocore's service models (loaded once) and which operation a request names.

* ``ec2`` / ``query`` protocols: the ``Action`` member.
* ``json``: the ``X-Amz-Target`` header's operation.
* ``rest-json`` / ``rest-xml``: the HTTP method and path matched against each operation's
  ``requestUri``; among several matches (S3's ``PUT /{Bucket}/{Key+}`` is PutObject,
  CopyObject or UploadPart) the one whose literal query keys and required
  query-string/header members are present, the most specific first.

The models are the pinned botocore's (``emulator/requirements.txt``), read through moto's
loader, whose shape classes moto's parsers need.  ``parse`` turns the request into the operation's input dict with moto's own protocol
parsers (the ones moto serves it with), so the validator judges what moto will read.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.utils import get_service_model
from werkzeug.datastructures import EnvironHeaders, MultiDict

from ..aws_request import AwsCall, buffer_body

# botocore's name of each signing name the emulator serves
SERVICES = {
    "ec2": "ec2",
    "s3": "s3",
    "sns": "sns",
    "rbin": "rbin",
    "ce": "ce",
    "imagebuilder": "imagebuilder",
    "ssm": "ssm",
    "autoscaling": "autoscaling",
    "sts": "sts",
}
IGNORED_QUERY_KEYS = {"x-id"}  # botocore's and the SDKs' operation hint on S3 URIs


def service_model(name: str) -> ServiceModel:
    """The pinned botocore's ``service-2`` model, loaded (once, cached) by moto's loader:
    moto's parsers need its shape classes."""
    return get_service_model(name)


@functools.cache
def _routes(name: str) -> list[tuple[str, re.Pattern[str], frozenset[str], OperationModel]]:
    model = service_model(name)
    routes = []
    for op_name in model.operation_names:
        op = model.operation_model(op_name)
        path, _, query = op.http["requestUri"].partition("?")
        regex = ""
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                regex += f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', label.rstrip('+'))}>{'.+' if greedy else '[^/]+'})"
            else:
                regex += re.escape(part)
        literal = frozenset(k.split("=")[0] for k in query.split("&") if k) - IGNORED_QUERY_KEYS
        routes.append((op.http["method"], re.compile(f"^{regex}/?$"), literal, op))
    return routes


def _required_located(op: OperationModel) -> tuple[set[str], set[str]]:
    """The required members an operation carries in the query string and in headers."""
    shape = op.input_shape
    query, headers = set(), set()
    for name in shape.required_members if shape is not None else ():
        ser = shape.members[name].serialization
        if ser.get("location") == "querystring":
            query.add(ser.get("name", name))
        elif ser.get("location") == "header":
            headers.add(ser.get("name", name).lower())
    return query, headers


def rest_operation(name: str, method: str, path: str, query: set[str], headers: set[str]) -> tuple[Any, dict]:
    """(operation, URI labels) of a REST request, or (None, {})."""
    best: tuple[int, Any, dict] = (-1, None, {})
    for route_method, pattern, literal, op in _routes(name):
        match = pattern.match(path) if route_method == method else None
        if match is None or not literal <= query:
            continue
        need_query, need_headers = _required_located(op)
        if not need_query <= query or not need_headers <= headers:
            continue
        score = len(literal) * 10 + len(need_query) + len(need_headers)
        if score > best[0]:
            labels = {k: unquote(v) for k, v in match.groupdict().items()}
            best = (score, op, labels)
    return best[1], best[2]


def operation(call: AwsCall) -> tuple[Any, dict]:
    """(the botocore operation the request names, its URI labels), or (None, {})."""
    name = SERVICES.get(call.service or "")
    if name is None:
        return None, {}
    model = service_model(name)
    protocol = model.protocol
    if protocol in ("ec2", "query", "json"):
        action = call.action
        return (model.operation_model(action), {}) if action in model.operation_names else (None, {})
    query = set(call.query) - IGNORED_QUERY_KEYS
    return rest_operation(name, call.method, call.path, query, set(call.headers_lower))


def parse(op: OperationModel, labels: dict, call: AwsCall, environ: dict[str, Any]) -> dict[str, Any]:
    """The request's input members as moto's parser for the protocol reads them."""
    protocol = op.service_model.protocol
    body = b""
    if protocol in ("ec2", "query"):  # identify() merged the query string and the form
        values = MultiDict([(k, v) for k, v in call.params.items() if isinstance(v, str)])
    else:
        values = MultiDict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if protocol not in ("ec2", "query") and not _streaming(op):
        body = buffer_body(environ)
    parser = PROTOCOL_PARSERS[protocol](op)
    return parser.parse(
        {
            "method": call.method,
            "values": values,
            "headers": EnvironHeaders(environ),
            "body": body,
            "url_path": call.path,
            "url_params": labels,
        }
    )


def _streaming(op: OperationModel) -> bool:
    shape = op.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    return payload is not None and shape.members[payload].type_name in ("blob", "string")
