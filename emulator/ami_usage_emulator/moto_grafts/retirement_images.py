"""What retiring an AMI does on EC2, beyond moto 5.2.5: the Recycle Bin and disabled AMIs.

* **DeregisterImage** (after ``image_fields``' protection check) puts the AMI in the
  Recycle Bin when an ``EC2_IMAGE`` rule of the owner account and Region matches it
  (``services/recycle_bin.py``): gone from DescribeImages, listed by ``ListImagesInRecycleBin``,
  back with its tags and state ``available`` through ``RestoreImageFromRecycleBin`` until
  the retention ends on the emulator clock.  Without a matching rule it is gone.
  ``DeleteAssociatedSnapshots=true`` deletes the AMI's snapshots (from its block-device
  mappings) and answers ``DeleteSnapshotResults``; a snapshot another AMI (registered or
  retained in the bin) also uses is skipped (``skipped``), a snapshot already gone is
  ``client-error``.  Deleted snapshots do not go to the Recycle Bin (no snapshot rules
  are applied) and an AMI restored after its snapshots were deleted still names them.
* **RunInstances** from a disabled AMI is refused for everybody, the owner included
  (EC2: "A disabled AMI can't be used for instance launches"), with
  ``InvalidAMIID.Unavailable``.  (A consumer also lost its launch permission when the AMI
  was disabled; EnableImage does not give it back, as on EC2.)
* **ModifyImageAttribute** that adds launch permissions to a disabled AMI is refused
  with `OperationNotPermitted` *(chosen code)*: "A disabled AMI can't be shared".
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ..clock import rfc3339
from ..listing import InvalidToken, paginate
from ..once import once
from ..services.recycle_bin import RecycleBin
from .graft import MillisResult, graft, wrap


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _snapshot_ids(ami: Any) -> list[str]:
    ids = []
    for mapping in ami.block_device_mappings or []:
        snapshot = (mapping.get("Ebs") or {}).get("SnapshotId")
        if snapshot and snapshot not in ids:
            ids.append(snapshot)
    return ids


def _delete_snapshots(recycle_bin: RecycleBin, backend: Any, account: str, ami: Any) -> list[dict[str, str]]:
    in_use = {s for other in backend.amis.values() for s in _snapshot_ids(other)}
    retained = recycle_bin.retained(account, backend.region_name).values()
    in_use |= {s for kept in retained for s in _snapshot_ids(kept.ami)}
    results = []
    for snapshot_id in _snapshot_ids(ami):
        if snapshot_id in in_use:
            code = "skipped"
        elif snapshot_id not in backend.snapshots:
            code = "client-error"
        else:
            backend.snapshots.pop(snapshot_id)
            code = "success"
        results.append({"SnapshotId": snapshot_id, "ReturnCode": code})
    return results


def _wrap_deregister(recycle_bin: RecycleBin) -> Any:
    def make(original: Any) -> Any:
        def deregister_image(self: Any) -> Any:
            image_id = self._get_param("ImageId")
            ami = self.ec2_backend.amis.get(image_id)
            tags = dict(self.ec2_backend.tags.get(image_id) or {}) if ami is not None else {}
            original(self)  # refuses a protected, unknown or foreign AMI
            result: dict[str, Any] = {"Return": True}
            if _true(self._get_param("DeleteAssociatedSnapshots")):
                result["DeleteSnapshotResults"] = _delete_snapshots(
                    recycle_bin, self.ec2_backend, self.current_account, ami
                )
            days = recycle_bin.retention_for(self.current_account, self.region, tags)
            if days is not None:
                recycle_bin.retain(self.current_account, self.region, ami, tags, days)
            return MillisResult(result)

        return deregister_image

    return make


def _wrap_run_instances(original: Any) -> Any:
    def run_instances(self: Any) -> Any:
        from moto.ec2.models import ec2_backends

        image_id = self._get_param("ImageId")
        for _, region, backend in list(ec2_backends.iter_backends()):
            ami = backend.amis.get(image_id) if image_id and region == self.region else None
            if ami is not None and ami.state == "disabled":
                raise EC2ClientError("InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is disabled.")
        return original(self)

    return run_instances


def _wrap_modify_attribute(original: Any) -> Any:
    def modify_image_attribute(self: Any) -> Any:
        ami = self.ec2_backend.amis.get(self._get_param("ImageId"))
        adds = (self._get_param("LaunchPermission", {}) or {}).get("Add") or []
        if self._get_param("OperationType") == "add":
            adds = adds or [self._get_param("UserIds", []), self._get_param("UserGroups", [])]
        if ami is not None and ami.state == "disabled" and any(adds):
            raise EC2ClientError(
                "OperationNotPermitted", f"The image {ami.id} is disabled: a disabled AMI can't be shared."
            )
        return original(self)

    return modify_image_attribute


class RecycleBinImageActions:
    """ListImagesInRecycleBin and RestoreImageFromRecycleBin on ``recycle_bin``, grafted onto
    moto's EC2Response; each takes the request's response."""

    def __init__(self, recycle_bin: RecycleBin) -> None:
        self.recycle_bin = recycle_bin

    def list_images_in_recycle_bin(self, response: Any) -> MillisResult:
        response.error_on_dryrun()
        raw = response._get_param("MaxResults")
        size = int(raw) if raw is not None else 1000
        if not 1 <= size <= 1000:
            raise EC2ClientError("InvalidParameterValue", f"MaxResults must be between 1 and 1000, not {size}")
        wanted = set(response._get_param("ImageIds", []) or [])
        kept = [
            (image_id, r)
            for image_id, r in self.recycle_bin.retained(response.current_account, response.region).items()
            if not wanted or image_id in wanted
        ]
        try:
            page, token = paginate(kept, lambda item: [item[0]], size, response._get_param("NextToken"), "recycle-bin")
        except InvalidToken:
            raise EC2ClientError(
                "InvalidPaginationToken", "The specified pagination token is not valid or is expired."
            ) from None
        images = [
            {
                "ImageId": image_id,
                "Name": r.ami.name,
                "Description": r.ami.description,
                "RecycleBinEnterTime": rfc3339(r.enter),
                "RecycleBinExitTime": rfc3339(r.exit),
            }
            for image_id, r in page
        ]
        result: dict[str, Any] = {"Images": images}
        if token:
            result["NextToken"] = token
        return MillisResult(result)

    def restore_image_from_recycle_bin(self, response: Any) -> MillisResult:
        image_id = response._get_param("ImageId")
        if not image_id:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter ImageId")
        response.error_on_dryrun()
        kept = self.recycle_bin.take(response.current_account, response.region, image_id)
        if kept is None:
            raise EC2ClientError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' is not in the Recycle Bin")
        kept.ami.state = "available"
        response.ec2_backend.amis[image_id] = kept.ami
        if image_id in response.ec2_backend.deleted_amis:
            response.ec2_backend.deleted_amis.remove(image_id)
        response.ec2_backend.tags[image_id].update(kept.tags)
        return MillisResult({"Return": True})


ACTIONS = ("list_images_in_recycle_bin", "restore_image_from_recycle_bin")


@once
def install(actions: RecycleBinImageActions) -> None:
    """After ``image_fields.install`` (its protection check runs first)."""
    for name in ACTIONS:
        graft(EC2Response, name, getattr(actions, name))
    wrap(EC2Response, "deregister_image", _wrap_deregister(actions.recycle_bin))
    wrap(EC2Response, "run_instances", _wrap_run_instances)
    wrap(EC2Response, "modify_image_attribute", _wrap_modify_attribute)
