"""moto's instance launch times, image creation dates and launch template versions' create
times on the emulator clock.

moto stamps instance launches (``LaunchTime``) and image registration (``CreationDate``)
with the host's clock; here they follow the emulator's, so a test that moves the clock 30
days forward and then launches or registers sees the times a real account would.
"""

from __future__ import annotations

from datetime import datetime

from moto.ec2.models import amis, instances, launch_templates

from ..clock import Clock
from ..once import once


@once
def install(clock: Clock) -> None:
    def naive_emulator_now() -> datetime:
        return clock.now().replace(tzinfo=None)  # moto stores naive UTC datetimes

    instances.utcnow = naive_emulator_now
    amis.utcnow = naive_emulator_now
    launch_templates.utcnow = naive_emulator_now  # a version's create time: the reports' lag
