"""Expand template.yaml's SAM transform offline, as CloudFormation would.

Runs with the LINT venv's python (it needs aws-sam-translator and cfn-lint, which are in
requirements-lint.txt, not in the test venv):

    "$(scripts/lint-env)/python" tests/support/sam_transform.py template.yaml out.json

The function's local CodeUri is replaced by a placeholder S3 location first (sam build /
sam package do the same with the real artifact); nothing is sent anywhere.
"""

from __future__ import annotations

import json
import os
import sys


def main(template_path: str, out_path: str) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    template, matches = decode(template_path)
    if matches:
        for m in matches:
            print(m, file=sys.stderr)
        return 1
    template = json.loads(json.dumps(template, default=str))
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/ami-usage-reporter.zip"

    class _NoManagedPolicies:
        # The template uses no managed policy names, so none need to be looked up.
        def load(self):
            return {}

    expanded = transform(template, {}, _NoManagedPolicies())
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(expanded, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
