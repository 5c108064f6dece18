"""DescribeImages as EC2 pages it, fast enough for tens of thousands of AMIs.

moto 5.2.5 ignores ``MaxResults`` / ``NextToken`` and answers every matching
image at once.  EC2 pages DescribeImages (since December 2022), and the
reporter asks for pages of 1000 through the SDK paginator, so this module
replaces moto's handler:

* Without ``MaxResults`` the answer holds every match, as EC2's unpaginated
  call does.  With it (5 to 1000, otherwise ``InvalidParameterValue``) the
  answer holds at most that many and a ``nextToken`` while more remain.
  ``MaxResults`` may be combined with ``ImageIds``: EC2 documents that
  restriction for DescribeInstances, not for DescribeImages.
* The order is stable (image id) and the token is opaque and keyed on the last
  image returned, so registering or deregistering between pages neither skips
  nor repeats the others.  A token that is malformed, or minted for another
  account, Region or set of parameters, fails with ``InvalidPaginationToken``.
* Which images match is still moto's own ``describe_images`` over the caller's
  AMIs and those other accounts share with it (``shared_images.py``; owners,
  executable users, ids, filters, errors), less disabled AMIs unless the request
  sets ``IncludeDisabled`` (EC2: "a disabled AMI does not appear by default").  Its result, sorted, is cached per
  backend and query until an EC2 action that may change images runs, so paging
  through 10,000 AMIs filters them once, not once per page.
* Only the page is rendered, by :class:`ImageXml`: moto's EC2 serializer walks
  botocore's model through generic attribute lookups and xmltodict, about 4 ms
  per image (40 s per 10,000).  ImageXml makes the same lookups, resolved once
  per class and member, and writes the XML directly; the tests check that its
  bytes equal moto's for every kind of image.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from typing import Any
from xml.sax.saxutils import escape

from moto.core.responses import ActionResult
from moto.core.serialize import MISSING, AttributePickerContext, XFormedAttributePicker
from moto.core.utils import get_service_model
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ..once import once
from ..state import STATE
from ..wire import opaque_token, read_token
from . import allowed_images
from .shared_images import describe_visible_images, foreign_amis

MIN_RESULTS, MAX_RESULTS = 5, 1000
# Actions that cannot change an AMI, its tags or its launch permissions, besides
# the read-only Describe/Get/List ones: the report actions touch only amiur- ids.
_IMAGE_NEUTRAL = frozenset({"CreateImageUsageReport", "DeleteImageUsageReport"})
_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15"
# Called with (response, page) before a page is rendered (image_fields.py sets LastLaunchedTime).
BEFORE_RENDER: list[Any] = []


class _Generation:
    """Bumped before every EC2 action that may change images; cached listings are
    valid only for the generation they were computed in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


GENERATION = _Generation()


def _bad_token() -> EC2ClientError:
    return EC2ClientError("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")


def max_results(raw: Any) -> int | None:
    if raw is None:
        return None
    n = int(raw)
    if n < MIN_RESULTS:
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ( {n} ) for parameter maxResults is invalid. Expecting a value greater than {MIN_RESULTS}.",
        )
    if n > MAX_RESULTS:
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ( {n} ) for parameter maxResults is "
            f"invalid. Expecting a value less than or equal to {MAX_RESULTS}.",
        )
    return n


def encode_token(query: str, after: str) -> str:
    return opaque_token({"kind": "images", "q": query, "after": after}, compact=True)


def decode_token(token: str, query: str) -> str:
    try:
        decoded = read_token(token)
        if decoded.get("kind") != "images" or decoded.get("q") != query:
            raise ValueError("foreign token")
        after = decoded["after"]
        if not isinstance(after, str):
            raise TypeError("after")
        return after
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _bad_token() from None


def _stamp(backend: Any) -> tuple[int, int, str | None]:
    # The generation covers EC2 actions; length and newest id cover what the
    # emulator does to backend.amis directly (synthetic seeding, oddities).
    amis = backend.amis
    return GENERATION.value, len(amis), next(reversed(amis), None) if amis else None


def matching_ids(backend: Any, query: str, compute: Any) -> list[str]:
    """Sorted ids of the images matching ``query``, from the cache while still valid."""
    stamp = _stamp(backend)
    cache = backend.__dict__.get("_emulator_image_queries")
    if cache is None or cache[0] != stamp:
        cache = (stamp, {})
        backend.__dict__["_emulator_image_queries"] = cache
    ids = cache[1].get(query)
    if ids is None:
        ids = sorted({image.id for image in compute()})
        cache[1][query] = ids
    return ids


class ImageXml:
    """moto's EC2 serializer for DescribeImages, compiled.

    Mirrors ``ResponseSerializer._serialize`` + ``BaseXMLSerializer`` +
    ``xmltodict.unparse`` for the shapes an ``Image`` contains: the same
    ``XFormedAttributePicker`` keys in the same order (computed once per
    object class and member instead of per value), the same response
    transformers (``Image.CreationDate``), the same scalar formatting and
    escaping.  Shapes it does not know (maps, timestamps, blobs, XML attributes
    or namespaces) raise ``_Unsupported`` and the caller falls back to moto.
    """

    class _Unsupported(Exception):
        pass

    def __init__(self) -> None:
        self.operation = get_service_model("ec2").operation_model("DescribeImages")
        self._picker = XFormedAttributePicker()
        self._keys: dict[tuple[type, int, str], list[str]] = {}

    def render(self, images: list[Any], next_token: str | None) -> str:
        transformers = dict(getattr(EC2Response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", {}))
        list_shape = self.operation.output_shape.members["Images"]
        out = ['<?xml version="1.0" encoding="utf-8"?>\n<DescribeImagesResponse xmlns="', _NAMESPACE, '">']
        if next_token is not None:
            out += ["<nextToken>", escape(str(next_token)), "</nextToken>"]
        path = [self.operation.output_shape.name, "Images"]
        self._list(out, images, list_shape, "imagesSet", path, transformers, {})
        out.append("<requestId>request-id</requestId></DescribeImagesResponse>")
        return "".join(out)

    def _possible_keys(self, obj: Any, shape: Any, key: str) -> list[str]:
        cache_key = (type(obj), id(shape), key)
        keys = self._keys.get(cache_key)
        if keys is None:
            context = AttributePickerContext(
                obj=obj,
                key=key,
                shape=shape,
                operation_model=self.operation,
                service_model=self.operation.service_model,
                key_path="",
            )
            keys = list(self._picker.get_possible_keys(context))
            if any("." in k for k in keys):
                raise self._Unsupported(f"dotted alias for {key}")
            self._keys[cache_key] = keys
        return keys

    def _value(self, obj: Any, shape: Any, key: str) -> Any:
        indexable = hasattr(obj, "__getitem__")
        for k in self._possible_keys(obj, shape, key):
            if indexable:
                try:
                    return obj[k]
                except (KeyError, IndexError, TypeError, AttributeError):
                    continue
            value = getattr(obj, k, MISSING)
            if value is not MISSING:
                return value
        return None

    def _plan(
        self, shape: Any, key_path: str, transformers: dict[str, Any], plans: dict[tuple[int, str], Any]
    ) -> list[tuple[str, Any, Any]]:
        """(member key, member shape, response transformer) of one structure at one path."""
        plan = plans.get((id(shape), key_path))
        if plan is None:
            plan = []
            for member_key, member_shape in shape.members.items():
                member_shape.parent = shape  # as moto's serializer sets it (aliases read it)
                full = f"{key_path}.{member_key}"
                transform = next((t for suffix, t in transformers.items() if full.endswith(suffix)), None)
                plan.append((member_key, member_shape, transform))
            plans[(id(shape), key_path)] = plan
        return plan

    def _structure_body(
        self,
        out: list[str],
        obj: Any,
        shape: Any,
        path: list[str],
        transformers: dict[str, Any],
        plans: dict[tuple[int, str], Any],
    ) -> None:
        for member_key, member_shape, transform in self._plan(shape, ".".join(path), transformers, plans):
            value = self._value(obj, member_shape, member_key)
            if transform is not None:
                value = transform(value)
            if value is not None:
                self._member(out, value, member_shape, member_key, path, transformers, plans)

    def _member(
        self,
        out: list[str],
        value: Any,
        shape: Any,
        key: str,
        path: list[str],
        transformers: dict[str, Any],
        plans: dict[tuple[int, str], Any],
        name: str | None = None,
    ) -> None:
        serialization = shape.serialization
        if serialization.get("xmlNamespace") or serialization.get("xmlAttribute"):
            raise self._Unsupported(key)
        name = name or serialization.get("name", key)
        kind = shape.type_name
        if kind == "structure":
            inner: list[str] = []
            self._structure_body(inner, value, shape, path + [key], transformers, plans)
            out += ["<", name, ">", *inner, "</", name, ">"] if inner else ["<", name, "/>"]
        elif kind == "list":
            self._list(out, value, shape, name, path + [key], transformers, plans)
        elif kind == "string":
            self._text(out, name, str(value))
        elif kind == "boolean":
            self._text(out, name, "true" if value is True or str(value).lower() == "true" else "false")
        elif kind in ("integer", "long"):
            self._text(out, name, str(int(value)))
        elif kind in ("float", "double"):
            self._text(out, name, str(float(value)))
        else:
            raise self._Unsupported(kind)

    def _list(
        self,
        out: list[str],
        values: Any,
        shape: Any,
        name: str,
        path: list[str],
        transformers: dict[str, Any],
        plans: dict[tuple[int, str], Any],
    ) -> None:
        member = shape.member
        if shape.serialization.get("flattened"):
            raise self._Unsupported("flattened list")
        item_name = member.serialization.get("name", "member")
        items: list[str] = []
        for value in values:
            rendered: list[str] = []
            if member.type_name == "structure":
                if value is None:
                    continue
                body: list[str] = []
                self._structure_body(body, value, member, path + [member.name], transformers, plans)
                if not body:  # moto drops items that serialise to {}
                    continue
                rendered = ["<", item_name, ">", *body, "</", item_name, ">"]
            else:  # moto names scalar items like structure ones: serialization name, else "member"
                self._member(rendered, value, member, member.name, path, transformers, plans, item_name)
            items += rendered
        out += ["<", name, ">", *items, "</", name, ">"] if items else ["<", name, "/>"]

    @staticmethod
    def _text(out: list[str], name: str, text: str) -> None:
        out += ["<", name, ">", escape(text), "</", name, ">"] if text else ["<", name, "/>"]


_XML = ImageXml()


def query_digest(
    account: str, region: str, ami_ids: list[str], owners: list[str], exec_users: list[str], filters: dict[str, Any]
) -> str:
    raw = json.dumps([account, region, ami_ids, owners, exec_users, filters], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _discoverable(image: Any, account: str, settings: dict[str, Any]) -> bool:
    """With Allowed AMIs ``enabled`` only allowed AMIs are listed (``allowed_images.py``)."""
    return settings["state"] != "enabled" or allowed_images.allowed(image, account, settings, STATE.clock.now())


def describe_images(self: Any) -> Any:
    """EC2's DescribeImages: moto's selection, paged and rendered page by page."""
    self.error_on_dryrun()
    limit = max_results(self._get_param("MaxResults"))
    ami_ids = self._get_param("ImageIds", []) or []
    filters = self._filters_from_querystring()
    owners = self._get_param("Owners", []) or []
    exec_users = self._get_param("ExecutableUsers", []) or []
    include_disabled = str(self._get_param("IncludeDisabled")).lower() == "true"
    backend = self.ec2_backend
    settings = allowed_images.ALLOWED.get(self.current_account, self.region)
    query = query_digest(
        self.current_account,
        self.region,
        ami_ids,
        owners,
        exec_users,
        {**filters, "_include_disabled": include_disabled, "_allowed": settings},
    )
    token = self._get_param("NextToken")
    after = decode_token(token, query) if token else None
    ids = matching_ids(
        backend,
        query,
        lambda: [
            image
            for image in describe_visible_images(
                backend, self.region, ami_ids=ami_ids, filters=filters, exec_users=exec_users, owners=owners
            )
            if (include_disabled or image.state != "disabled") and _discoverable(image, self.current_account, settings)
        ],
    )
    start = bisect.bisect_right(ids, after) if after is not None else 0
    stop = len(ids) if limit is None else start + limit
    visible = (
        backend.amis
        if not any(i not in backend.amis for i in ids[start:stop])
        else {**foreign_amis(self.current_account, self.region), **backend.amis}
    )
    page = [visible[i] for i in ids[start:stop] if i in visible]
    next_token = encode_token(query, ids[stop - 1]) if stop < len(ids) else None
    for hook in BEFORE_RENDER:
        hook(self, page)
    try:
        body = _XML.render(page, next_token)
    except ImageXml._Unsupported:  # a shape the compiled writer does not know: moto writes it
        result: dict[str, Any] = {"Images": page}
        if next_token:
            result["NextToken"] = next_token
        return ActionResult(result)
    return 200, {"Content-Type": "text/xml", "server": "amazon.com"}, body


@once
def install() -> None:
    """Replace moto's DescribeImages and count image-changing EC2 actions; idempotent."""
    describe_images.__name__ = "describe_images"
    EC2Response.describe_images = describe_images
    original = EC2Response.call_action

    def call_action(self: Any) -> Any:
        action = self._get_action() or ""
        if not action.startswith(("Describe", "Get", "List")) and action not in _IMAGE_NEUTRAL:
            GENERATION.bump()
        return original(self)

    EC2Response.call_action = call_action
