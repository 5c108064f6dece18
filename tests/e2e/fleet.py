"""A declarative fleet: AMIs in the owner account, instances and launch templates in
consumer accounts. `seed` creates it in the emulator; `expected_entries` computes from
the same spec what a usage report must say, so tests never hard-code results."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness import OWNER, Emulator

CONSUMER_1 = "111111111111"
CONSUMER_2 = "222222222222"


@dataclass
class AmiSpec:
    key: str
    name: str
    tags: dict[str, str]
    volume_gib: int = 8
    image_id: str = ""


@dataclass
class TemplateSpec:
    account: str
    name: str
    versions: list[str]  # AMI keys, oldest first


@dataclass
class Fleet:
    amis: list[AmiSpec]
    instances: list[tuple[str, str, int]] = field(default_factory=list)  # (account, ami key, count)
    templates: list[TemplateSpec] = field(default_factory=list)

    def id(self, key: str) -> str:
        return next(a.image_id for a in self.amis if a.key == key)

    def selected(self, tag_key: str = "Golden", tag_value: str = "true") -> list[AmiSpec]:
        return [a for a in self.amis if a.tags.get(tag_key) == tag_value]

    def expected_entries(self, key: str, depth: int = 20) -> Counter:
        """(account_id, resource_type) -> usage_count for one AMI, other accounts only."""
        usage: Counter = Counter()
        for account, ami, count in self.instances:
            if ami == key and account != OWNER:
                usage[(account, "ec2:Instance")] += count
        for t in self.templates:
            if t.account != OWNER and key in t.versions[-depth:]:
                usage[(t.account, "ec2:LaunchTemplate")] += 1
        return usage


def demo_fleet() -> Fleet:
    return Fleet(
        amis=[
            AmiSpec("a", "golden-al2023-a", {"Golden": "true", "Family": "al2023"}, volume_gib=8),
            AmiSpec("b", "golden-al2023-b", {"Golden": "true", "Family": "al2023"}, volume_gib=30),
            AmiSpec("c", "golden-unused-c", {"Golden": "true", "Family": "legacy"}, volume_gib=100),
            AmiSpec("d", "scratch-d", {"Golden": "false"}),
            AmiSpec("e", "golden-old-e", {"Golden": "true", "Family": "al2023"}, volume_gib=8),
        ],
        instances=[(CONSUMER_1, "a", 2), (CONSUMER_2, "b", 1), (CONSUMER_1, "d", 1)],
        templates=[
            TemplateSpec(CONSUMER_2, "web", ["a"]),
            TemplateSpec(CONSUMER_1, "batch", ["e", "a"]),
        ],
    )


# A usage report counts activity EC2 has caught up with: instances up to 24 hours after
# their launch, launch templates up to 7 days after they name the AMI (the emulator's
# defaults, emulator/FIDELITY.md). A seeded fleet has existed longer than that when a
# test begins, so its reports show it; a test of what a fresh launch does (not yet in
# any report) launches after the seed.
PAST_REPORT_LAGS = 7 * 86400 + 3600

# Verdict rules short enough for a few emulated days of the demo fleet: a candidate after
# 3 days of zero-usage reports, whatever its age or the share of candidates. The
# compaction test and bench/idle_collect.py live the same history under them.
SHORT_WINDOW_RULES = dict(
    AMI_TAG_FILTERS="Golden=true",
    UNUSED_MIN_DAYS="3",
    MIN_REPORTS="2",
    MIN_AGE_DAYS="0",
    MAX_CANDIDATE_PERCENT="100",
)


def seed(emu: Emulator, fleet: Fleet) -> None:
    owner = emu.client("ec2")
    consumers = {a for a, _, _ in fleet.instances} | {t.account for t in fleet.templates}
    for spec in fleet.amis:
        vol = owner.create_volume(AvailabilityZone="us-east-1a", Size=spec.volume_gib)
        snap = owner.create_snapshot(VolumeId=vol["VolumeId"])
        image = owner.register_image(
            Name=spec.name,
            Architecture="x86_64",
            RootDeviceName="/dev/xvda",
            VirtualizationType="hvm",
            BlockDeviceMappings=[
                {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap["SnapshotId"], "VolumeSize": spec.volume_gib}}
            ],
            TagSpecifications=[
                {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in spec.tags.items()]}
            ],
        )
        spec.image_id = image["ImageId"]
        owner.modify_image_attribute(
            ImageId=spec.image_id,
            LaunchPermission={"Add": [{"UserId": a} for a in sorted(consumers)]},
        )
    for account, key, count in fleet.instances:
        emu.client("ec2", account).run_instances(
            ImageId=fleet.id(key), MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )
    for t in fleet.templates:
        ec2 = emu.client("ec2", t.account)
        first, *rest = t.versions
        ec2.create_launch_template(
            LaunchTemplateName=t.name, LaunchTemplateData={"ImageId": fleet.id(first), "InstanceType": "t3.micro"}
        )
        for key in rest:
            ec2.create_launch_template_version(
                LaunchTemplateName=t.name, LaunchTemplateData={"ImageId": fleet.id(key), "InstanceType": "t3.micro"}
            )
    emu.advance(PAST_REPORT_LAGS)


@dataclass
class Alerting:
    bucket: str
    topic_arn: str
    queue_url: str


def archive_and_alerting(emu: Emulator, bucket: str = "ami-usage-archive") -> Alerting:
    emu.client("s3").create_bucket(Bucket=bucket)
    sns = emu.client("sns")
    sqs = emu.client("sqs")
    topic = sns.create_topic(Name="ami-usage-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alert-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return Alerting(bucket, topic, queue_url)


def register_golden(ec2, name: str, share_with: list[str], tags: dict[str, str] | None = None, gib: int = 10) -> str:
    """An EBS-backed AMI of one snapshot of `gib` GiB, tagged (Golden=true unless `tags`
    say otherwise) and shared with `share_with`."""
    vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=gib)
    snap = ec2.create_snapshot(VolumeId=vol["VolumeId"])
    tags = {"Golden": "true"} if tags is None else tags
    image_id = ec2.register_image(
        Name=name,
        Architecture="x86_64",
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap["SnapshotId"]}}],
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["ImageId"]
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": a} for a in share_with]})
    return image_id
