"""Makes the fixtures in fixtures/ available to every test and scenario."""

pytest_plugins = ["fixtures.lab"]
