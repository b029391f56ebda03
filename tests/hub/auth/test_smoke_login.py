"""Sign-in from invitation to full session, through the pages."""

from __future__ import annotations

from tests.hub.auth.conftest import login


def test_login_with_password_and_totp_reaches_account_page(app, clock, make_account) -> None:
    account = make_account("principal", ["hs-1"])
    client = app.test_client()
    response = login(client, account, clock)
    assert response.status_code == 302
    page = client.get("/auth/account")
    assert page.status_code == 200
    assert account.username in page.get_data(as_text=True)
