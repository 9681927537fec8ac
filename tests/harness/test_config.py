"""Settings: environment over default, explicit argument over environment, typed values."""

from pathlib import Path

from harness.config import ENV, Settings


def test_defaults_match_the_contracts():
    s = Settings.from_env({})
    assert (s.aws_port, s.model_server_port) == (4566, 8080)
    assert s.endpoint_name == "scones-image-classifier"
    assert s.threshold == 0.93
    assert s.capture_destination == f"s3://{s.bucket}/data_capture"


def test_environment_is_typed_and_overrides_win():
    env = {"HARNESS_AWS_PORT": "4999", "SCONES_THRESHOLD": "0.5", "CAPTURE_ENABLED": "false",
           "SCONES_DATA_DIR": "/tmp/x", "AWS_DEFAULT_REGION": "eu-west-1"}
    s = Settings.from_env(env, threshold=0.7)
    assert s.aws_port == 4999 and s.threshold == 0.7 and s.capture_enabled is False
    assert s.data_dir == Path("/tmp/x") and s.region == "eu-west-1"
    assert s.aws_endpoint_url == "http://127.0.0.1:4999"


def test_aws_target_has_no_local_endpoint():
    assert Settings.from_env({"HARNESS_TARGET": "aws"}).aws_endpoint_url is None


def test_as_environ_round_trips():
    s = Settings.from_env({}, aws_port=1234, capture_enabled=False, threshold=0.8)
    back = Settings.from_env(s.as_environ())
    assert back == s
    assert set(s.as_environ()) == set(ENV)


def test_stack_polls_the_emulators_own_health_route():
    from harness.emulator import HEALTH_PATH
    from harness.stack import embedded

    assert embedded.HEALTH_PATH == HEALTH_PATH


def test_listed_images_give_keys_labels_and_paths(data_dir):
    from harness.dataset import listed_images

    images = listed_images(data_dir)
    assert len(images) == 200 and {i.label for i in images} == {0, 1}
    assert all(i.key.startswith("test/") and i.path.is_file() for i in images)


def test_missing_listing_says_where_to_get_the_data(tmp_path):
    import pytest

    from harness.dataset import listed_images
    from harness.errors import HarnessError

    with pytest.raises(HarnessError) as err:
        listed_images(tmp_path)
    assert "SCONES_DATA_DIR" in err.value.hint
