"""SNS Publish's documented limits (``validation/documented.py``), refused with
``InvalidParameter`` as SNS does: the subject, MessageStructure=json, the size of the
message and its attributes in UTF-8 bytes, the message attributes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def _topic(aws, **attributes):
    sns = aws("sns")
    return sns, sns.create_topic(Name="alerts", Attributes=attributes)["TopicArn"]


def _refused(sns, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        sns.publish(**kwargs)
    assert err.value.response["Error"]["Code"] == "InvalidParameter"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err.value.response["Error"]["Message"]


def test_subject_under_100_characters_without_control_characters(aws, control):
    sns, arn = _topic(aws)
    sns.publish(TopicArn=arn, Message="m", Subject="s" * 99)
    assert "Subject" in _refused(sns, TopicArn=arn, Message="m", Subject="s" * 100)
    _refused(sns, TopicArn=arn, Message="m", Subject="two\nlines")
    _refused(sns, TopicArn=arn, Message="m", Subject="tab\there")
    assert len(control.get("/sns/published")["messages"]) == 1  # refused ones are not published


def test_message_structure_json_needs_a_default_string(aws):
    sns, arn = _topic(aws)
    sns.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"default": "d", "email": "e"}))
    _refused(sns, TopicArn=arn, MessageStructure="json", Message=json.dumps({"email": "e"}))
    _refused(sns, TopicArn=arn, MessageStructure="json", Message=json.dumps({"default": {"nested": 1}}))
    _refused(sns, TopicArn=arn, MessageStructure="json", Message="not json")
    _refused(sns, TopicArn=arn, MessageStructure="xml", Message="m")
    _refused(sns, TopicArn=arn, Message="")


def test_size_counts_utf8_bytes_and_the_attributes(aws):
    sns, arn = _topic(aws)
    sns.publish(TopicArn=arn, Message="a" * 262144)
    assert "too long" in _refused(sns, TopicArn=arn, Message="é" * 131073)  # 262,146 bytes, 131,073 characters
    attrs = {"team": {"DataType": "String", "StringValue": "payments"}}  # 4 + 6 + 8 = 18 bytes
    sns.publish(TopicArn=arn, Message="a" * (262144 - 18), MessageAttributes=attrs)
    _refused(sns, TopicArn=arn, Message="a" * (262144 - 17), MessageAttributes=attrs)


def test_message_attributes(aws):
    sns, arn = _topic(aws)
    for attrs in (
        {"AWS.team": {"DataType": "String", "StringValue": "x"}},
        {".team": {"DataType": "String", "StringValue": "x"}},
        {"te..am": {"DataType": "String", "StringValue": "x"}},
        {"team": {"DataType": "Text", "StringValue": "x"}},
        {"team": {"DataType": "String", "StringValue": ""}},
        {"count": {"DataType": "Number", "StringValue": "many"}},
        {"teams": {"DataType": "String.Array", "StringValue": "payments"}},
    ):
        _refused(sns, TopicArn=arn, Message="m", MessageAttributes=attrs)
    ok = {
        "team": {"DataType": "String", "StringValue": "payments"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "teams": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
    }
    sns.publish(TopicArn=arn, Message="m", MessageAttributes=ok)
