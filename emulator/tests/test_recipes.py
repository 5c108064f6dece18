"""Image Builder image and container recipes through boto3's imagebuilder client (rest-json,
botocore's model on the wire): per account and Region, AWS-like ARNs, refusals."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from botocore.exceptions import ClientError
from emu_helpers import OWNER, REGION, register_ami, share

CONSUMER = "111111111111"
COMPONENT = [{"componentArn": f"arn:aws:imagebuilder:{REGION}:aws:component/update-linux/x.x.x"}]


def image_recipe(ib, ami, name="web", version="1.0.0", **kwargs):
    return ib.create_image_recipe(name=name, semanticVersion=version, parentImage=ami, components=COMPONENT, **kwargs)


def container_recipe(ib, ami, name="svc", version="2.1.0", **kwargs):
    return ib.create_container_recipe(
        containerType="DOCKER",
        name=name,
        semanticVersion=version,
        components=COMPONENT,
        parentImage="amazonlinux:latest",
        instanceConfiguration={"image": ami},
        dockerfileTemplateData="FROM {{{ imagebuilder:parentImage }}}",
        targetRepository={"service": "ECR", "repositoryName": "svc"},
        **kwargs,
    )


def test_image_recipe_create_get_list_delete(aws):
    ami = register_ami(aws("ec2"))
    ib = aws("imagebuilder")
    created = image_recipe(ib, ami, name="Web Server", tags={"team": "a"})
    arn = created["imageRecipeArn"]
    assert arn == f"arn:aws:imagebuilder:{REGION}:{OWNER}:image-recipe/web-server/1.0.0"
    assert created["latestVersionReferences"]["latestMajorVersionArn"].endswith("/web-server/1.x.x")
    got = ib.get_image_recipe(imageRecipeArn=arn)["imageRecipe"]
    assert (got["name"], got["version"], got["parentImage"], got["owner"], got["type"], got["platform"]) == (
        "Web Server",
        "1.0.0",
        ami,
        OWNER,
        "AMI",
        "Linux",
    )
    assert got["tags"] == {"team": "a"} and got["dateCreated"].endswith("Z")
    [summary] = ib.list_image_recipes()["imageRecipeSummaryList"]
    assert (summary["arn"], summary["parentImage"]) == (arn, ami)
    assert aws("imagebuilder", account=CONSUMER).list_image_recipes()["imageRecipeSummaryList"] == []
    assert ib.list_container_recipes()["containerRecipeSummaryList"] == []
    assert ib.delete_image_recipe(imageRecipeArn=arn)["imageRecipeArn"] == arn
    with pytest.raises(ClientError) as err:
        ib.get_image_recipe(imageRecipeArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_container_recipe_references_its_build_instance_ami(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    ib = aws("imagebuilder", account=CONSUMER)
    arn = container_recipe(ib, ami)["containerRecipeArn"]
    assert arn == f"arn:aws:imagebuilder:{REGION}:{CONSUMER}:container-recipe/svc/2.1.0"
    got = ib.get_container_recipe(containerRecipeArn=arn)["containerRecipe"]
    assert got["instanceConfiguration"] == {"image": ami} and got["containerType"] == "DOCKER"
    [summary] = ib.list_container_recipes(filters=[{"name": "instanceImage", "values": [ami]}])[
        "containerRecipeSummaryList"
    ]
    assert summary["arn"] == arn
    assert (
        ib.list_container_recipes(filters=[{"name": "name", "values": ["other"]}])["containerRecipeSummaryList"] == []
    )
    ib.delete_container_recipe(containerRecipeArn=arn)
    assert ib.list_container_recipes()["containerRecipeSummaryList"] == []


def test_refusals(aws):
    owner = aws("ec2")
    ami, private = register_ami(owner, "shared"), register_ami(owner, "private")
    share(owner, ami, CONSUMER)
    ib = aws("imagebuilder", account=CONSUMER)
    token = str(uuid.uuid4())
    first = image_recipe(ib, ami, clientToken=token)["imageRecipeArn"]
    assert image_recipe(ib, ami, clientToken=token)["imageRecipeArn"] == first  # an SDK retry
    cases = [
        (lambda: image_recipe(ib, ami, version="1.1.0", clientToken=token), "IdempotentParameterMismatchException"),
        (lambda: image_recipe(ib, ami), "ResourceAlreadyExistsException"),
        (lambda: image_recipe(ib, private, version="2.0.0"), "InvalidParameterValueException"),
        (lambda: image_recipe(ib, "ami-0123456789abcdef0", version="2.0.0"), "InvalidParameterValueException"),
        (lambda: image_recipe(ib, ami, version="1.x.0"), "InvalidVersionNumberException"),
        (lambda: image_recipe(ib, ami, version="3.0.0", dryRun=True), "DryRunOperationException"),
        (lambda: container_recipe(ib, private), "InvalidParameterValueException"),
        (
            lambda: ib.delete_container_recipe(containerRecipeArn=first.replace("image-", "container-")),
            "ResourceNotFoundException",
        ),
        (lambda: ib.list_image_recipes(nextToken="bogus"), "InvalidPaginationTokenException"),
        (
            lambda: ib.list_image_recipes(filters=[{"name": "colour", "values": ["x"]}]),
            "InvalidParameterValueException",
        ),
        (lambda: ib.list_images(), "InvalidRequestException"),  # not emulated
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code, code
    assert len(ib.list_image_recipes()["imageRecipeSummaryList"]) == 1  # nothing else was created


def test_list_pages_and_the_wire_is_rest_json(aws, endpoint):
    ami = register_ami(aws("ec2"))
    ib = aws("imagebuilder")
    arns = sorted(image_recipe(ib, ami, version=f"1.0.{n}")["imageRecipeArn"] for n in range(5))
    first = ib.list_image_recipes(maxResults=2)
    assert [s["arn"] for s in first["imageRecipeSummaryList"]] == arns[:2] and first["nextToken"]
    pages = ib.get_paginator("list_image_recipes").paginate(PaginationConfig={"PageSize": 2})
    assert [s["arn"] for p in pages for s in p["imageRecipeSummaryList"]] == arns
    raw = requests.get(
        endpoint + "/GetImageRecipe",
        params={"imageRecipeArn": arns[0]},
        headers={
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/imagebuilder/aws4_request, "
            "SignedHeaders=host, Signature=x"
        },
        timeout=10,
    )
    assert raw.status_code == 200 and raw.headers["Content-Type"] == "application/json"
    body = json.loads(raw.text)
    assert set(body) == {"requestId", "imageRecipe", "latestVersionReferences"}
    assert body["imageRecipe"]["arn"] == arns[0]


def test_the_aws_cli_creates_and_reads_a_recipe(aws, cli_env):
    import subprocess
    import sys
    from pathlib import Path

    ami = register_ami(aws("ec2"))
    cli = [str(Path(sys.executable).parent / "aws"), "imagebuilder", "--output", "json"]
    created = json.loads(
        subprocess.run(
            cli
            + [
                "create-image-recipe",
                "--name",
                "cli",
                "--semantic-version",
                "1.2.3",
                "--parent-image",
                ami,
                "--components",
                json.dumps(COMPONENT),
            ],
            env=cli_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    got = json.loads(
        subprocess.run(
            cli + ["get-image-recipe", "--image-recipe-arn", created["imageRecipeArn"]],
            env=cli_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert got["imageRecipe"]["parentImage"] == ami and got["imageRecipe"]["version"] == "1.2.3"
