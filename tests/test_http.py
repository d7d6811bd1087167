"""A real HTTP push: nginx with basic authentication in front of git http-backend (via
fcgiwrap), on loopback. The web server sets REMOTE_USER from the login, git passes it
to receive-pack, and the pre-receive hook's ``pushers`` rule sees who is pushing.
"""

from __future__ import annotations

from servers import http_push

from conftest import World


def test_alice_promotes_over_http_and_bob_is_declined(web: tuple[World, str]) -> None:
    world, address = web
    world.tag("churn@v1.0.0")
    ok, output = http_push(world, address, "bob", "refs/tags/churn@v1.0.0")
    assert ok, output  # registering is not restricted
    world.tag("churn#prod#1", "churn@v1.0.0^{commit}")
    before = world.server_snapshot()
    ok, output = http_push(world, address, "bob", "refs/tags/churn#prod#1")
    assert not ok
    assert "[pusher-not-allowed]" in output and "bob (from REMOTE_USER)" in output, output
    assert world.server_snapshot() == before
    ok, output = http_push(world, address, None, "refs/tags/churn#prod#1")
    assert not ok and "could not read Username" in output  # the web server asked for a login
    ok, output = http_push(world, address, "alice", "refs/tags/churn#prod#1")
    assert ok, output
    assert "churn#prod#1" in world.server_tags()
