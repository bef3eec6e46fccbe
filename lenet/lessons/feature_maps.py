"""What the Inspect page computes, as code: one image through the chosen model, every layer's feature maps kept."""

from __future__ import annotations

from pathlib import Path

from ..core.model import LeNetConfig
from .training import input_code, model_code


def feature_maps_code(config: LeNetConfig, run_dir: str | None, dataset: str, test_index: int | None,
                      box: int = 28) -> str:
    """The feature maps of test image `test_index` (None: an uploaded picture) for the model saved in the run folder
    run_dir (None: an untrained model); leaves model, image and maps (layer name -> channels x height x width)."""
    if run_dir is None:
        load = "# an untrained model: the random weights PyTorch starts from (the page's own draw differs)\n"
    else:
        weights = str(Path(run_dir) / "model.pt")
        load = f"model.load_state_dict(torch.load({weights!r}, weights_only=True))  # the run's weights\n"
    if test_index is None:
        image = ("from lenet.data.images import load_uploaded_image  # made to look like the dataset: grey, centred\n"
                 f'image, _ = load_uploaded_image(open("your-picture.png", "rb").read(), {box})  # 28 x 28 uint8 pixels')
    else:
        image = ("from lenet.data import load_split\n"
                 f'image = load_split("{dataset}", train=False).images[{test_index}]  # test image {test_index}, uint8 pixels')
    return f'''from collections import OrderedDict

import torch
from torch import nn

{model_code(config)}{load}model.eval()
{image}
{input_code(config)}
maps = {{}}
x = to_input(image[None])  # a batch of one: 1 x 1 x height x width
with torch.no_grad():
    for name, layer in model.named_children():
        x = layer(x)
        if x.dim() != 4:  # flatten: from here on the outputs are no longer images
            break
        maps[name] = x[0]  # channels x height x width
for name, fmap in maps.items():
    print(name, " x ".join(map(str, fmap.shape)))
'''
