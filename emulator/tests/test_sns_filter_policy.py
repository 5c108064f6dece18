"""SNS subscription filter policies on message attributes (moto's): each team's SQS queue
receives only the messages its policy selects, as the product's routing relies on."""

from __future__ import annotations

import json
from typing import Any


def subscribe(sns: Any, sqs: Any, topic: str, name: str, policy: dict[str, Any]) -> str:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(policy), "RawMessageDelivery": "true"},
    )
    return url


def publish(sns: Any, topic: str, body: str, **attributes: str | list[str]) -> None:
    encoded = {
        k: {"DataType": "String.Array", "StringValue": json.dumps(v)}
        if isinstance(v, list)
        else {"DataType": "String", "StringValue": v}
        for k, v in attributes.items()
    }
    sns.publish(TopicArn=topic, Message=body, MessageAttributes=encoded)


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return sorted(bodies)
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )


def test_two_teams_each_receive_only_their_own_news(aws: Any) -> None:
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="ami-usage")["TopicArn"]
    queues = {
        "payments": subscribe(sns, sqs, topic, "payments", {"team": ["payments"]}),
        "search": subscribe(sns, sqs, topic, "search", {"team": ["search"]}),
        "untagged": subscribe(sns, sqs, topic, "untagged", {"team": [{"exists": False}]}),
        "candidates": subscribe(sns, sqs, topic, "candidates", {"kind": ["candidate"]}),
    }
    publish(sns, topic, "payments-candidate", team="payments", kind=["candidate", "used_again"], account="123456789012")
    publish(sns, topic, "search-used-again", team="search", kind=["used_again"], account="123456789012")
    publish(sns, topic, "search-digest", team="search", kind=["digest"], account="123456789012")
    publish(sns, topic, "untagged-problem", kind=["report_problem"], account="123456789012")
    got = {name: drain(sqs, url) for name, url in queues.items()}
    assert got == {
        "payments": ["payments-candidate"],
        "search": ["search-digest", "search-used-again"],
        "untagged": ["untagged-problem"],
        "candidates": ["payments-candidate"],  # String.Array: any listed kind matches
    }
