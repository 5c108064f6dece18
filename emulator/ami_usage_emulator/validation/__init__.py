"""Every request checked against botocore's model of its operation, before it is served.

``catalog.py`` finds the operation a request names (query ``Action``, JSON
``X-Amz-Target``, or a REST method and path) and parses its members with moto's
protocol parsers; ``shapes.py`` walks the input shape (required members, enums,
lengths, ranges, patterns); ``documented.py`` holds the valid values that only the
model's documentation states; ``validator.py`` answers a violation with the error code
of the service's protocol.
"""
