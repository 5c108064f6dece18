"""What retiring an AMI does on EC2, beyond moto 5.2.5: the Recycle Bin and disabled AMIs.

* **DeregisterImage** (after ``image_fields``' protection check) puts the AMI in the
  Recycle Bin when an ``EC2_IMAGE`` rule of the owner account and Region matches it
  (``services/recycle_bin.py``): gone from DescribeImages, listed by ``ListImagesInRecycleBin``,
  back with its tags and state ``available`` through ``RestoreImageFromRecycleBin`` until
  the retention ends on the emulator clock.  Without a matching rule it is gone.
  ``DeleteAssociatedSnapshots=true`` deletes the AMI's snapshots (from its block-device
  mappings) and answers ``DeleteSnapshotResults``; a snapshot another AMI (registered or
  retained in the bin) also uses is skipped (``skipped``), a snapshot already gone is
  ``client-error``.
* **DeleteSnapshot** (directly, or for ``DeleteAssociatedSnapshots``) puts the snapshot
  in the Recycle Bin when an available ``EBS_SNAPSHOT`` rule matches its tags:
  ``ListSnapshotsInRecycleBin``, ``RestoreSnapshotFromRecycleBin``; else it is gone.
* **RestoreImageFromRecycleBin** needs every snapshot of the AMI restored first
  (``IncorrectState`` while one is in the bin, ``InvalidSnapshot.NotFound`` once one is
  gone for good: the AMI "is no longer recoverable").

Launches from a disabled AMI and sharing one are refused by ``image_use.py``.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.responses import EC2Response

from ..clock import rfc3339
from ..listing import InvalidToken, paginate
from ..once import once
from ..services.recycle_bin import RecycleBin
from .graft import MillisResult, graft, wrap

SNAPSHOT = "EBS_SNAPSHOT"


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
            backend.delete_snapshot(snapshot_id)  # into the Recycle Bin if a snapshot rule matches
            code = "success"
        results.append({"SnapshotId": snapshot_id, "ReturnCode": code})
    return results


def _wrap_delete_snapshot(recycle_bin: RecycleBin) -> Any:
    def make(original: Any) -> Any:
        def delete_snapshot(self: Any, snapshot_id: str) -> Any:
            tags = dict(self.tags.get(snapshot_id) or {})
            snapshot = original(self, snapshot_id)  # refuses one in use or unknown
            days = recycle_bin.retention_for(self.account_id, self.region_name, tags, SNAPSHOT)
            if days is not None:
                recycle_bin.retain(self.account_id, self.region_name, snapshot, tags, days, SNAPSHOT)
            return snapshot

        return delete_snapshot

    return make


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


class RecycleBinImageActions:
    """ListImagesInRecycleBin and RestoreImageFromRecycleBin on ``recycle_bin``, grafted onto
    moto's EC2Response; each takes the request's response."""

    def __init__(self, recycle_bin: RecycleBin) -> None:
        self.recycle_bin = recycle_bin

    def _page(self, response: Any, kind: str, ids_param: str, minimum: int) -> tuple[list[Any], str | None]:
        response.error_on_dryrun()
        raw = response._get_param("MaxResults")
        size = int(raw) if raw is not None else 1000
        if not minimum <= size <= 1000:
            raise EC2ClientError("InvalidParameterValue", f"MaxResults must be between {minimum} and 1000, not {size}")
        wanted = set(response._get_param(ids_param, []) or [])
        kept = [
            (item_id, r)
            for item_id, r in self.recycle_bin.retained(response.current_account, response.region, kind).items()
            if not wanted or item_id in wanted
        ]
        try:
            return paginate(kept, lambda item: [item[0]], size, response._get_param("NextToken"), kind)
        except InvalidToken:
            raise EC2ClientError(
                "InvalidPaginationToken", "The specified pagination token is not valid or is expired."
            ) from None

    @staticmethod
    def _answer(key: str, items: list[dict[str, Any]], token: str | None) -> MillisResult:
        result: dict[str, Any] = {key: items}
        if token:
            result["NextToken"] = token
        return MillisResult(result)

    def list_images_in_recycle_bin(self, response: Any) -> MillisResult:
        page, token = self._page(response, "EC2_IMAGE", "ImageIds", 1)
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
        return self._answer("Images", images, token)

    def list_snapshots_in_recycle_bin(self, response: Any) -> MillisResult:
        page, token = self._page(response, SNAPSHOT, "SnapshotIds", 5)
        snapshots = [
            {
                "SnapshotId": snapshot_id,
                "RecycleBinEnterTime": rfc3339(r.enter),
                "RecycleBinExitTime": rfc3339(r.exit),
                "Description": r.ami.description,
                "VolumeId": r.ami.volume.id,
            }
            for snapshot_id, r in page
        ]
        return self._answer("Snapshots", snapshots, token)

    def _snapshots_missing(self, response: Any, ami: Any) -> None:
        """EC2: "Before you can restore an AMI from the Recycle Bin, you must first restore
        all of its associated snapshots"; with one deleted for good "the AMI is no longer
        recoverable" (both codes chosen)."""
        binned = self.recycle_bin.retained(response.current_account, response.region, SNAPSHOT)
        for snapshot_id in _snapshot_ids(ami):
            if snapshot_id in binned:
                raise EC2ClientError(
                    "IncorrectState",
                    f"The snapshot {snapshot_id} of {ami.id} is in the Recycle Bin: restore it before the AMI.",
                )
            if snapshot_id not in response.ec2_backend.snapshots:
                raise EC2ClientError(
                    "InvalidSnapshot.NotFound",
                    f"The snapshot {snapshot_id} of {ami.id} was deleted: the AMI is no longer recoverable.",
                )

    def restore_image_from_recycle_bin(self, response: Any) -> MillisResult:
        image_id = response._get_param("ImageId")
        if not image_id:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter ImageId")
        response.error_on_dryrun()
        kept = self.recycle_bin.retained(response.current_account, response.region).get(image_id)
        if kept is None:
            raise EC2ClientError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' is not in the Recycle Bin")
        self._snapshots_missing(response, kept.ami)
        self.recycle_bin.take(response.current_account, response.region, image_id)
        kept.ami.state = "available"  # its launch permissions come back with it
        response.ec2_backend.amis[image_id] = kept.ami
        if image_id in response.ec2_backend.deleted_amis:
            response.ec2_backend.deleted_amis.remove(image_id)
        response.ec2_backend.tags[image_id].update(kept.tags)
        return MillisResult({"Return": True})

    def restore_snapshot_from_recycle_bin(self, response: Any) -> MillisResult:
        snapshot_id = response._get_param("SnapshotId")
        if not snapshot_id:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter SnapshotId")
        response.error_on_dryrun()
        kept = self.recycle_bin.take(response.current_account, response.region, snapshot_id, SNAPSHOT)
        if kept is None:
            raise EC2ClientError("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' is not in the Recycle Bin")
        snapshot = kept.ami
        response.ec2_backend.snapshots[snapshot_id] = snapshot
        response.ec2_backend.tags[snapshot_id].update(kept.tags)
        return MillisResult(
            {
                "SnapshotId": snapshot_id,
                "Description": snapshot.description,
                "Encrypted": bool(snapshot.encrypted),
                "OwnerId": snapshot.owner_id,
                "Progress": "100%",
                "StartTime": snapshot.start_time,
                "State": snapshot.status,
                "VolumeId": snapshot.volume.id,
                "VolumeSize": int(snapshot.volume.size),
            }
        )


ACTIONS = (
    "list_images_in_recycle_bin",
    "restore_image_from_recycle_bin",
    "list_snapshots_in_recycle_bin",
    "restore_snapshot_from_recycle_bin",
)


@once
def install(actions: RecycleBinImageActions) -> None:
    """After ``image_fields.install`` (its protection check runs first)."""
    for name in ACTIONS:
        graft(EC2Response, name, getattr(actions, name))
    wrap(EC2Response, "deregister_image", _wrap_deregister(actions.recycle_bin))
    wrap(EBSBackend, "delete_snapshot", _wrap_delete_snapshot(actions.recycle_bin))
