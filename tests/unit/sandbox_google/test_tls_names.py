"""The sandbox certificate names the hosts other containers reach it by (``--tls-name``)."""

from __future__ import annotations

import argparse

import pytest
from cryptography import x509

from services.sandbox_google.config import ConfigError
from services.sandbox_google.entrypoints.cli import add_arguments, config_from_args
from services.sandbox_google.tls import new_identity

REQUIRED = ["--cert-dir", "/tmp/certs", "--access-token", "TOK", "--customer", "1234567890"]


def _config(*extra: str):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args([*REQUIRED, *extra]))


def _dns_names(cert_pem: bytes) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def test_certificate_is_valid_for_each_named_host_besides_localhost() -> None:
    config = _config("--tls-name", "sandbox-google", "--tls-name", "sandbox.internal")
    _, cert_pem = new_identity(config.tls_names)
    assert _dns_names(cert_pem) == ["localhost", "sandbox-google", "sandbox.internal"]


def test_without_names_the_certificate_is_for_localhost_only() -> None:
    assert _dns_names(new_identity()[1]) == ["localhost"]


@pytest.mark.parametrize("name", ["two words", "-leading-dash", "a..b", ""])
def test_a_name_that_is_not_a_host_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="--tls-name"):
        _config(f"--tls-name={name}")
