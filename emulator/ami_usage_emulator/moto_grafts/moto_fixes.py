"""Small, additive fixes to moto 5.2.5 that the project's tests rely on.

* ``RegisterImage`` in moto ignores ``TagSpecifications``,
  ``BlockDeviceMappings``, ``RootDeviceName``, ``Architecture``... and shows a
  made-up 15 GiB root snapshot.  The reporter reads an AMI's tags (to select
  it) and its block-device mappings (snapshot sizes) from ``DescribeImages``,
  so we wrap moto's handler: tags are applied, the mappings as registered
  (sizes defaulting to the snapshot's) replace moto's placeholder, and the
  snapshots become "in use" by the AMI as on AWS.
* ``RegisterImage`` also ignores ``BillingProducts``, and moto's AMIs have no
  ``PlatformDetails`` / ``UsageOperation`` at all.  A registered AMI now shows
  the pair AWS shows for its billing products (``Linux/UNIX`` /
  ``RunInstances`` without any), from ``BILLING_PLATFORMS``; a code or a
  combination not in that table is refused with ``InvalidParameterValue``
  before anything is created (AWS refuses codes the account is not authorised
  for; the emulator authorises exactly the known ones).  Its ``CreationDate``
  is the emulator clock (moto uses real time), so an AMI registered after
  ``POST /_emulator/clock`` is as young as the reports around it.
* ``CreateLaunchTemplateVersion`` ignores ``SourceVersion`` in moto: the new
  version should start from the source version's data (request fields
  override), so a version that only changes the instance type still
  references the AMI - which is exactly what usage reports count.
* ``amiur-`` is registered as an EC2 resource-id prefix so that ``CreateTags``
  / ``DeleteTags`` / ``DescribeTags`` accept image usage report ids (AWS
  documents CreateTags as the way to tag a report after creation).
* ``TaggedEC2Resource.get_tags`` in moto runs ``describe_tags`` over the whole
  tag store of the backend for every resource it serialises or filters, so
  DescribeImages over N tagged AMIs costs O(N²) (minutes at 10,000 AMIs).  The
  fix reads the resource's own entry of the same store: the same tags in the
  same order, in O(1).
* ``DescribeImages`` ignores ``MaxResults`` / ``NextToken`` in moto; it is
  replaced by EC2's paging (``image_pages.py``).
* EC2 response bodies: moto writes ``requestId`` as the literal
  ``request-id`` and the namespace without its trailing slash; AWS sends a
  UUID and ``http://ec2.amazonaws.com/doc/2016-11-15/`` (and no namespace on
  the ``<Response>`` error envelope).  ``polish_ec2_body`` fixes these for
  every EC2 response (SDKs ignore them, people reading wire dumps do not).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.amis import Ami
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.responses import EC2Response
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, EC2_RESOURCE_TO_PREFIX, get_prefix

from ..clock import Clock
from ..once import once
from .graft import wrap

REPORT_PREFIX = "amiur"

# Billing product codes of RegisterImage -> (PlatformDetails, UsageOperation) that
# DescribeImages then shows. The pairs are AWS's ("AMI billing information fields",
# EC2 User Guide); AWS does not publish a bp- code table, these are Red Hat's public
# ones (on-demand RHEL, its High Availability add-on, Cloud Access BYOL).
BILLING_PLATFORMS: dict[frozenset[str], tuple[str, str]] = {
    frozenset(): ("Linux/UNIX", "RunInstances"),
    frozenset({"bp-6fa54006"}): ("Red Hat Enterprise Linux", "RunInstances:0010"),
    frozenset({"bp-6fa54006", "bp-79a54010"}): ("Red Hat Enterprise Linux with HA", "RunInstances:1010"),
    frozenset({"bp-63a5400a"}): ("Red Hat BYOL Linux", "RunInstances:00g0"),
}


@once
def install(clock: Clock) -> None:
    """The fixes above (``RegisterImage``'s creation date on ``clock``); once per process."""
    EC2_RESOURCE_TO_PREFIX.setdefault("image-usage-report", REPORT_PREFIX)
    TaggedEC2Resource.get_tags = _own_tags
    wrap(EC2Response, "register_image", _register_image(clock))
    wrap(EC2Response, "create_launch_template_version", _launch_template_version)


def _register_image(clock: Clock) -> Any:
    def make(original: Any) -> Any:
        def register_image(self: Any) -> Any:
            """moto's RegisterImage, plus what it ignores (tags, mappings, root device...)."""
            mappings = [_mapping(self.ec2_backend, m) for m in self._get_param("BlockDeviceMappings", []) or []]
            billing = _billing_platform(self._get_param("BillingProducts", []) or [])
            result = original(self)  # raises DryRunOperation before anything is created
            ami = self.ec2_backend.amis[result.result["ImageId"]]
            ami.platform_details, ami.usage_operation = billing
            ami.creation_date = clock.now().replace(tzinfo=None)  # moto keeps naive UTC
            specs = self._get_param("TagSpecifications", []) or []
            tags = {
                t["Key"]: t.get("Value", "")
                for s in specs
                if s.get("ResourceType") == "image"
                for t in s.get("Tags") or []
            }
            if tags:
                self.ec2_backend.create_tags([ami.id], tags)
            for attr, param in (
                ("architecture", "Architecture"),
                ("boot_mode", "BootMode"),
                ("virtualization_type", "VirtualizationType"),
            ):
                if self._get_param(param):
                    setattr(ami, attr, self._get_param(param))
            if mappings:
                _register_mappings(self, ami, mappings)
            return result

        return register_image

    return make


def _register_mappings(response: Any, ami: Ami, mappings: list[dict[str, Any]]) -> None:
    """The AMI shows the mappings it was registered with, its snapshots in use by it."""
    response.ec2_backend.snapshots.pop(ami.ebs_snapshot.id, None)  # moto's placeholder
    ami.__class__ = RegisteredAmi
    ami.registered_mappings = mappings  # type: ignore[attr-defined]
    root = response._get_param("RootDeviceName") or mappings[0]["DeviceName"]
    ami.root_device_name = root
    ami.root_device_type = "ebs" if any(m["DeviceName"] == root and "Ebs" in m for m in mappings) else "instance-store"
    for m in mappings:
        snap_id = m.get("Ebs", {}).get("SnapshotId")
        if snap_id:
            response.ec2_backend.snapshots[snap_id].from_ami = ami.id


def _launch_template_version(original: Any) -> Any:
    def create_launch_template_version(self: Any) -> Any:
        """moto's CreateLaunchTemplateVersion, with AWS's SourceVersion inheritance."""
        source = self._get_param("SourceVersion")
        if source:
            try:
                name, tid = self._get_param("LaunchTemplateName"), self._get_param("LaunchTemplateId")
                template = (
                    self.ec2_backend.get_launch_template(tid)
                    if tid
                    else self.ec2_backend.get_launch_template_by_name(name)
                )
                base = copy.deepcopy(template.get_version(source).data)
            except Exception:  # let moto's own handler report the bad template/version
                base = None
            if base is not None:
                self.params["LaunchTemplateData"] = {**base, **(self._get_param("LaunchTemplateData") or {})}
        return original(self)

    return create_launch_template_version


def _own_tags(self: Any) -> list[dict[str, str]]:
    """moto's ``get_tags`` result (``describe_tags`` rows for this resource id), without
    scanning every other resource's tags to find them."""
    if not self.id:
        return []
    own = self.ec2_backend.tags.get(self.id)  # .get: the store is a defaultdict
    if not own:
        return []
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind} for k, v in own.items()]


class RegisteredAmi(Ami):
    """An AMI from RegisterImage: describes the block-device mappings it was registered with."""

    registered_mappings: list[dict[str, Any]]

    @property
    def block_device_mappings(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return copy.deepcopy(self.registered_mappings)


RegisteredAmi.__name__ = "Ami"  # moto's serializer aliases attributes by class name


def _billing_platform(codes: list[str]) -> tuple[str, str]:
    """(PlatformDetails, UsageOperation) of an AMI registered with these billing products."""
    known = BILLING_PLATFORMS.get(frozenset(codes))
    if known is None:
        raise EC2ClientError(
            "InvalidParameterValue",
            # the codes asked for only: which ones another account may use is none of its business
            f"Billing products {sorted(set(codes))} are not authorized for this account.",
        )
    return known


def _mapping(backend: Any, raw: dict[str, Any]) -> dict[str, Any]:
    """One BlockDeviceMapping as DescribeImages shows it, with AWS's defaults filled in."""
    out: dict[str, Any] = {"DeviceName": raw.get("DeviceName")}
    for key in ("VirtualName", "NoDevice"):
        if raw.get(key) is not None:
            out[key] = raw[key]
    ebs = raw.get("Ebs")
    if ebs is not None:
        snapshot = backend.get_snapshot(ebs["SnapshotId"]) if ebs.get("SnapshotId") else None
        size = ebs.get("VolumeSize") or (snapshot.volume.size if snapshot else None)
        out["Ebs"] = {
            k: v
            for k, v in {
                "SnapshotId": ebs.get("SnapshotId"),
                "VolumeSize": int(size) if size else None,
                "DeleteOnTermination": ebs.get("DeleteOnTermination", True),
                "VolumeType": ebs.get("VolumeType", "gp2"),
                "Iops": ebs.get("Iops"),
                "Throughput": ebs.get("Throughput"),
                "KmsKeyId": ebs.get("KmsKeyId"),
                "Encrypted": ebs.get("Encrypted", snapshot.encrypted if snapshot else False),
            }.items()
            if v is not None
        }
    return out


def polish_ec2_body(body: bytes) -> bytes:
    if b"request-id</" not in body and b'2016-11-15"' not in body:
        return body
    rid = str(uuid.uuid4()).encode()
    return (
        body.replace(b"<requestId>request-id</requestId>", b"<requestId>" + rid + b"</requestId>")
        .replace(b"<RequestID>request-id</RequestID>", b"<RequestID>" + rid + b"</RequestID>")
        .replace(b'<Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15">', b"<Response>")
        .replace(
            b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15"', b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
        )
    )
