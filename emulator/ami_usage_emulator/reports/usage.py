"""What an image usage report counts, read from moto's EC2 backends and the recipe store.

At creation a report counts, from what moto really holds in its EC2 backends for the
report's region (and the emulator's Image Builder recipes, ``services/recipes.py``), the
instances, launch templates, image recipes and container recipes of every *other*
account that reference the AMI (the owner too when ``include_owner_account`` is set).
Nothing here is canned: add an instance in a consumer account and the next report
counts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..clock import as_utc
from ..services.recipes import RecipeStore
from .model import INSTANCE, LAUNCH_TEMPLATE, Entry, version_depth

NOT_COUNTED_STATES = ("terminated", "shutting-down")


def _instance_count(backend: Any, image_id: str, lag_seconds: float, cutoff: datetime) -> int:
    return sum(
        1
        for inst in backend.all_instances()
        if inst.image_id == image_id
        and inst.state not in NOT_COUNTED_STATES
        and (lag_seconds <= 0 or as_utc(inst.launch_time) <= cutoff)
    )


def _template_count(backend: Any, image_id: str, depth: int, cutoff: datetime) -> int:
    """Templates whose newest ``depth`` versions, as they stood at ``cutoff``, use the AMI."""
    count = 0
    for tpl in list(backend.launch_templates.values()):
        seen = [v for v in tpl.versions if as_utc(v.create_time) <= cutoff]
        count += any(v.image_id == image_id for v in seen[-depth:])
    return count


def _account_counts(
    recipes: RecipeStore,
    account_id: str,
    region: str,
    backend: Any,
    image_id: str,
    wanted: set[str],
    depth: int,
    lag_seconds: float,
    cutoff: datetime,
    template_cutoff: datetime,
) -> list[Entry]:
    """One account's non-zero counts, for the requested resource types only."""
    counts: dict[str, int] = {}
    if backend is not None and INSTANCE in wanted:
        counts[INSTANCE] = _instance_count(backend, image_id, lag_seconds, cutoff)
    if backend is not None and LAUNCH_TEMPLATE in wanted:
        counts[LAUNCH_TEMPLATE] = _template_count(backend, image_id, depth, template_cutoff)
    for recipe in recipes.referencing(account_id, region, image_id):
        if recipe.resource_type in wanted:
            counts[recipe.resource_type] = counts.get(recipe.resource_type, 0) + 1
    return [Entry(rtype, account_id, n) for rtype, n in counts.items() if n]


def compute_entries(
    recipes: RecipeStore,
    owner: str,
    region: str,
    image_id: str,
    resource_types: list[dict[str, Any]],
    account_ids: list[str],
    include_owner: bool,
    lags: tuple[float, float],
    now: datetime,
) -> list[Entry]:
    """Count, account by account, what references ``image_id`` in moto (and the recipe
    store) right now: every account with an EC2 backend or a recipe in the Region.  ``lags``:
    (instance, launch template) activity lag in seconds; younger activity is not seen."""
    from moto.ec2.models import ec2_backends

    wanted = {rt["ResourceType"] for rt in resource_types}
    depth = version_depth(resource_types)
    lag_seconds, template_lag = lags
    cutoff = now - timedelta(seconds=lag_seconds)
    template_cutoff = now - timedelta(seconds=template_lag)
    backends = {a: b for a, r, b in list(ec2_backends.iter_backends()) if r == region}
    entries: list[Entry] = []
    for account_id in sorted(set(backends) | recipes.accounts(region)):
        if (account_id == owner and not include_owner) or (account_ids and account_id not in account_ids):
            continue
        entries += _account_counts(
            recipes,
            account_id,
            region,
            backends.get(account_id),
            image_id,
            wanted,
            depth,
            lag_seconds,
            cutoff,
            template_cutoff,
        )
    return entries
