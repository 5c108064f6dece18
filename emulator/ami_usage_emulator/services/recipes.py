"""EC2 Image Builder image and container recipes, per account and Region.

moto has no Image Builder.  The emulator holds recipes itself (``imagebuilder_api.py``
serves the real Image Builder actions on them) so that usage reports and
DescribeImageReferences can count the recipes that reference an AMI, from the same
state a test created through the API:

* an **image recipe** references the AMI named by its ``parentImage``;
* a **container recipe** references the AMI named by its
  ``instanceConfiguration.image`` (the build and test instance's base image; its
  ``parentImage`` is a container image, never an AMI).

A ``parentImage`` / ``instance image`` given as an Image Builder image ARN or an
``ssm:`` parameter is kept as given and references no AMI here (AWS resolves neither
for the emulator's purposes).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from ..wire import AwsError

IMAGE_RECIPE = "imagebuilder:ImageRecipe"
CONTAINER_RECIPE = "imagebuilder:ContainerRecipe"
KINDS = {"image": IMAGE_RECIPE, "container": CONTAINER_RECIPE}
ARN_KIND = {"image": "image-recipe", "container": "container-recipe"}


class ImageBuilderError(AwsError):
    """An Image Builder error; ``code`` is the error shape's name in botocore's model."""


def recipe_arn(kind: str, region: str, account: str, name: str, version: str) -> str:
    """``arn:aws:imagebuilder:<region>:<account>:image-recipe/<name>/<version>`` (container-recipe
    likewise); the name in an ARN is lower case with spaces as hyphens."""
    slug = name.lower().replace(" ", "-")
    return f"arn:aws:imagebuilder:{region}:{account}:{ARN_KIND[kind]}/{slug}/{version}"


@dataclass
class Recipe:
    kind: str  # "image" | "container"
    account: str
    region: str
    arn: str
    name: str
    version: str
    platform: str
    date_created: str
    body: dict[str, Any] = field(default_factory=dict)  # the request members the recipe keeps

    @property
    def resource_type(self) -> str:
        return KINDS[self.kind]

    def ami_id(self) -> str | None:
        """The AMI this recipe builds on, if it names one."""
        if self.kind == "image":
            image = self.body.get("parentImage")
        else:
            image = (self.body.get("instanceConfiguration") or {}).get("image")
        return image if isinstance(image, str) and image.startswith("ami-") else None

    def to_output(self) -> dict[str, Any]:
        """The ImageRecipe / ContainerRecipe structure, keyed by botocore member names."""
        out = {
            "arn": self.arn,
            "name": self.name,
            "platform": self.platform,
            "owner": self.account,
            "version": self.version,
            "dateCreated": self.date_created,
            **self.body,
        }
        out.pop("semanticVersion", None)
        if self.kind == "image":
            out["type"] = "AMI"
        else:
            out["encrypted"] = True  # Image Builder encrypts every Dockerfile template
        return out

    def summary(self) -> dict[str, Any]:
        out = {
            "arn": self.arn,
            "name": self.name,
            "platform": self.platform,
            "owner": self.account,
            "parentImage": self.body.get("parentImage"),
            "dateCreated": self.date_created,
            "tags": self.body.get("tags") or {},
        }
        if self.kind == "container":
            out["containerType"] = self.body.get("containerType")
            image = (self.body.get("instanceConfiguration") or {}).get("image")
            if image:
                out["instanceImage"] = image
        return out


def latest_version_references(arn: str) -> dict[str, str]:
    """The x-wildcard ARNs that resolve to this version (Image Builder's LatestVersionReferences)."""
    base, version = arn.rsplit("/", 1)
    major, minor, _patch = version.split(".")
    return {
        "latestVersionArn": f"{base}/x.x.x",
        "latestMajorVersionArn": f"{base}/{major}.x.x",
        "latestMinorVersionArn": f"{base}/{major}.{minor}.x",
        "latestPatchVersionArn": arn,
    }


class RecipeStore:
    """All recipes, per (account, region), with the clientToken memory (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._recipes: dict[tuple[str, str], dict[str, Recipe]] = {}
            self._tokens: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    def add(self, recipe: Recipe, client_token: str) -> str:
        """Store a new recipe, or replay a clientToken; returns the ARN."""
        fingerprint = json.dumps([recipe.kind, recipe.name, recipe.version, recipe.body], sort_keys=True)
        token_key = (recipe.account, recipe.region, recipe.kind, client_token)
        with self._lock:
            seen = self._tokens.get(token_key)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise ImageBuilderError(
                        "IdempotentParameterMismatchException",
                        f"The client token {client_token} was used with different parameters.",
                    )
                return seen[1]
            bucket = self._recipes.setdefault((recipe.account, recipe.region), {})
            if recipe.arn in bucket:
                raise ImageBuilderError(
                    "ResourceAlreadyExistsException", f"The resource ARN '{recipe.arn}' already exists."
                )
            bucket[recipe.arn] = recipe
            self._tokens[token_key] = (fingerprint, recipe.arn)
            return recipe.arn

    def get(self, kind: str, account: str, region: str, arn: str) -> Recipe:
        with self._lock:
            recipe = self._recipes.get((account, region), {}).get(arn)
        if recipe is None or recipe.kind != kind:
            raise ImageBuilderError("ResourceNotFoundException", f"The resource ARN '{arn}' does not exist.")
        return recipe

    def delete(self, kind: str, account: str, region: str, arn: str) -> None:
        self.get(kind, account, region, arn)
        with self._lock:
            self._recipes[(account, region)].pop(arn, None)

    def of_account(self, kind: str, account: str, region: str) -> list[Recipe]:
        """The account's recipes of one kind in the Region, by ARN."""
        with self._lock:
            recipes = list(self._recipes.get((account, region), {}).values())
        return sorted((r for r in recipes if r.kind == kind), key=lambda r: r.arn)

    def accounts(self, region: str) -> set[str]:
        with self._lock:
            return {account for (account, r), recipes in self._recipes.items() if r == region and recipes}

    def referencing(self, account: str, region: str, image_id: str) -> list[Recipe]:
        """The account's recipes (both kinds) that reference the AMI, by ARN."""
        with self._lock:
            recipes = list(self._recipes.get((account, region), {}).values())
        return sorted((r for r in recipes if r.ami_id() == image_id), key=lambda r: r.arn)
