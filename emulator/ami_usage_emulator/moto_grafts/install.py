"""Every graft onto moto, installed once per process, each handed the stores it uses.

The order matters where two grafts wrap the same moto method: ``image_fields``' check of
deregistration protection runs inside ``retirement_images``' DeregisterImage (which puts
the AMI in the Recycle Bin only once moto has deregistered it).
"""

from __future__ import annotations

from ..world import World
from . import (
    allowed_images,
    image_fields,
    image_pages,
    image_use,
    launch_configurations,
    moto_clock,
    moto_fixes,
    owner_usage,
    report_actions,
    retirement_images,
    s3_uploads,
    ssm_parameters,
)


def install(world: World) -> None:
    """Graft the emulator onto moto's classes, on ``world``'s stores (the first call's
    world: moto's classes are patched once per process)."""
    launches = owner_usage.LastLaunched(world.clock, world.config)
    fields = image_fields.ImageFields(world.clock, launches, world.allowed_images)
    moto_fixes.install(world.clock)
    s3_uploads.install(world.clock)
    image_pages.install(image_pages.ImagePages(world.clock, world.allowed_images, before_render=fields.prepare_page))
    report_actions.install(report_actions.UsageReportActions(world.reports, world.clock, world.config, world.oddities))
    launch_configurations.install()
    owner_usage.install(owner_usage.ImageReferences(world.recipes), launches)
    moto_clock.install(world.clock)
    image_fields.install(fields)
    allowed_images.install(allowed_images.AllowedImagesActions(world.allowed_images))
    retirement_images.install(retirement_images.RecycleBinImageActions(world.recycle_bin))
    image_use.install(image_use.ImageUse(world.clock, world.allowed_images))
    ssm_parameters.install()
