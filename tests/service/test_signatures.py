"""The providers' published signature vectors, checked against what the service computes."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from pipeline.service.webhooks_meta import signature_valid


def test_twilio_reference_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    signature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert RequestValidator("12345").compute_signature(url, params) == signature
    assert RequestValidator("12345").validate(url, params, signature)


def test_meta_reference_vector() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    header = "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756"
    assert signature_valid("test_app_secret", body, header)
    assert not signature_valid("other_secret", body, header)
    assert not signature_valid("test_app_secret", body + b" ", header)
