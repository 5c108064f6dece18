"""EC2 Image Builder's recipe actions, served on botocore's ``imagebuilder`` model (rest-json).

moto has no Image Builder, so requests signed for ``imagebuilder`` never reach moto: the
WSGI wrapper hands them here.  The operation is found from the HTTP method and path in
the model (``PUT /CreateImageRecipe`` …), the input read from the JSON body or the query
string as the model places each member, and the answer (or the error, with its modelled
HTTP status and ``X-Amzn-Errortype``) written by moto's rest-json serializer against the
operation's output shape.  Served: Create/Get/Delete/List of image and container
recipes.  Any other Image Builder operation answers ``InvalidRequestException`` naming
it (not emulated).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from moto.core.serialize import RestJSONSerializer
from moto.core.utils import get_service_model

from ..aws_request import AwsCall, buffer_body
from ..clock import Clock, rfc3339
from ..listing import InvalidToken, paginate
from ..moto_grafts.image_access import lookup, usable_by
from ..wire import serialized_response
from .recipes import ImageBuilderError, Recipe, RecipeStore, latest_version_references, recipe_arn

MODEL = get_service_model("imagebuilder")
NAME_RE = re.compile(r"^[-_A-Za-z-0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z-0-9]$")
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
# Members a recipe keeps and Get echoes (the rest - clientToken, dryRun - are request-only).
KEPT = {
    "image": (
        "description",
        "components",
        "parentImage",
        "blockDeviceMappings",
        "tags",
        "workingDirectory",
        "additionalInstanceConfiguration",
        "amiTags",
        "amiWatermarks",
    ),
    "container": (
        "containerType",
        "description",
        "components",
        "instanceConfiguration",
        "dockerfileTemplateData",
        "kmsKeyId",
        "parentImage",
        "tags",
        "workingDirectory",
        "targetRepository",
    ),
}
LIST_KEYS = {"image": "imageRecipeSummaryList", "container": "containerRecipeSummaryList"}
ARN_PARAM = {"image": "imageRecipeArn", "container": "containerRecipeArn"}


def _bad(message: str, code: str = "InvalidParameterValueException") -> ImageBuilderError:
    return ImageBuilderError(code, message)


def _visible_ami(account: str, region: str, image_id: str) -> Any:
    """The available AMI ``image_id`` if the account may use it (``image_access.usable_by``:
    owned, or shared with it, its organization or OU, or public)."""
    ami, _ = lookup(image_id, account, region)
    if ami is not None and usable_by(ami, account):
        return ami
    raise _bad(
        f"The value supplied for parameter 'parentImage' is not valid. The AMI '{image_id}' "
        "does not exist or is not available to this account."
    )


def _platform(kind: str, account: str, region: str, params: dict[str, Any]) -> str:
    image = params.get("parentImage") if kind == "image" else (params.get("instanceConfiguration") or {}).get("image")
    ami = _visible_ami(account, region, image) if isinstance(image, str) and image.startswith("ami-") else None
    if kind == "container":
        return str(params.get("platformOverride") or "Linux")
    return "Windows" if ami is not None and ami.platform == "windows" else "Linux"


def _validate_create(kind: str, params: dict[str, Any]) -> None:
    op = MODEL.operation_model("CreateImageRecipe" if kind == "image" else "CreateContainerRecipe")
    missing = [m for m in op.input_shape.required_members if params.get(m) in (None, "", [], {})]
    if missing:
        raise _bad(f"Missing required parameter(s): {', '.join(missing)}", "InvalidRequestException")
    if not isinstance(params["name"], str) or not NAME_RE.match(params["name"]):
        raise _bad(f"The value supplied for parameter 'name' is not valid: {params['name']!r}")
    if not isinstance(params["semanticVersion"], str) or not VERSION_RE.match(params["semanticVersion"]):
        raise _bad(
            f"The semantic version '{params['semanticVersion']}' is not valid: a recipe version "
            "must be <major>.<minor>.<patch>, non-negative integers",
            "InvalidVersionNumberException",
        )
    if kind == "container":
        if params["containerType"] != "DOCKER":
            raise _bad(f"The value supplied for parameter 'containerType' is not valid: {params['containerType']}")
        repo = params["targetRepository"]
        if not isinstance(repo, dict) or repo.get("service") != "ECR" or not repo.get("repositoryName"):
            raise _bad("targetRepository must name an ECR repository (service ECR, repositoryName)")
        if bool(params.get("dockerfileTemplateData")) == bool(params.get("dockerfileTemplateUri")):
            raise _bad(
                "You must specify exactly one of dockerfileTemplateData or dockerfileTemplateUri",
                "InvalidRequestException",
            )


def _matches(summary: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, values = f.get("name"), f.get("values") or []
        if name not in ("name", "parentImage", "platform", "containerType", "instanceImage"):
            raise _bad(f"The value supplied for parameter 'filters' is not valid: unknown filter {name!r}")
        if summary.get(name) not in values:
            return False
    return True


ACTIONS = {
    "CreateImageRecipe": ("_create", "image"),
    "CreateContainerRecipe": ("_create", "container"),
    "GetImageRecipe": ("_get", "image"),
    "GetContainerRecipe": ("_get", "container"),
    "DeleteImageRecipe": ("_delete", "image"),
    "DeleteContainerRecipe": ("_delete", "container"),
    "ListImageRecipes": ("_list", "image"),
    "ListContainerRecipes": ("_list", "container"),
}
ROUTES = {
    (MODEL.operation_model(n).http["method"], MODEL.operation_model(n).http["requestUri"].split("?")[0]): n
    for n in MODEL.operation_names
}


def _input(op: Any, environ: dict[str, Any]) -> dict[str, Any]:
    """The request's members: query-string ones by their location name, the rest from the JSON body."""
    raw = buffer_body(environ)
    params: dict[str, Any] = json.loads(raw) if raw.strip() else {}
    if not isinstance(params, dict):
        raise _bad("The request body is not a JSON object", "InvalidRequestException")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    for member, shape in op.input_shape.members.items():
        if shape.serialization.get("location") == "querystring" and shape.serialization.get("name") in query:
            params[member] = query[shape.serialization["name"]][0]
    return params


class ImageBuilderApi:
    """The recipe actions on ``recipes``, dated on ``clock``."""

    def __init__(self, recipes: RecipeStore, clock: Clock) -> None:
        self._recipes = recipes
        self._clock = clock

    def handle(self, call: AwsCall, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """Answer one Image Builder request."""
        name = ROUTES.get((call.method, call.path.rstrip("/") or "/"))
        op = MODEL.operation_model(name or "ListImageRecipes")
        result: Any
        try:
            if name not in ACTIONS:
                raise _bad(
                    f"The emulator does not implement Image Builder operation {name or call.path}",
                    "InvalidRequestException",
                )
            action, kind = ACTIONS[name]
            result = {"requestId": str(uuid.uuid4()), **getattr(self, action)(kind, call, _input(op, environ))}
        except ImageBuilderError as err:
            result = err
        except ValueError as err:
            result = _bad(f"The request is not valid: {err}", "InvalidRequestException")
        return serialized_response(RestJSONSerializer(op).serialize(result), start_response)

    def _create(self, kind: str, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        _validate_create(kind, params)
        platform = _platform(kind, call.account, call.region, params)
        if params.get("dryRun"):
            raise ImageBuilderError(
                "DryRunOperationException", "The request would have succeeded, but the dryRun parameter was set."
            )
        body = {k: params[k] for k in KEPT[kind] if params.get(k) is not None}
        if kind == "container" and params.get("dockerfileTemplateUri"):
            body["dockerfileTemplateData"] = f"(read once from {params['dockerfileTemplateUri']})"
        arn = recipe_arn(kind, call.region, call.account, params["name"], params["semanticVersion"])
        recipe = Recipe(
            kind=kind,
            account=call.account,
            region=call.region,
            arn=arn,
            name=params["name"],
            version=params["semanticVersion"],
            platform=platform,
            date_created=rfc3339(self._clock.now()),
            body=body,
        )
        arn = self._recipes.add(recipe, str(params["clientToken"]))
        return {
            "clientToken": params["clientToken"],
            ARN_PARAM[kind]: arn,
            "latestVersionReferences": latest_version_references(arn),
        }

    def _get(self, kind: str, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        recipe = self._recipes.get(kind, call.account, call.region, str(params.get(ARN_PARAM[kind]) or ""))
        key = "imageRecipe" if kind == "image" else "containerRecipe"
        return {key: recipe.to_output(), "latestVersionReferences": latest_version_references(recipe.arn)}

    def _delete(self, kind: str, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        arn = str(params.get(ARN_PARAM[kind]) or "")
        self._recipes.delete(kind, call.account, call.region, arn)
        return {ARN_PARAM[kind]: arn}

    def _list(self, kind: str, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        size = int(params.get("maxResults") or 100)
        if not 1 <= size <= 100:
            raise _bad(f"maxResults must be between 1 and 100, not {size}")
        owner = params.get("owner") or "Self"
        if owner not in ("Self", "Shared", "Amazon", "ThirdParty", "AWSMarketplace"):
            raise _bad(f"The value supplied for parameter 'owner' is not valid: {owner}")
        recipes = self._recipes.of_account(kind, call.account, call.region) if owner == "Self" else []
        summaries = [s for s in (r.summary() for r in recipes) if _matches(s, params.get("filters") or [])]
        try:
            page, token = paginate(summaries, lambda s: [s["arn"]], size, params.get("nextToken"), "recipes")
        except InvalidToken:
            raise ImageBuilderError("InvalidPaginationTokenException", "The pagination token is not valid.") from None
        out: dict[str, Any] = {LIST_KEYS[kind]: page}
        if token:
            out["nextToken"] = token
        return out
