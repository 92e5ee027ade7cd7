"""Schemathesis hooks for infra/schemathesis (loaded by infra/schemathesis.toml).

`PATCH /v1/settings` takes a `sender_email` only at the deployment's verified
sending domain (`SenderDomain` in template.yaml; example.com on the local
stack), a rule no schema of this API can state. Schema-valid requests get an
address there, in every phase (the coverage phase ignores the config file's
body overrides); negative requests are left as generated.
"""

import os

import schemathesis

SENDER_EMAIL = os.environ.get("SCHEMATHESIS_SENDER_EMAIL", "billing@example.com")


@schemathesis.hook
def map_case(context, case):
    if case.operation.label != "PATCH /v1/settings":
        return case
    meta = case.meta
    positive = meta is None or meta.generation.mode.is_positive
    body = case.body
    if positive and isinstance(body, dict) and isinstance(body.get("sender_email"), str):
        case.body = {**body, "sender_email": SENDER_EMAIL}
    return case
