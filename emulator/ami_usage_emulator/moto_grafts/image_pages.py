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
* Which images match is ``shared_images.describe_visible_images``: moto's selection
  over the caller's AMIs and those other accounts let it use, with EC2's rules for
  ``ExecutableUsers``, ``IncludeDeprecated`` and ``IncludeDisabled``.  Its result,
  sorted, is cached per backend, query, minute of the clock and organization
  membership until an EC2 action that may change images runs, so paging through
  10,000 AMIs filters them once, not once per page.
* Only the page is rendered, by ``image_xml.ImageXml`` (moto's bytes, written
  directly: moto's serializer takes about 4 ms per image).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ..clock import Clock
from ..once import once
from ..wire import opaque_token, read_token
from .allowed_images import AllowedImagesStore, allowed
from .graft import graft, wrap
from .image_access import org_arns
from .image_xml import ImageXml
from .shared_images import describe_visible_images, visible_amis

MIN_RESULTS, MAX_RESULTS = 5, 1000
# Actions that cannot change an AMI, its tags or its launch permissions, besides
# the read-only Describe/Get/List ones: the report actions touch only amiur- ids.
_IMAGE_NEUTRAL = frozenset({"CreateImageUsageReport", "DeleteImageUsageReport"})


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


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


def query_digest(
    account: str, region: str, ami_ids: list[str], owners: list[str], exec_users: list[str], filters: dict[str, Any]
) -> str:
    raw = json.dumps([account, region, ami_ids, owners, exec_users, filters], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class ImagePages:
    """DescribeImages as EC2 pages it (grafted onto moto's EC2Response; it takes the
    request's response).  Allowed AMIs (``allowed_images``, judged on ``clock``) decide
    what is discoverable; ``before_render`` readies each page for its caller
    (``image_fields.ImageFields.prepare_page``)."""

    def __init__(
        self,
        clock: Clock,
        allowed_images: AllowedImagesStore,
        before_render: Callable[[Any, list[Any]], None] | None = None,
    ) -> None:
        self._clock = clock
        self._allowed_images = allowed_images
        self._before_render = before_render
        self._xml = ImageXml()
        # Bumped before every EC2 action that may change images; cached listings are
        # valid only for the generation they were computed in.
        self._generation_lock = threading.Lock()
        self._generation = 0

    def bump(self) -> None:
        with self._generation_lock:
            self._generation += 1

    def _stamp(self, backend: Any) -> tuple[int, int, str | None]:
        # The generation covers EC2 actions; length and newest id cover what the
        # emulator does to backend.amis directly (synthetic seeding, oddities).
        amis = backend.amis
        return self._generation, len(amis), next(reversed(amis), None) if amis else None

    def matching_ids(self, backend: Any, query: str, compute: Any) -> list[str]:
        """Sorted ids of the images matching ``query``, from the cache while still valid."""
        stamp = self._stamp(backend)
        cache = backend.__dict__.get("_emulator_image_queries")
        if cache is None or cache[0] != stamp or len(cache[1]) > 256:
            cache = (stamp, {})
            backend.__dict__["_emulator_image_queries"] = cache
        ids = cache[1].get(query)
        if ids is None:
            ids = sorted({image.id for image in compute()})
            cache[1][query] = ids
        return ids

    def _discoverable(self, image: Any, account: str, settings: dict[str, Any]) -> bool:
        """With Allowed AMIs ``enabled`` only allowed AMIs are listed (``allowed_images.py``)."""
        return settings["state"] != "enabled" or allowed(image, account, settings, self._clock.now())

    def describe_images(self, response: Any) -> Any:
        """EC2's DescribeImages: moto's selection, paged and rendered page by page."""
        response.error_on_dryrun()
        limit = max_results(response._get_param("MaxResults"))
        backend, account, region = response.ec2_backend, response.current_account, response.region
        selection = {
            "ami_ids": response._get_param("ImageIds", []) or [],
            "filters": response._filters_from_querystring(),
            "owners": response._get_param("Owners", []) or [],
            "exec_users": response._get_param("ExecutableUsers", []) or [],
        }
        include_disabled = _flag(response._get_param("IncludeDisabled"))
        include_deprecated = _flag(response._get_param("IncludeDeprecated"))
        settings = self._allowed_images.get(account, region)
        query = query_digest(
            account,
            region,
            selection["ami_ids"],
            selection["owners"],
            selection["exec_users"],
            {
                **selection["filters"],
                "_include_disabled": include_disabled,
                "_include_deprecated": include_deprecated,
                "_allowed": settings,
            },
        )
        token = response._get_param("NextToken")
        after = decode_token(token, query) if token else None
        now = self._clock.now()
        # Deprecation (whole minutes) and Allowed AMIs' day conditions change with the
        # clock, organization membership without an EC2 call: both key the cache, not
        # the token (a page boundary must not invalidate it).
        cache_key = f"{query}/{now:%Y%m%d%H%M}/{hash(org_arns(account))}"
        ids = self.matching_ids(
            backend,
            cache_key,
            lambda: [
                image
                for image in describe_visible_images(
                    backend, region, now, include_deprecated, include_disabled, **selection
                )
                if self._discoverable(image, account, settings)
            ],
        )
        start = bisect.bisect_right(ids, after) if after is not None else 0
        stop = len(ids) if limit is None else start + limit
        return self._page(response, ids[start:stop], encode_token(query, ids[stop - 1]) if stop < len(ids) else None)

    def _page(self, response: Any, ids: list[str], next_token: str | None) -> Any:
        """The answer holding the images ``ids`` (the caller's own, or shared with it)."""
        backend = response.ec2_backend
        visible = (
            backend.amis if not any(i not in backend.amis for i in ids) else visible_amis(backend, response.region)
        )
        page = [visible[i] for i in ids if i in visible]
        if self._before_render is not None:
            self._before_render(response, page)
        try:
            body = self._xml.render(page, next_token)
        except ImageXml._Unsupported:  # a shape the compiled writer does not know: moto writes it
            result: dict[str, Any] = {"Images": page}
            if next_token:
                result["NextToken"] = next_token
            return ActionResult(result)
        return 200, {"Content-Type": "text/xml", "server": "amazon.com"}, body


def _counting(pages: ImagePages) -> Any:
    def make(original: Any) -> Any:
        def call_action(self: Any) -> Any:
            action = self._get_action() or ""
            if not action.startswith(("Describe", "Get", "List")) and action not in _IMAGE_NEUTRAL:
                pages.bump()
            return original(self)

        return call_action

    return make


@once
def install(pages: ImagePages) -> None:
    """Replace moto's DescribeImages and count image-changing EC2 actions; once per process."""
    graft(EC2Response, "describe_images", pages.describe_images)
    wrap(EC2Response, "call_action", _counting(pages))
