"""JSON schema of ``/resource_classes`` bodies (also used to validate the
path name of ``PUT /resource_classes/{name}`` at ≥1.7)."""

CUSTOM_NAME = {
    'type': 'string',
    'pattern': '^CUSTOM_[A-Z0-9_]+$',
    'maxLength': 255,
}

POST = {
    'type': 'object',
    'properties': {'name': CUSTOM_NAME},
    'required': ['name'],
    'additionalProperties': False,
}

# The 1.2–1.6 rename body is the POST body.
PUT_RENAME = POST
