"""Hosted-app caps: read from the environment or st.secrets, refused clearly when wrong, applied by the Train page."""


import pytest
from streamlit.testing.v1 import AppTest

from lenet.environment import Limits, read_environment, read_limits, VARIABLES
from helpers import TRAIN



def test_defaults_allow_everything_the_app_offers():
    assert read_limits({}, {}) == Limits(max_train_images=60_000, max_epochs=50, max_trainings=2)


def test_environment_wins_over_secrets():
    secrets = {"LENET_MAX_EPOCHS": 4, "LENET_MAX_TRAIN_IMAGES": 5000}
    environ = {"LENET_MAX_EPOCHS": "3", "LENET_MAX_TRAININGS": "1"}
    assert read_limits(secrets, environ) == Limits(max_train_images=5000, max_epochs=3, max_trainings=1)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "", True])
def test_bad_values_are_refused_with_the_variable_name(value):
    with pytest.raises(ValueError, match="LENET_MAX_EPOCHS must be a whole number of at least 1"):
        read_limits({"LENET_MAX_EPOCHS": value}, {})


def test_too_few_training_images_are_refused():
    with pytest.raises(ValueError, match="LENET_MAX_TRAIN_IMAGES .* at least 1,000"):
        read_limits({}, {"LENET_MAX_TRAIN_IMAGES": "500"})


def test_every_cap_has_a_variable():
    assert set(VARIABLES) == set(Limits.__dataclass_fields__)


def test_train_page_applies_caps_from_secrets(monkeypatch):
    for name in VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.secrets["LENET_MAX_TRAIN_IMAGES"] = 8000
    at.secrets["LENET_MAX_EPOCHS"] = 3
    at.run()
    assert not at.exception
    assert at.select_slider(key="images").options == ["1,000", "2,000", "5,000", "8,000"]  # labels of 1000...8000
    assert at.select_slider(key="images").value == 8000  # the classic recipe's 60,000, capped
    epochs = at.number_input(key="epochs")
    assert epochs.value == 3 and epochs.max == 3  # the classic recipe's 10 epochs, capped
    assert any("at most 8,000 images for at most 3 epochs" in c.value for c in at.caption)


def test_a_wrong_cap_is_explained_on_the_page(monkeypatch):
    monkeypatch.setenv("LENET_MAX_EPOCHS", "lots")
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    assert not at.exception
    assert any("LENET_MAX_EPOCHS must be a whole number" in e.value for e in at.error)


def test_the_cluster_and_queue_default_to_this_process_one_cpu_and_thirty_waiting():
    environment = read_environment({}, {})
    assert (environment.ray_address, environment.ray_cpus, environment.ray_gpus, environment.max_queued) == \
        (None, 1, 0.0, 30)


def test_the_cluster_comes_from_the_environment_or_the_secrets_and_empty_means_unset():
    secrets = {"LENET_RAY_ADDRESS": "ray://head:10001", "LENET_MAX_QUEUE": 5, "LENET_RAY_GPUS": 0.25}
    environment = read_environment(secrets, {"LENET_RAY_ADDRESS": " 10.0.0.2:6379 ", "LENET_RAY_CPUS": "2"})
    assert (environment.ray_address, environment.ray_cpus, environment.ray_gpus, environment.max_queued) == \
        ("10.0.0.2:6379", 2, 0.25, 5)
    assert read_environment(secrets, {"LENET_RAY_ADDRESS": ""}).ray_address == "ray://head:10001"
    assert read_environment({}, {"LENET_RAY_ADDRESS": "  "}).ray_address is None


@pytest.mark.parametrize("name, value, sentence", [
    ("LENET_RAY_CPUS", "0", "LENET_RAY_CPUS must be a whole number of at least 1, not '0'."),
    ("LENET_RAY_CPUS", "1.5", "LENET_RAY_CPUS must be a whole number of at least 1, not '1.5'."),
    ("LENET_MAX_QUEUE", "none", "LENET_MAX_QUEUE must be a whole number of at least 1, not 'none'."),
    ("LENET_RAY_GPUS", "-1", "LENET_RAY_GPUS must be a number of GPUs from 0 to 64 (0.5 shares one), not '-1'."),
    ("LENET_RAY_GPUS", "nan", "LENET_RAY_GPUS must be a number of GPUs from 0 to 64 (0.5 shares one), not 'nan'."),
])
def test_a_wrong_cluster_setting_is_one_sentence_naming_it(name, value, sentence):
    with pytest.raises(ValueError) as raised:
        read_environment({}, {name: value})
    assert str(raised.value) == sentence
