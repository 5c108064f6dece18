"""ami-usage-reporter's local AWS emulator.

moto's server (EC2, S3, SNS, SQS, STS, multi-account) extended in-process with
EC2's four image-usage-report actions, AWS-like fault injection and a small
JSON control API under ``/_emulator/``.  See ``emulator/README.md``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
