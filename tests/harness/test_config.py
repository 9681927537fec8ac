"""Settings: environment over default, explicit argument over environment, typed values."""

import json
from pathlib import Path

from harness.config import ENV, STACK_FILE, Settings, read_dotenv


def test_defaults_match_the_contracts():
    s = Settings.from_env({})
    assert (s.aws_port, s.model_server_port) == (4566, 8080)
    assert s.endpoint_name == "scones-image-classifier"
    assert s.threshold == 0.93
    assert s.capture_destination == f"s3://{s.bucket}/data_capture"


def test_environment_is_typed_and_overrides_win():
    env = {
        "HARNESS_AWS_PORT": "4999",
        "SCONES_THRESHOLD": "0.5",
        "CAPTURE_ENABLED": "false",
        "SCONES_DATA_DIR": "/tmp/x",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
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


def test_sagemaker_control_plane_follows_the_mode(tmp_path):
    # embedded: the emulator serves SageMaker with everything else
    embedded = Settings.from_env({"HARNESS_MODE": "embedded"})
    assert embedded.sagemaker_api_url == embedded.aws_endpoint_url
    # docker: LocalStack's free edition has none; the sagemaker-api service answers instead
    docker = Settings.from_env({"HARNESS_MODE": "docker", "SAGEMAKER_API_PORT": "4999"})
    assert docker.sagemaker_api_url == "http://127.0.0.1:4999"
    # boto3's own variable wins locally (a LocalStack plan with SageMaker) ...
    pro = Settings.from_env(
        {"HARNESS_MODE": "docker", "AWS_ENDPOINT_URL_SAGEMAKER": "http://127.0.0.1:4566"}
    )
    assert pro.sagemaker_api_url == "http://127.0.0.1:4566"
    # ... and AWS is AWS
    assert (
        Settings.from_env({"HARNESS_TARGET": "aws", "HARNESS_MODE": "docker"}).sagemaker_api_url
        is None
    )


def test_auto_mode_reads_the_running_stacks_mode(tmp_path):
    s = Settings.from_env({"HARNESS_STATE_DIR": str(tmp_path)})
    assert s.running_mode == "embedded"  # nothing recorded
    (tmp_path / STACK_FILE).write_text(json.dumps({"mode": "docker"}))
    assert s.running_mode == "docker"
    assert s.sagemaker_api_url == f"http://127.0.0.1:{s.sagemaker_api_port}"
    (tmp_path / STACK_FILE).write_text("not json")
    assert s.running_mode == "embedded"


def test_dotenv_is_read_as_compose_reads_it(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        '# a comment\n\nLOCALSTACK_IMAGE="localstack/localstack:latest"\n'
        "export SCONES_DOCKER_NETWORK='my-net'\nBROKEN LINE\nEMPTY=\n"
    )
    assert read_dotenv(dotenv) == {
        "LOCALSTACK_IMAGE": "localstack/localstack:latest",
        "SCONES_DOCKER_NETWORK": "my-net",
        "EMPTY": "",
    }
    assert read_dotenv(tmp_path / "missing") == {}


def test_the_repositorys_dotenv_is_beneath_the_environment(tmp_path, monkeypatch):
    from harness import config

    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    (tmp_path / ".env").write_text("SCONES_DOCKER_NETWORK=from-dotenv\nSCONES_BUCKET=from-dotenv\n")
    monkeypatch.setenv("SCONES_BUCKET", "from-environment")
    s = Settings.from_env()
    assert (s.docker_network, s.bucket) == ("from-dotenv", "from-environment")
