"""Fixtures of the TLS and token tests: one throwaway PKI per session."""

from __future__ import annotations

import pytest

from tests.support.certs import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA with server and client certificates, and an unrelated CA with a client of its own."""
    return make_pki(tmp_path_factory.mktemp("pki"))
