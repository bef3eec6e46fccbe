"""Inspect's "Show the code": the snippet loads a run's model.pt and gives Inspect's own feature maps."""

import pytest
import torch

from lenet import LeNetConfig, build_lenet, init_weights
from lenet.data import load_split
from lenet.inspection import feature_maps
from lenet.lessons.feature_maps import feature_maps_code
from lenet.training import TrainSettings, save_run
from helpers import HISTORY, run_snippet


@pytest.mark.parametrize("config", [LeNetConfig.classic(), LeNetConfig.modern(),
                                    LeNetConfig(conv_channels=(4, 8, 8), kernel_sizes=(3, 3, 3), paddings=(1, 1, 1),
                                                strides=(1, 1, 1), pool_after=(True, False, True), activation="tanh")])
def test_feature_map_snippet_gives_inspects_maps_for_a_saved_run(tmp_path, config):
    torch.manual_seed(1)
    model = init_weights(build_lenet(config), "xavier").eval()
    run_dir = save_run(tmp_path / "run", config, TrainSettings(), HISTORY, model)
    found = run_snippet(feature_maps_code(config, str(run_dir), "fashion-mnist", 7))
    expected = feature_maps(model, load_split("fashion-mnist", train=False).images[7])
    assert list(found["maps"]) == list(expected)
    for name, fmap in expected.items():
        assert torch.allclose(found["maps"][name], fmap, atol=1e-6), name


def test_feature_map_snippet_for_an_untrained_model_or_a_picture_says_so():
    code = feature_maps_code(LeNetConfig.classic(), None, "mnist", None, box=20)
    assert "load_state_dict" not in code and "untrained model" in code
    assert "load_uploaded_image(" in code and ", 20)" in code and "load_split" not in code
