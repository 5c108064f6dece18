"""Allowed AMIs: the account-level settings and DescribeImages' ``ImageAllowed``.

EC2's actions, grafted onto moto's EC2Response (botocore's model on the wire), state per
(account, Region): ``EnableAllowedImagesSettings`` (``enabled`` | ``audit-mode``),
``DisableAllowedImagesSettings``, ``GetAllowedImagesSettings`` and
``ReplaceImageCriteriaInAllowedImagesSettings``.  Criteria as the model documents them:
an AMI is allowed when it meets at least one criterion, and a criterion when it meets
every condition it sets - ``ImageProviders`` (``amazon``, ``aws-marketplace``,
``aws-backup-vault`` by owner alias, 12-digit owner ids, ``none`` = own account only),
``ImageNames`` (``*`` / ``?`` wildcards), ``CreationDateCondition`` and
``DeprecationTimeCondition`` (days, emulator clock).  The caller's own AMIs are always
allowed ("the Allowed AMIs feature does not restrict the AMIs owned by your account").
Other criterion members (marketplace codes, watermarks, scan results) are refused with
``InvalidParameterValue``: the emulator cannot evaluate them.

DescribeImages: ``disabled`` (default) shows no ``ImageAllowed``; ``audit-mode`` shows
``true``/``false`` on every AMI; ``enabled`` lists only allowed AMIs, with ``true``.
"""

from __future__ import annotations

import copy
import re
import threading
from datetime import datetime, timedelta
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ..clock import as_utc
from ..listing import matches_any
from ..once import once
from .graft import MillisResult, graft

ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault")
KNOWN = ("ImageProviders", "ImageNames", "CreationDateCondition", "DeprecationTimeCondition")


class AllowedImagesStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._settings: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, account: str, region: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._settings.get((account, region), {"state": "disabled", "criteria": []}))

    def update(self, account: str, region: str, **changes: Any) -> None:
        with self._lock:
            current = self._settings.setdefault((account, region), {"state": "disabled", "criteria": []})
            current.update(copy.deepcopy(changes))


def _bad(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


def _validate(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(criteria) > 10:
        raise _bad("You can specify at most 10 image criteria")
    for criterion in criteria:
        unknown = [k for k, v in criterion.items() if v not in (None, [], {}) and k not in KNOWN]
        if unknown:
            raise _bad(f"The emulator cannot evaluate the image criterion members {', '.join(unknown)}")
        providers = criterion.get("ImageProviders") or []
        bad = [p for p in providers if p not in ALIASES + ("none",) and not re.fullmatch(r"\d{12}", p)]
        if bad or ("none" in providers and len(providers) > 1):
            raise _bad(f"Value ({','.join(bad or providers)}) for parameter ImageProviders is invalid")
    return criteria


def _days_since(stamp: Any, now: datetime) -> float | None:
    if not stamp:
        return None
    when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return (now - as_utc(when)) / timedelta(days=1)


def _meets(ami: Any, criterion: dict[str, Any], account: str, now: datetime) -> bool:
    providers = criterion.get("ImageProviders") or []
    if providers and not any(
        ami.owner_id == account if p == "none" else ami.owner_alias == p if p in ALIASES else ami.owner_id == p
        for p in providers
    ):
        return False
    names = criterion.get("ImageNames") or []
    if names and not matches_any(names, ami.name):
        return False
    created = criterion.get("CreationDateCondition") or {}
    if created.get("MaximumDaysSinceCreated") is not None:
        age = _days_since(ami.creation_date, now)
        if age is None or age > int(created["MaximumDaysSinceCreated"]):
            return False
    limit = (criterion.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated")
    since = _days_since(getattr(ami, "deprecation_time", None), now)
    return limit is None or since is None or since < 0 or since < int(limit)


def allowed(ami: Any, account: str, settings: dict[str, Any], now: datetime) -> bool:
    return ami.owner_id == account or any(_meets(ami, c, account, now) for c in settings["criteria"])


class AllowedImagesActions:
    """The four settings actions, grafted onto moto's EC2Response; each takes the request's response."""

    def __init__(self, store: AllowedImagesStore) -> None:
        self._store = store

    def enable_allowed_images_settings(self, response: Any) -> Any:
        state = response._get_param("AllowedImagesSettingsState")
        if state not in ("enabled", "audit-mode"):
            raise _bad(f"Value ({state}) for parameter AllowedImagesSettingsState is invalid")
        response.error_on_dryrun()
        self._store.update(response.current_account, response.region, state=state)
        return MillisResult({"AllowedImagesSettingsState": state})

    def disable_allowed_images_settings(self, response: Any) -> Any:
        response.error_on_dryrun()
        self._store.update(response.current_account, response.region, state="disabled")
        return MillisResult({"AllowedImagesSettingsState": "disabled"})

    def get_allowed_images_settings(self, response: Any) -> Any:
        response.error_on_dryrun()
        settings = self._store.get(response.current_account, response.region)
        return MillisResult({"State": settings["state"], "ImageCriteria": settings["criteria"], "ManagedBy": "account"})

    def replace_image_criteria_in_allowed_images_settings(self, response: Any) -> Any:
        criteria = _validate(response._get_param("ImageCriteria", []) or [])
        response.error_on_dryrun()
        self._store.update(response.current_account, response.region, criteria=criteria)
        return MillisResult({"ReturnValue": True})


ACTIONS = (
    "enable_allowed_images_settings",
    "disable_allowed_images_settings",
    "get_allowed_images_settings",
    "replace_image_criteria_in_allowed_images_settings",
)


@once
def install(actions: AllowedImagesActions) -> None:
    for name in ACTIONS:
        graft(EC2Response, name, getattr(actions, name))
